/**
 * base64url without padding (RFC 4648 §5), the textual form of keys, ids and
 * secrets throughout Stoop. Decoding is strict: anything outside the alphabet,
 * or a length that cannot come from the encoder, returns `null` (never throws).
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const LOOKUP = new Int16Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i

const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0))

/**
 * Encodes bytes as unpadded base64url. Builds the string in one go (not by
 * concatenation) so ids come out as flat strings: they are Map keys in hot loops.
 */
export function toBase64url(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil((bytes.length * 4) / 3))
  let o = 0
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out[o++] = CODES[(n >> 18) & 63]!
    out[o++] = CODES[(n >> 12) & 63]!
    out[o++] = CODES[(n >> 6) & 63]!
    out[o++] = CODES[n & 63]!
  }
  const rest = bytes.length - i
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0)
    out[o++] = CODES[(n >> 18) & 63]!
    out[o++] = CODES[(n >> 12) & 63]!
    if (rest === 2) out[o++] = CODES[(n >> 6) & 63]!
  }
  // fromCharCode.apply takes at most ~65k arguments: build long strings in slices.
  let text = ''
  for (let at = 0; at < o; at += 0x8000) text += String.fromCharCode.apply(null, out.subarray(at, Math.min(o, at + 0x8000)) as unknown as number[])
  return text
}


/** Decodes unpadded base64url; `null` on any invalid character or length. */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (text.length % 4 === 1) return null
  const out = new Uint8Array(Math.floor((text.length * 3) / 4))
  let bits = 0
  let acc = 0
  let o = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    const v = c < 128 ? LOOKUP[c]! : -1
    if (v < 0) return null
    acc = (acc << 6) | v
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  // Leftover bits must be zero, otherwise two strings would decode to the same bytes.
  if ((acc & ((1 << bits) - 1)) !== 0) return null
  return out
}
