/**
 * SRTP protection of outgoing RTP with the session keys set up once: the
 * forwarder's per-packet crypto (RFC 3711 AES_CM_128_HMAC_SHA1_80 and RFC 7714
 * AEAD_AES_128_GCM, the two profiles werift negotiates).
 *
 * Why not werift's: it builds a Node cipher per packet (a fresh key schedule,
 * for GCM a fresh GHASH table, five native calls) and for AES-CM a fresh HMAC.
 * Here one AES-ECB cipher per key turns counter blocks into keystream (ECB
 * keeps no state between blocks, so one object serves every packet); a
 * stream's sequence numbers are predictable, so one native call makes the
 * keystream of its next 16 packets. GHASH runs in JavaScript over an 8-bit
 * table computed once per key (Shoup's method, 4 KB), and HMAC-SHA1 is two
 * one-shot hashes over the key's padded blocks, kept ready.
 *
 * Keystream reuse is werift's own: a (SSRC, rollover counter, sequence number)
 * gets the same counter blocks as in werift, so nothing is encrypted under a
 * counter werift would not have used. A window is dropped when the rollover
 * counter changes and never spans the sequence number wrap.
 *
 * Invariant: the output is byte for byte what werift's SrtpSession.encrypt
 * makes for the same keys, header, payload and rollover counter
 * (test/integration/sfu-srtp.test.ts checks both profiles against it).
 */
import { createCipheriv, hash, type Cipher } from 'node:crypto'

export type SrtpProfile = 'aes-cm-hmac-sha1-80' | 'aead-aes-128-gcm'

/** Session keys (after the RFC 3711 key derivation), as werift's SRTP context holds them. */
export interface SrtpSessionKeys {
  profile: SrtpProfile
  /** 16 bytes. */
  key: Uint8Array
  /** 14 bytes (AES-CM) or 12 (GCM; longer is cut). */
  salt: Uint8Array
  /** 20 bytes, AES-CM only. */
  authKey?: Uint8Array
}

/** Bytes added after the payload: the authentication tag. */
export function srtpOverhead(profile: SrtpProfile): number {
  return profile === 'aead-aes-128-gcm' ? 16 : 10
}

/** Packets whose keystream one AES call makes (per stream; 16 packets of 7 blocks: 3.5 KB with its counters). */
const WINDOW = 16

/** One stream's keystream for packets base .. base + count - 1, `blocks` AES blocks each. */
interface KeyWindow {
  roc: number
  blocks: number
  base: number
  count: number
  counters: Buffer
  ks: Buffer | null
  /** Where the packet asked for last starts in `ks`. */
  at: number
}

export class SrtpEncryptor {
  readonly profile: SrtpProfile
  /** Bytes the tag adds after the payload. */
  readonly overhead: number
  private readonly ecb: Cipher
  private readonly salt: Uint8Array
  /** AES-CM: HMAC key XOR ipad, then room for the message (grown on demand). */
  private inner: Buffer = Buffer.alloc(0)
  /** AES-CM: HMAC key XOR opad, then the inner digest. */
  private readonly outer: Buffer = Buffer.alloc(0)
  /** GCM: 256 entries of b·H, four 32-bit words each. */
  private readonly table = new Int32Array(1024)
  /** GCM: the GHASH state while a packet is sealed. */
  private readonly x = new Int32Array(4)
  /** Keystream windows per SSRC (see window). */
  private readonly windows = new Map<number, KeyWindow>()

