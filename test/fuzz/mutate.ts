/**
 * The seeded mutation fuzzer: a small PRNG and havoc-style mutators over bytes and strings.
 *
 * Determinism: everything here draws from one `Rng`, so a (seed, corpus) pair replays the same
 * inputs. The mutators are the usual ones (bit flips, interesting values, insertions, deletions,
 * range duplication, crossover with another corpus element) plus a few aimed at this project's
 * formats: huge and non-canonical lib0 varuints (every binary format here is lib0), 32-bit
 * little-endian sizes (RIFF chunks) and JSON/URL tokens for the text protocols.
 */

/** sfc32: small, fast, good enough for fuzzing; not for anything secret. */
export class Rng {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor(seed: number) {
    this.#a = 0x9e3779b9
    this.#b = 0x243f6a88
    this.#c = 0xb7e15162
    this.#d = seed >>> 0
    for (let i = 0; i < 16; i++) this.u32()
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0
    this.#d = (this.#d + 1) | 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) | 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#c = (this.#c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.u32() / 0x1_0000_0000) * n)
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff
    return out
  }

  /** Small lengths are much likelier than large ones. */
  len(max: number): number {
    return Math.min(max, this.int(1 << (1 + this.int(Math.ceil(Math.log2(Math.max(2, max)))))))
  }
}

const INTERESTING_8 = [0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x10, 0x20, 0x40]
const INTERESTING_32 = [0, 1, 2, 16, 36, 40, 44, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]
/** lib0 varuints: the largest safe ones, an overlong zero, a never-ending one, one past 2^53. */
const VARUINTS = [
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0x80, 0x00],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
  [0xfd, 0xff, 0xff, 0xff, 0x7f],
].map((b) => Uint8Array.from(b))

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** How long a mutation may grow its input: mostly small (fast cases), now and then up to the cap. */
function growth(rng: Rng, maxLen: number): number {
  return rng.chance(0.05) ? maxLen : Math.min(maxLen, 2048)
}

type ByteMutator = (rng: Rng, data: Uint8Array, corpus: readonly Uint8Array[], maxLen: number) => Uint8Array

const BYTE_MUTATORS: ByteMutator[] = [
  // Flip one bit.
  (rng, d) => {
    if (d.length === 0) return rng.bytes(1)
    const out = d.slice()
    out[rng.int(out.length)]! ^= 1 << rng.int(8)
    return out
  },
  // Set a byte to a random or interesting value.
  (rng, d) => {
    if (d.length === 0) return Uint8Array.of(rng.pick(INTERESTING_8))
    const out = d.slice()
    out[rng.int(out.length)] = rng.chance(0.5) ? rng.pick(INTERESTING_8) : rng.u32() & 0xff
    return out
  },
  // Add or subtract a little.
  (rng, d) => {
    if (d.length === 0) return d
    const out = d.slice()
    const at = rng.int(out.length)
    out[at] = (out[at]! + rng.int(33) - 16) & 0xff
    return out
  },
  // Overwrite 32 bits, little- or big-endian.
  (rng, d) => {
    if (d.length < 4) return concat(d, rng.bytes(4))
    const out = d.slice()
    new DataView(out.buffer).setUint32(rng.int(out.length - 3), rng.pick(INTERESTING_32), rng.chance(0.7))
    return out
  },
  // Insert random bytes.
  (rng, d) => {
    const at = rng.int(d.length + 1)
    return concat(d.subarray(0, at), rng.bytes(1 + rng.len(32)), d.subarray(at))
  },
  // Insert or overwrite with a varuint.
  (rng, d) => {
    const at = rng.int(d.length + 1)
    const v = rng.pick(VARUINTS)
    return rng.chance(0.5) ? concat(d.subarray(0, at), v, d.subarray(at)) : concat(d.subarray(0, at), v, d.subarray(Math.min(d.length, at + v.length)))
  },
  // Delete a range.
  (rng, d) => {
    if (d.length === 0) return d
    const at = rng.int(d.length)
    return concat(d.subarray(0, at), d.subarray(at + 1 + rng.len(d.length - at)))
  },
  // Truncate.
  (rng, d) => d.subarray(0, rng.int(d.length + 1)).slice(),
  // Repeat a range (counts and lengths that lie, repeated structs).
  (rng, d, _c, maxLen) => {
    if (d.length === 0) return d
    const at = rng.int(d.length)
    const piece = d.subarray(at, at + 1 + rng.len(Math.min(64, d.length - at)))
    const times = 1 + rng.len(Math.max(1, Math.floor((growth(rng, maxLen) - d.length) / Math.max(1, piece.length))))
    const parts: Uint8Array[] = [d.subarray(0, at)]
    for (let i = 0; i < times; i++) parts.push(piece)
    parts.push(d.subarray(at))
    return concat(...parts)
  },
  // Copy a range over another place.
  (rng, d) => {
    if (d.length < 2) return d
    const n = 1 + rng.len(d.length - 1)
    const from = rng.int(d.length - n + 1)
    const out = d.slice()
    out.set(d.subarray(from, from + n), rng.int(d.length - n + 1))
    return out
  },
  // Crossover: our head, another element's tail.
  (rng, d, corpus) => {
    const other = rng.pick(corpus)
    return concat(d.subarray(0, rng.int(d.length + 1)), other.subarray(rng.int(other.length + 1)))
  },
  // Insert a piece of another corpus element.
  (rng, d, corpus) => {
    const other = rng.pick(corpus)
    const from = rng.int(other.length + 1)
    const at = rng.int(d.length + 1)
    return concat(d.subarray(0, at), other.subarray(from, from + 1 + rng.len(other.length - from)), d.subarray(at))
  },
]

