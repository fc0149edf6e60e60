/**
 * Small-order and non-canonical Ed25519 public keys (issue 12). WebCrypto
 * (OpenSSL in Node) verifies cofactorless without looking at the key: with a
 * small-order point as "public key" an attacker forges a signature on any
 * message without any private key. Every such key is refused at decode
 * (`publicKeyFromId`, `isValidPublicKey`) and by `verifySignature`.
 */
import { describe, expect, it } from 'vitest'
import { ed25519 } from '@noble/curves/ed25519.js'
import { sha512 } from '@noble/hashes/sha2.js'
import {
  generateIdentity, isValidPublicKey, keyId, publicKeyFromId, verifySignature,
} from '../../../src/identity/index.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)))
const bytesToNumberLE = (b: Uint8Array): bigint => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n)
const L = 2n ** 252n + 27742317777372353535851937790883648493n
const P = 2n ** 255n - 19n

/** The eight points of small order (the torsion subgroup), as canonical encodings. */
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity, order 1
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
  '0000000000000000000000000000000000000000000000000000000000000080', // order 4
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8
].map(hex)

/** Encodings with y >= p (19 values, either sign bit): never produced by an honest key. */
function nonCanonical(): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let y = P; y < 2n ** 255n; y++) {
    for (const sign of [0, 0x80]) {
      const b = new Uint8Array(32)
      let v = y
      for (let i = 0; i < 32; i++, v >>= 8n) b[i] = Number(v & 255n)
      b[31] = (b[31]! & 0x7f) | sign
      out.push(b)
    }
  }
  return out
}

async function webcryptoVerify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  const key = await crypto.subtle.importKey('raw', pub.slice(), { name: 'Ed25519' }, false, ['verify'])
  return crypto.subtle.verify({ name: 'Ed25519' }, key, sig.slice(), msg.slice())
}

/**
 * The attacker's forgery for a small-order key A: S = 0 and R = -[k]A with
 * k = H(R || A || M). R is one of the eight torsion points, so it is found by
 * trying each of them (and a few messages) until the equation closes.
 */
function forge(pub: Uint8Array): { msg: Uint8Array; sig: Uint8Array } {
  const A = ed25519.Point.fromBytes(pub)
  for (let n = 0; n < 64; n++) {
    const msg = new TextEncoder().encode(`ban everyone #${n}`)
    for (const rBytes of SMALL_ORDER) {
      const k = bytesToNumberLE(sha512(new Uint8Array([...rBytes, ...pub, ...msg]))) % L
      const expected = k % 8n === 0n ? ed25519.Point.ZERO : A.multiplyUnsafe(k % 8n).negate()
      if (expected.equals(ed25519.Point.fromBytes(rBytes))) return { msg, sig: new Uint8Array([...rBytes, ...new Uint8Array(32)]) }
    }
  }
  throw new Error('no forgery found')
}

describe('weak public keys', () => {
  it('the test vectors are what they claim (small order; y >= p)', () => {
    for (const k of SMALL_ORDER) expect(ed25519.Point.fromBytes(k).isSmallOrder()).toBe(true)
    expect(nonCanonical()).toHaveLength(38)
  })

  it('attack: a forged signature under a small-order key, which WebCrypto accepts, does not verify', async () => {
    for (const pub of SMALL_ORDER) {
      const { msg, sig } = forge(pub)
      expect(await webcryptoVerify(pub, msg, sig), `forgery for ${keyId(pub)} (the attack works on the raw engine)`).toBe(true)
      expect(await verifySignature(pub, msg, sig), keyId(pub)).toBe(false)
    }
  })

  it('attack: the identity point as key verifies (R = identity, S = 0) on any message only without the check', async () => {
    const pub = SMALL_ORDER[0]!
    const sig = new Uint8Array(64)
    sig[0] = 1
    for (const text of ['', 'ban the owner', 'x'.repeat(1000)]) {
      const msg = new TextEncoder().encode(text)
      expect(await webcryptoVerify(pub, msg, sig)).toBe(true)
      expect(await verifySignature(pub, msg, sig)).toBe(false)
    }
  })

  it('refuses small-order and non-canonical keys at decode', async () => {
    const honest = await generateIdentity()
    expect(isValidPublicKey(honest.publicKey)).toBe(true)
    expect(publicKeyFromId(keyId(honest.publicKey))).toEqual(honest.publicKey)
    for (const pub of [...SMALL_ORDER, ...nonCanonical()]) {
      expect(isValidPublicKey(pub), keyId(pub)).toBe(false)
      expect(publicKeyFromId(keyId(pub)), keyId(pub)).toBeNull()
    }
    // Not on the curve at all.
    expect(isValidPublicKey(hex('0200000000000000000000000000000000000000000000000000000000000000'))).toBe(false)
    expect(isValidPublicKey(new Uint8Array(31))).toBe(false)
  })

  it('refuses a non-canonical key whatever the signature', async () => {
    const sig = new Uint8Array(64)
    sig[0] = 1
    for (const pub of nonCanonical()) expect(await verifySignature(pub, new Uint8Array([1]), sig), keyId(pub)).toBe(false)
  })

  it('honest keys still sign and verify', async () => {
    for (let i = 0; i < 20; i++) {
      const id = await generateIdentity()
      const msg = new TextEncoder().encode(`hello ${i}`)
      expect(isValidPublicKey(id.publicKey)).toBe(true)
      expect(await verifySignature(id.publicKey, msg, await id.sign(msg))).toBe(true)
    }
  })
})