  constructor(keys: SrtpSessionKeys) {
    if (keys.key.length !== 16) throw new RangeError('SRTP key must be 16 bytes')
    this.profile = keys.profile
    this.overhead = srtpOverhead(keys.profile)
    this.ecb = createCipheriv('aes-128-ecb', keys.key, null)
    this.ecb.setAutoPadding(false)
    if (keys.profile === 'aead-aes-128-gcm') {
      if (keys.salt.length < 12) throw new RangeError('SRTP GCM salt must be 12 bytes')
      this.salt = keys.salt.slice(0, 12)
      ghashTable(this.ecb.update(Buffer.alloc(16)), this.table)
    } else {
      if (keys.salt.length !== 14 || keys.authKey?.length !== 20) throw new RangeError('SRTP AES-CM needs a 14-byte salt and a 20-byte auth key')
      this.salt = keys.salt.slice()
      this.inner = padBlock(keys.authKey, 0x36, 64 + 1500)
      this.outer = padBlock(keys.authKey, 0x5c, 64 + 20)
    }
  }

  /**
   * Protects one packet in `out`: `out[0, headerLength)` already holds the RTP
   * header; the encrypted `payload` and the tag are written after it, so `out`
   * must be `headerLength + payload.length + overhead` bytes long.
   */
  seal(out: Buffer, headerLength: number, payload: Uint8Array, ssrc: number, seq: number, roc: number): void {
    const n = payload.length
    const gcm = this.profile === 'aead-aes-128-gcm'
    // GCM's block 0 is J0, which masks the tag; its keystream starts at block 1.
    const first = gcm ? 1 : 0
    const w = this.window(ssrc, roc, seq, first + ((n + 15) >>> 4))
    const ks = w.ks!
    const at = w.at
    for (let i = 0, k = at + (first << 4); i < n; i++, k++) out[headerLength + i] = payload[i]! ^ ks[k]!
    if (gcm) ghashTag(this.table, this.x, out, headerLength, n, ks, at, out, headerLength + n)
    else this.hmacTag(out, headerLength + n, roc)
  }

  /**
   * The keystream window of stream `ssrc` holding packet `seq` (its blocks start at
   * `window.at`). A stream's sequence numbers run on one by one, so one native AES call
   * makes the keystream of the next WINDOW packets; a packet outside the window (a gap,
   * a wrap, a longer payload) starts a new one.
   */
  private window(ssrc: number, roc: number, seq: number, blocks: number): KeyWindow {
    let w = this.windows.get(ssrc)
    if (!w || w.roc !== roc || w.blocks < blocks) {
      // A connection carries a handful of SSRCs; a runaway set is dropped rather than kept.
      if (this.windows.size >= 64) this.windows.clear()
      const size = Math.max(blocks, w?.blocks ?? 0)
      w = { roc, blocks: size, base: -1, count: 0, counters: this.counterBlocks(ssrc, roc, size), ks: null, at: 0 }
      this.windows.set(ssrc, w)
    }
    const index = (seq - w.base) & 0xffff
    if (w.ks === null || w.base < 0 || index >= w.count) {
      // The window never crosses the sequence number wrap: the rollover counter changes there.
      const count = Math.min(WINDOW, 0x10000 - seq)
      const c = w.counters
      const stride = w.blocks << 4
      const pos = this.profile === 'aead-aes-128-gcm' ? 10 : 12
      const s = this.salt
      for (let p = 0; p < count; p++) {
        const hi = ((seq + p) >>> 8) ^ s[pos]!
        const lo = ((seq + p) & 0xff) ^ s[pos + 1]!
        for (let o = p * stride + pos, end = (p + 1) * stride; o < end; o += 16) {
          c[o] = hi
          c[o + 1] = lo
        }
      }
      w.ks = this.ecb.update(count === WINDOW ? c : c.subarray(0, count * stride))
      w.base = seq
      w.count = count
      w.at = 0
      return w
    }
    w.at = index * (w.blocks << 4)
    return w
  }

