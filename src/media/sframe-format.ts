/**
 * SFrame (RFC 9605) with the cipher suite AES_128_GCM_SHA256_128 (0x0004): the header, the key
 * schedule and per-frame AEAD. Pure bytes in, bytes out; AES-GCM through WebCrypto, so the same
 * code runs in browsers, workers and Node, or through a synchronous `FrameCipher` given by the
 * caller (Node's own crypto: WebCrypto there hops to libuv's thread pool and back for every
 * frame, about 10 times the work and, on a busy machine, milliseconds of waiting). Epochs,
 * per-sender keys and replay checks are in sframe.ts, the module to import (it re-exports this one).
 *
 *   header      = config byte |X|KKK|Y|CCC| || KID || CTR   (values 0..7 inline, else the minimal
 *                 big-endian bytes with their length - 1 in K or C)
 *   secret      = HKDF-Extract(salt = "", base_key)
 *   sframe_key  = HKDF-Expand(secret, "SFrame 1.0 Secret key "  || u64(KID) || u16(suite), 16)
 *   sframe_salt = HKDF-Expand(secret, "SFrame 1.0 Secret salt " || u64(KID) || u16(suite), 12)
 *   nonce       = sframe_salt XOR u96(CTR)
 *   frame       = header || AES-GCM(sframe_key, nonce, aad = header || metadata, plaintext)
 *
 * Invariants: `decodeHeader` and `sframeOpen` never throw on bytes from the network (null);
 * headers are accepted only in their one canonical (minimal) encoding.
 */
import { expand, extract } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes } from '../identity/index.ts'

/** AES_128_GCM_SHA256_128 in the IANA "SFrame Cipher Suites" registry. */
export const SUITE_AES_128_GCM_SHA256_128 = 0x0004
/** Key, nonce and tag sizes of the suite (RFC 9605 §4.5: Nk, Nn, Nt). */
export const KEY_BYTES = 16
export const NONCE_BYTES = 12
export const TAG_BYTES = 16
/** A config byte plus 8 bytes of KID and 8 of CTR. */
export const MAX_HEADER_BYTES = 17
/** KID and CTR are unsigned 64-bit integers. */
export const MAX_U64 = (1n << 64n) - 1n

const te = new TextEncoder()
const KEY_LABEL = te.encode('SFrame 1.0 Secret key ')
const SALT_LABEL = te.encode('SFrame 1.0 Secret salt ')

export interface SframeHeader {
  kid: bigint
  ctr: bigint
  /** Encoded length in bytes (where the ciphertext starts). */
  length: number
}

/** AES-128-GCM with one key, synchronous; 16-byte tags. `open` returns null when the tag does not check, never throws. */
export interface FrameCipher {
  /** ciphertext || tag */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null
}

/** Makes the cipher of a 16-byte key (it keeps its own copy: the caller wipes the bytes after). */
export type FrameCipherFactory = (key: Uint8Array) => FrameCipher

/** The key and salt a KID's frames are sealed with: a WebCrypto key, or a caller's cipher. */
export type SframeKey = { kid: bigint; key: CryptoKey; salt: Uint8Array } | { kid: bigint; cipher: FrameCipher; salt: Uint8Array }

/** Big-endian bytes of `v` in exactly `n` bytes. */
export function u64be(v: bigint, n = 8): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}

function minimalBytes(v: bigint): number {
  let n = 1
  while (v > 0xffn) {
    v >>= 8n
    n++
  }
  return n
}

function checkU64(name: string, v: bigint): void {
  if (typeof v !== 'bigint' || v < 0n || v > MAX_U64) throw new RangeError(`${name} must be an unsigned 64-bit bigint`)
}

/** The SFrame header for (KID, CTR). */
export function encodeHeader(kid: bigint, ctr: bigint): Uint8Array {
  checkU64('kid', kid)
  checkU64('ctr', ctr)
  const kLen = kid < 8n ? 0 : minimalBytes(kid)
  const cLen = ctr < 8n ? 0 : minimalBytes(ctr)
  const out = new Uint8Array(1 + kLen + cLen)
  const k = kLen ? 0x80 | ((kLen - 1) << 4) : Number(kid) << 4
  const c = cLen ? 0x08 | (cLen - 1) : Number(ctr)
  out[0] = k | c
  if (kLen) out.set(u64be(kid, kLen), 1)
  if (cLen) out.set(u64be(ctr, cLen), 1 + kLen)
  return out
}

/** Reads one extended field; null when truncated or not minimally encoded. */
function readField(bytes: Uint8Array, at: number, len: number): bigint | null {
  if (at + len > bytes.length) return null
  if (len > 1 && bytes[at] === 0) return null
  let v = 0n
  for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(bytes[at + i]!)
  return v < 8n ? null : v
}

