/**
 * The one gate for JSON control messages from the network (signalling and the
 * relay's control channel): size in UTF-8 bytes and nesting depth are checked
 * before JSON.parse, and only a plain object passes.
 */

export type JsonRefusal = { error: 'too-large' | 'too-deep' | 'bad-json' | 'not-object' }

export type JsonObject = { ok: true; value: Record<string, unknown> } | ({ ok: false } & JsonRefusal)

export function parseJsonObject(raw: string, maxBytes: number, maxDepth: number): JsonObject {
  // Every UTF-16 unit is at least one UTF-8 byte and at most three: the cheap checks decide most cases.
  if (raw.length > maxBytes || (raw.length * 3 > maxBytes && utf8Length(raw) > maxBytes)) return { ok: false, error: 'too-large' }
  if (jsonDepthExceeds(raw, maxDepth)) return { ok: false, error: 'too-deep' }
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch {
    return { ok: false, error: 'bad-json' }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, error: 'not-object' }
  return { ok: true, value: v as Record<string, unknown> }
}

/** UTF-8 byte length of a string without allocating. */
export function utf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4
        i++
      } else n += 3
    } else n += 3
  }
  return n
}

/**
 * Whether JSON text nests objects/arrays deeper than `limit`, found by scanning
 * before JSON.parse (deep nesting overflows the stack later, in stringify).
 */
export function jsonDepthExceeds(s: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped char
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}
