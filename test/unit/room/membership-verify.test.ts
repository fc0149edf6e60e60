/**
 * The two checks of a membership proof (src/room/epoch-keys.ts): the relay uses the WebCrypto
 * one (`verifyMembershipAsync`), and it must refuse everything the pure one (noble, RFC 8032
 * strict, `zip215: false`) refuses. Raw WebCrypto Ed25519 in Node (OpenSSL) accepts a forgery
 * under a small-order key, even one encoded non-canonically: the identity module's key check
 * stands in front of it. Each case is what an attacker would send.
 */
import { describe, expect, it } from 'vitest'
import { membershipKey, proveMembership, verifyMembership, verifyMembershipAsync } from '../../../src/room/index.ts'

const L = 2n ** 252n + 27742317777372353535851937790883648493n
const P = 2n ** 255n - 19n
const littleEndian = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn)
  return out
}
const fromLittleEndian = (b: Uint8Array): bigint => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n)

const key = membershipKey(new Uint8Array(32).fill(7))
const msg = new TextEncoder().encode('stoop/relay-member/v1\nroom\nnonce\nrelay.test')
const sig = proveMembership(key, msg)
/** The identity point (order 1), canonical: y = 1. */
const IDENTITY = littleEndian(1n)
/** R = identity, S = 0: "valid" for every message under a key of small order, if nothing checks the key. */
const SMALL_ORDER_FORGERY = new Uint8Array(64)
SMALL_ORDER_FORGERY.set(IDENTITY)

async function both(pub: Uint8Array, s: Uint8Array): Promise<[boolean, boolean]> {
  return [verifyMembership(pub, msg, s), await verifyMembershipAsync(pub, msg, s)]
}

describe('membership proofs: the WebCrypto check is as strict as the pure one', () => {
  it('accepts a genuine proof and refuses it over another message or key', async () => {
    expect(await both(key.publicKey, sig)).toEqual([true, true])
    expect(await verifyMembershipAsync(key.publicKey, new TextEncoder().encode('other'), sig)).toBe(false)
    expect(await verifyMembershipAsync(membershipKey(new Uint8Array(32).fill(8)).publicKey, msg, sig)).toBe(false)
  })

  it('refuses a malleated signature (S + L: the same equation, a non-canonical scalar)', async () => {
    const malleated = new Uint8Array(sig)
    malleated.set(littleEndian(fromLittleEndian(sig.subarray(32)) + L), 32)
    expect(malleated).not.toEqual(sig)
    expect(await both(key.publicKey, malleated)).toEqual([false, false])
  })

  it('refuses a forgery under a small-order key, canonical or not (y = p + 1)', async () => {
    expect(await both(IDENTITY, SMALL_ORDER_FORGERY)).toEqual([false, false])
    expect(await both(littleEndian(P + 1n), SMALL_ORDER_FORGERY)).toEqual([false, false])
  })

  it('refuses a non-canonical R (the identity encoded as y = p + 1)', async () => {
    const forged = new Uint8Array(64)
    forged.set(littleEndian(P + 1n))
    expect(await both(IDENTITY, forged)).toEqual([false, false])
  })

  it('never throws on garbage', async () => {
    for (const [pub, s] of [[new Uint8Array(31), sig], [key.publicKey, new Uint8Array(63)], [new Uint8Array(32).fill(0xff), sig], [key.publicKey, new Uint8Array(64).fill(0xff)]] as const) {
      expect(await both(pub, s)).toEqual([false, false])
    }
  })
})