/** Applies 1 to 16 stacked byte mutations to a corpus element (havoc). */
export function mutateBytes(rng: Rng, corpus: readonly Uint8Array[], maxLen: number): Uint8Array {
  let d = corpus.length > 0 ? rng.pick(corpus) : new Uint8Array(0)
  const rounds = 1 << rng.int(5)
  for (let i = 0; i < rounds; i++) {
    d = rng.pick(BYTE_MUTATORS)(rng, d, corpus.length > 0 ? corpus : [d], maxLen)
    if (d.length > maxLen) d = d.subarray(0, maxLen)
  }
  return d
}

const utf8 = new TextEncoder()
const utf8Lossy = new TextDecoder()

/** Tokens every text format here meets: JSON syntax, odd numbers, odd strings. */
const JSON_TOKENS = [
  '{', '}', '[', ']', '"', ':', ',', '\\', '\\u', '\\ud800', '\\udc00', '\\u0000', 'null', 'true', 'false', '0', '-0', '1e999', '-1e999',
  '9e20', '1e-400', '9007199254740993', '0.1', '1E+2', '"__proto__"', '{"__proto__":{"x":1}}', '"constructor"', '"toString"', '""',
  '"type"', '"publish"', '"topic"', '"data"', '"clients"', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', ']]]]]]]]]]]]]]]]', '\u0000', '\ud800', '\udfff',
  '\ufeff', '\u2028', '\uffff', '😀', ' ', '\n', '\t',
]

/** Where a JSON value or a URL component is likely to sit. */
const SLOT = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[A-Za-z0-9_-]{8,}/g

type StringMutator = (rng: Rng, s: string, tokens: readonly string[], corpus: readonly string[], maxLen: number) => string

const STRING_MUTATORS: StringMutator[] = [
  // Insert a token.
  (rng, s, tokens) => {
    const at = rng.int(s.length + 1)
    return s.slice(0, at) + rng.pick(tokens) + s.slice(at)
  },
  // Replace a value-looking slot with a token or another slot.
  (rng, s, tokens) => {
    const slots = [...s.matchAll(SLOT)]
    if (slots.length === 0) return s + rng.pick(tokens)
    const m = rng.pick(slots)
    const other = rng.pick(slots)[0]
    return s.slice(0, m.index) + (rng.chance(0.7) ? rng.pick(tokens) : other) + s.slice(m.index + m[0].length)
  },
  // Random UTF-16 code units, lone surrogates included.
  (rng, s) => {
    const at = rng.int(s.length + 1)
    let ins = ''
    for (let i = 1 + rng.len(8); i > 0; i--) ins += String.fromCharCode(rng.chance(0.5) ? rng.int(0x80) : rng.int(0x10000))
    return s.slice(0, at) + ins + s.slice(at)
  },
  // Delete a range of code units (may split a surrogate pair).
  (rng, s) => {
    const at = rng.int(s.length + 1)
    return s.slice(0, at) + s.slice(at + 1 + rng.len(s.length - at))
  },
  // Repeat a range, up to the length cap.
  (rng, s, _t, _c, maxLen) => {
    if (s.length === 0) return s
    const at = rng.int(s.length)
    const piece = s.slice(at, at + 1 + rng.len(Math.min(64, s.length - at)))
    const times = 1 + rng.len(Math.max(1, Math.floor((growth(rng, maxLen) - s.length) / piece.length)))
    return s.slice(0, at) + piece.repeat(times) + s.slice(at)
  },
  // Crossover with another corpus element.
  (rng, s, _t, corpus) => {
    const other = rng.pick(corpus)
    return s.slice(0, rng.int(s.length + 1)) + other.slice(rng.int(other.length + 1))
  },
  // Nest the whole thing (now and then deeper than any stack).
  (rng, s, _t, _c, maxLen) => {
    const depth = 1 + rng.len(rng.chance(0.05) ? maxLen / 2 : 64)
    return rng.chance(0.5) ? '['.repeat(depth) + s + ']'.repeat(depth) : '{"a":'.repeat(depth) + s + '}'.repeat(depth)
  },
  // Byte-level mutation of the UTF-8 form, decoded back leniently (what a socket delivers).
  (rng, s, _t, _c, maxLen) => utf8Lossy.decode(mutateBytes(rng, [utf8.encode(s)], maxLen * 3)),
]

/** Applies 1 to 8 stacked string mutations to a corpus element, with the target's own tokens. */
export function mutateString(rng: Rng, corpus: readonly string[], tokens: readonly string[], maxLen: number): string {
  let s = corpus.length > 0 ? rng.pick(corpus) : ''
  const all = tokens.length > 0 && rng.chance(0.5) ? tokens : JSON_TOKENS
  const rounds = 1 << rng.int(4)
  for (let i = 0; i < rounds; i++) {
    s = rng.pick(STRING_MUTATORS)(rng, s, all, corpus.length > 0 ? corpus : [s], maxLen)
    if (s.length > maxLen) s = s.slice(0, maxLen)
  }
  return s
}
