/**
 * Ed25519 identities over WebCrypto (Node 20+ `globalThis.crypto.subtle`,
 * Chromium 137+). A participant *is* its 32-byte raw public key; the textual
 * participant id is `keyId(pub)` (base64url) and `fingerprint(pub)` is the short
 * form people compare out loud.
 *
 * Invariants: `verifySignature` never throws (garbage in -> `false`); private
 * keys stay inside a `CryptoKey` and are only extractable when a store asks.
 * Imported public keys are cached by key id, so verifying 10k entries from
 * 1k authors imports each key once.
 *
 * Only canonical encodings of points outside the small-order subgroup are
 * keys (`isValidPublicKey`): WebCrypto verifies without looking at the key,
 * and with a small-order point as key anyone forges a signature on any message
 * (R a small-order point, S = 0). They are refused at decode (`publicKeyFromId`)
 * and by `verifySignature`; no honest key generator produces one.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { toBase64url, fromBase64url } from './base64url.ts'
import { CodedError } from '../base/errors.ts'

/** A signing identity: the raw public key plus a signer that never exposes the private key. */
export interface Identity {
  /** 32 raw Ed25519 public key bytes. */
  readonly publicKey: Uint8Array
  sign(msg: Uint8Array): Promise<Uint8Array>
}

export const PUBLIC_KEY_BYTES = 32
export const SIGNATURE_BYTES = 64

const ALG = { name: 'Ed25519' } as const

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle
  if (!s) throw new CodedError('no-webcrypto', 'WebCrypto is not available in this environment')
  return s
}

/** Copies into a fresh ArrayBuffer-backed view (WebCrypto rejects SharedArrayBuffer views in some engines). */
function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length)
  out.set(bytes)
  return out
}

/** Builds an Identity from a WebCrypto key pair (private key may be non-extractable). */
export async function identityFromKeyPair(pair: CryptoKeyPair): Promise<Identity> {
  const publicKey = new Uint8Array(await subtle().exportKey('raw', pair.publicKey))
  const privateKey = pair.privateKey
  return {
    publicKey,
    async sign(msg: Uint8Array) {
      return new Uint8Array(await subtle().sign(ALG, privateKey, own(msg)))
    },
  }
}

/** Generates a fresh key pair. `extractable` is only for stores that must write the key to disk. */
export async function generateKeyPair(extractable = false): Promise<CryptoKeyPair> {
  return (await subtle().generateKey(ALG, extractable, ['sign', 'verify'])) as CryptoKeyPair
}

/** Generates an in-memory identity whose private key cannot be exported. */
export async function generateIdentity(): Promise<Identity> {
  return identityFromKeyPair(await generateKeyPair(false))
}

const keyCache = new Map<string, Promise<CryptoKey | null>>()
const KEY_CACHE_MAX = 50_000
/** Point checks cost ~0.1 ms (a square root): each key is checked once. */
const validKeys = new Map<string, boolean>()

/**
 * A 32-byte Ed25519 public key that is the canonical encoding (RFC 8032, not
 * ZIP-215) of a curve point of large order. Never throws.
 */
export function isValidPublicKey(pub: Uint8Array): boolean {
  if (!(pub instanceof Uint8Array) || pub.length !== PUBLIC_KEY_BYTES) return false
  const id = keyId(pub)
  let ok = validKeys.get(id)
  if (ok === undefined) {
    try {
      ok = !ed25519.Point.fromBytes(pub, false).isSmallOrder()
    } catch {
      // Not a point, or y >= p, or x = 0 with the sign bit set.
      ok = false
    }
    if (validKeys.size >= KEY_CACHE_MAX) validKeys.clear()
    validKeys.set(id, ok)
  }
  return ok
}

function importPublicKey(pub: Uint8Array): Promise<CryptoKey | null> {
  const id = keyId(pub)
  let p = keyCache.get(id)
  if (!p) {
    p = !isValidPublicKey(pub)
      ? Promise.resolve(null)
      : subtle()
          .importKey('raw', own(pub), ALG, false, ['verify'])
          .then((k) => k, () => null)
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear()
    keyCache.set(id, p)
  }
  return p
}

/** Verifies an Ed25519 signature. Returns false (never throws) on malformed keys or signatures. */
export async function verifySignature(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  if (!(pub instanceof Uint8Array) || !(msg instanceof Uint8Array) || !(sig instanceof Uint8Array)) return false
  if (pub.length !== PUBLIC_KEY_BYTES || sig.length !== SIGNATURE_BYTES) return false
  const key = await importPublicKey(pub)
  if (!key) return false
  try {
    return await subtle().verify(ALG, key, own(sig), own(msg))
  } catch {
    // Engines differ on which garbage they reject by throwing; either way it is not a valid signature.
    return false
  }
}

/** The participant id used in room state: base64url of the raw public key (43 chars). */
export function keyId(pub: Uint8Array): string {
  return toBase64url(pub)
}

/** Inverse of `keyId`; null when the text is not a 32-byte base64url key, or not a valid one (`isValidPublicKey`). */
export function publicKeyFromId(id: string): Uint8Array | null {
  const bytes = fromBase64url(id)
  return bytes && isValidPublicKey(bytes) ? bytes : null
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567'

/**
 * Short human fingerprint: the first 40 bits of sha256("stoop/fingerprint" || pub)
 * as two groups of four base32 characters, e.g. `k3vq-x7ma`. Good enough to tell
 * people apart in a room; not a security boundary on its own.
 */
export function fingerprint(pub: Uint8Array): string {
  const h = sha256(concatBytes(FINGERPRINT_DOMAIN, pub))
  let bits = 0
  let acc = 0
  let out = ''
  for (let i = 0; out.length < 8; i++) {
    acc = (acc << 8) | h[i]!
    bits += 8
    while (bits >= 5 && out.length < 8) {
      bits -= 5
      out += B32[(acc >> bits) & 31]!
    }
    acc &= (1 << bits) - 1
  }
  return `${out.slice(0, 4)}-${out.slice(4)}`
}

const FINGERPRINT_DOMAIN = new TextEncoder().encode('stoop/fingerprint')

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** Constant-length comparison of two byte arrays. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!
  return d === 0
}

/** Random bytes from WebCrypto. */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n)
  globalThis.crypto.getRandomValues(out)
  return out
}