  /** WINDOW packets' counter blocks for (ssrc, roc), `blocks` each, the sequence number bytes left to patch. */
  private counterBlocks(ssrc: number, roc: number, blocks: number): Buffer {
    const s = this.salt
    const buf = Buffer.alloc((WINDOW * blocks) << 4)
    for (let o = 0; o < buf.length; o += 16) {
      const b = (o >>> 4) % blocks
      if (this.profile === 'aead-aes-128-gcm') {
        // IV = salt XOR (00 00 | ssrc | roc | seq), then a 32-bit counter: 1 for J0, 2, 3, ...
        buf.writeUInt32BE(ssrc >>> 0, o + 2)
        buf.writeUInt32BE(roc >>> 0, o + 6)
        for (let i = 0; i < 12; i++) buf[o + i]! ^= s[i]!
        buf.writeUInt32BE(b + 1, o + 12)
      } else {
        // IV = salt << 16 XOR ssrc << 64 XOR (roc << 16 | seq) << 16, then the block index.
        buf.writeUInt32BE(ssrc >>> 0, o + 4)
        buf.writeUInt32BE(roc >>> 0, o + 8)
        for (let i = 0; i < 14; i++) buf[o + i]! ^= s[i]!
        buf.writeUInt16BE(b, o + 14)
      }
    }
    return buf
  }

  /** HMAC-SHA1-80 over out[0, m) | ROC, written at out[m, m + 10); the key's padded blocks are kept ready. */
  private hmacTag(out: Buffer, m: number, roc: number): void {
    if (this.inner.length < 64 + m + 4) {
      const grown = Buffer.alloc(64 + m + 4)
      this.inner.copy(grown, 0, 0, 64)
      this.inner = grown
    }
    const inner = this.inner
    out.copy(inner, 64, 0, m)
    inner.writeUInt32BE(roc >>> 0, 64 + m)
    hash('sha1', inner.subarray(0, 64 + m + 4), 'buffer').copy(this.outer, 64)
    hash('sha1', this.outer, 'buffer').copy(out, m, 0, 10)
  }
}

function padBlock(key: Uint8Array, pad: number, size: number): Buffer {
  const b = Buffer.alloc(size)
  for (let i = 0; i < 64; i++) b[i] = (key[i] ?? 0) ^ pad
  return b
}

/**
 * Reduction of GHASH's shift by 8 bits: for the byte r shifted out, what is XORed into the
 * top (each of its bits i contributes the polynomial 0xE1 shifted by 7 - i).
 */
const LAST8 = Int32Array.from({ length: 256 }, (_, r) => {
  let v = 0
  for (let i = 0; i < 8; i++) if (r & (1 << i)) v ^= 0xe100 >>> (7 - i)
  return v << 16
})

/**
 * t[4b..4b+3] = b·H for every byte b, in GCM's bit order (Shoup's 8-bit table, 4 KB per
 * key), from H = E(K, 0). Built from the 4-bit table: b·H = hi·H + (lo·H)·x^4.
 */
function ghashTable(h: Buffer, t: Int32Array): void {
  const t4 = new Int32Array(64)
  let v0 = h.readInt32BE(0)
  let v1 = h.readInt32BE(4)
  let v2 = h.readInt32BE(8)
  let v3 = h.readInt32BE(12)
  t4.set([v0, v1, v2, v3], 32)
  for (let i = 4; i > 0; i >>= 1) {
    const r = v3 & 1 ? 0xe1000000 | 0 : 0
    v3 = (v3 >>> 1) | (v2 << 31)
    v2 = (v2 >>> 1) | (v1 << 31)
    v1 = (v1 >>> 1) | (v0 << 31)
    v0 = (v0 >>> 1) ^ r
    t4.set([v0, v1, v2, v3], 4 * i)
  }
  for (let i = 2; i <= 8; i *= 2) {
    for (let j = 1; j < i; j++) {
      for (let w = 0; w < 4; w++) t4[4 * (i + j) + w] = t4[4 * i + w]! ^ t4[4 * j + w]!
    }
  }
  for (let lo = 0; lo < 16; lo++) {
    // (lo·H)·x^4: shift right by 4, reduce the nibble that falls out.
    const [a0, a1, a2, a3] = t4.subarray(4 * lo, 4 * lo + 4)
    const s3 = (a3! >>> 4) | (a2! << 28)
    const s2 = (a2! >>> 4) | (a1! << 28)
    const s1 = (a1! >>> 4) | (a0! << 28)
    const s0 = (a0! >>> 4) ^ LAST8[(a3! & 15) << 4]!
    for (let hi = 0; hi < 16; hi++) {
      const o = 4 * ((hi << 4) | lo)
      t[o] = t4[4 * hi]! ^ s0
      t[o + 1] = t4[4 * hi + 1]! ^ s1
      t[o + 2] = t4[4 * hi + 2]! ^ s2
      t[o + 3] = t4[4 * hi + 3]! ^ s3
    }
  }
}