/** Parses the header at the start of `frame`; null when it is truncated or not canonical. */
export function decodeHeader(frame: Uint8Array): SframeHeader | null {
  if (!(frame instanceof Uint8Array) || frame.length < 1) return null
  const config = frame[0]!
  let at = 1
  let kid = BigInt((config >> 4) & 0x07)
  if (config & 0x80) {
    const len = ((config >> 4) & 0x07) + 1
    const v = readField(frame, at, len)
    if (v === null) return null
    kid = v
    at += len
  }
  let ctr = BigInt(config & 0x07)
  if (config & 0x08) {
    const len = (config & 0x07) + 1
    const v = readField(frame, at, len)
    if (v === null) return null
    ctr = v
    at += len
  }
  return { kid, ctr, length: at }
}

/** RFC 9605 §4.4.2 `derive_key_salt`, with the intermediate values (for the test vectors). */
export function deriveKeySalt(baseKey: Uint8Array, kid: bigint, suite = SUITE_AES_128_GCM_SHA256_128): { secret: Uint8Array; key: Uint8Array; salt: Uint8Array } {
  checkU64('kid', kid)
  const tail = concatBytes(u64be(kid), u64be(BigInt(suite), 2))
  const secret = extract(sha256, baseKey, new Uint8Array(0))
  return {
    secret,
    key: expand(sha256, secret, concatBytes(KEY_LABEL, tail), KEY_BYTES),
    salt: expand(sha256, secret, concatBytes(SALT_LABEL, tail), NONCE_BYTES),
  }
}

/** The AEAD nonce of a frame: the salt XOR the counter, big-endian over the nonce's 12 bytes. */
export function sframeNonce(salt: Uint8Array, ctr: bigint): Uint8Array<ArrayBuffer> {
  const c = u64be(ctr, NONCE_BYTES)
  const out = new Uint8Array(NONCE_BYTES)
  for (let i = 0; i < NONCE_BYTES; i++) out[i] = salt[i]! ^ c[i]!
  return out
}

/** Derives the frame key of a KID from its base key: a WebCrypto key that is not extractable, or `cipher`'s. */
export async function importSframeKey(baseKey: Uint8Array, kid: bigint, cipher?: FrameCipherFactory): Promise<SframeKey> {
  const { key, salt } = deriveKeySalt(baseKey, kid)
  if (cipher) {
    const c = cipher(key)
    key.fill(0)
    return { kid, cipher: c, salt }
  }
  const aes = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt'])
  key.fill(0)
  return { kid, key: aes, salt }
}

/** Seals one frame: header || ciphertext || tag. The caller guarantees (key, CTR) is never reused. */
export async function sframeSeal(k: SframeKey, ctr: bigint, plaintext: Uint8Array, metadata?: Uint8Array): Promise<Uint8Array> {
  const header = encodeHeader(k.kid, ctr)
  const aad = metadata?.length ? concatBytes(header, metadata) : header
  const nonce = sframeNonce(k.salt, ctr)
  const sealed =
    'cipher' in k
      ? k.cipher.seal(nonce, aad, plaintext)
      : new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad as Uint8Array<ArrayBuffer>, tagLength: TAG_BYTES * 8 }, k.key, plaintext as Uint8Array<ArrayBuffer>))
  const out = new Uint8Array(header.length + sealed.byteLength)
  out.set(header)
  out.set(sealed, header.length)
  return out
}

/**
 * Opens a frame whose header was decoded as `header` with the key of its KID. Null when it
 * does not authenticate (altered, injected, or sealed under another key); never throws.
 */
export async function sframeOpen(k: SframeKey, frame: Uint8Array, header: SframeHeader, metadata?: Uint8Array): Promise<Uint8Array | null> {
  if (header.kid !== k.kid || frame.length < header.length + TAG_BYTES) return null
  const headerBytes = frame.subarray(0, header.length)
  const aad = metadata?.length ? concatBytes(headerBytes, metadata) : headerBytes
  if ('cipher' in k) return k.cipher.open(sframeNonce(k.salt, header.ctr), aad, frame.subarray(header.length))
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: sframeNonce(k.salt, header.ctr), additionalData: aad as Uint8Array<ArrayBuffer>, tagLength: TAG_BYTES * 8 },
      k.key,
      frame.subarray(header.length) as Uint8Array<ArrayBuffer>,
    )
    return new Uint8Array(plain)
  } catch (err) {
    // WebCrypto reports a failed tag check as an OperationError: that is the answer, not a fault.
    void err
    return null
  }
}
