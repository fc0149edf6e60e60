import { describe, expect, it } from 'vitest'
import { deriveSignalKey, openPayload, sealPayload } from '../../../src/net/room-crypto.ts'
import { fromBase64url, toBase64url } from '../../../src/identity/index.ts'

const secret = (fill: number) => new Uint8Array(32).fill(fill)

describe('room-crypto (signalling payloads)', () => {
  it('seals and opens a payload with the key derived from the room secret', async () => {
    const key = await deriveSignalKey(secret(1))
    const obj = { type: 'signal', from: 'peer-a', signal: { type: 'offer', sdp: 'v=0\r\n' }, n: [1, 2, 3] }
    const sealed = await sealPayload(key, obj)
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(await openPayload(key, sealed)).toEqual(obj)
    // Same secret, independently derived key: still opens.
    expect(await openPayload(await deriveSignalKey(secret(1)), sealed)).toEqual(obj)
  })

  it('never repeats a ciphertext (fresh IV)', async () => {
    const key = await deriveSignalKey(secret(1))
    expect(await sealPayload(key, 'same')).not.toBe(await sealPayload(key, 'same'))
  })

  it('returns null for a wrong key, tampering, truncation and garbage', async () => {
    const key = await deriveSignalKey(secret(1))
    const other = await deriveSignalKey(secret(2))
    const sealed = await sealPayload(key, { hello: 'world' })
    expect(await openPayload(other, sealed)).toBeNull()
    const bytes = fromBase64url(sealed)!
    bytes[bytes.length - 1]! ^= 1
    expect(await openPayload(key, toBase64url(bytes))).toBeNull()
    expect(await openPayload(key, sealed.slice(0, 20))).toBeNull()
    for (const junk of ['', '!!!', 'a', 'AAAA', 'x'.repeat(70_000), '{"type":"x"}']) expect(await openPayload(key, junk)).toBeNull()
    expect(await openPayload(key, 42 as unknown as string)).toBeNull()
  })

  it('rejects room secrets that are not 32 bytes, with a stable code', async () => {
    await expect(deriveSignalKey(new Uint8Array(16))).rejects.toMatchObject({ code: 'bad-room-secret' })
  })

  it('refuses values JSON cannot carry', async () => {
    const key = await deriveSignalKey(secret(1))
    await expect(sealPayload(key, undefined)).rejects.toMatchObject({ code: 'unsealable' })
    await expect(sealPayload(key, { n: 1n })).rejects.toMatchObject({ code: 'unsealable' })
  })

  it('base64url round-trips every byte value', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    for (let n = 0; n < 6; n++) expect(fromBase64url(toBase64url(all.subarray(n)))).toEqual(all.subarray(n))
    expect(fromBase64url('a+b/')).toBeNull()
  })
})