/**
 * The GCM tag of (AAD = data[0, aadLength), ciphertext = data[aadLength, +cLength)):
 * GHASH over both and the length block, XOR E(K, J0) = mask[maskAt, +16); written to out[at, +16).
 */
function ghashTag(t: Int32Array, x: Int32Array, data: Uint8Array, aadLength: number, cLength: number, mask: Uint8Array, maskAt: number, out: Buffer, at: number): void {
  x.fill(0)
  ghashUpdate(t, x, data, 0, aadLength)
  ghashUpdate(t, x, data, aadLength, cLength)
  // Lengths in bits, 64 bits each; SRTP packets are far below 2^29 bytes.
  ghashBlock(t, x, 0, aadLength * 8, 0, cLength * 8)
  for (let w = 0; w < 4; w++) out.writeInt32BE(x[w]! ^ word(mask, maskAt + 4 * w), at + 4 * w)
}

/** Folds data[from, from + length) into the GHASH state x, 16 bytes at a time (the last block zero-padded). */
function ghashUpdate(t: Int32Array, x: Int32Array, data: Uint8Array, from: number, length: number): void {
  const end = from + length
  let o = from
  for (; o + 16 <= end; o += 16) ghashBlock(t, x, word(data, o), word(data, o + 4), word(data, o + 8), word(data, o + 12))
  if (o < end) ghashBlock(t, x, tailWord(data, o, end), tailWord(data, o + 4, end), tailWord(data, o + 8, end), tailWord(data, o + 12, end))
}

function word(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!
}

/** A big-endian word of b[o, o + 4) with the bytes at and past `end` read as zero (GCM pads the last block). */
function tailWord(b: Uint8Array, o: number, end: number): number {
  let w = 0
  for (let i = 0; i < 4; i++) w = (w << 8) | (o + i < end ? b[o + i]! : 0)
  return w
}

/** x = (x XOR block) · H, a byte at a time from the last (Shoup's method, 8-bit table). */
function ghashBlock(t: Int32Array, x: Int32Array, b0: number, b1: number, b2: number, b3: number): void {
  let z0 = 0
  let z1 = 0
  let z2 = 0
  let z3 = 0
  for (let k = 3; k >= 0; k--) {
    const w = x[k]! ^ (k === 0 ? b0 : k === 1 ? b1 : k === 2 ? b2 : b3)
    for (let sh = 0; sh < 32; sh += 8) {
      // z = z · x^8 (reduced), plus (this byte)·H.
      const rem = z3 & 0xff
      z3 = (z3 >>> 8) | (z2 << 24)
      z2 = (z2 >>> 8) | (z1 << 24)
      z1 = (z1 >>> 8) | (z0 << 24)
      z0 = (z0 >>> 8) ^ LAST8[rem]!
      const m = ((w >>> sh) & 0xff) << 2
      z0 ^= t[m]!
      z1 ^= t[m + 1]!
      z2 ^= t[m + 2]!
      z3 ^= t[m + 3]!
    }
  }
  x[0] = z0
  x[1] = z1
  x[2] = z2
  x[3] = z3
}
