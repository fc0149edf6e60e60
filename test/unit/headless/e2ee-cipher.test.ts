/**
 * Node's synchronous AES-GCM for SFrame (`nodeFrameCipher`, src/headless/e2ee.ts): the RFC 9605
 * vector byte for byte, frames that interoperate with WebCrypto's (browsers) both ways, and
 * every altered or short frame refused with null, never a throw.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { nodeFrameCipher } from '../../../src/headless/e2ee.ts'
import { counterStart, decodeHeader, deriveKeySalt, sframeOpen, sframeSeal, SframeKeyring, SframeStream, type SframeKey } from '../../../src/media/sframe.ts'
import { generateIdentity, keyId } from '../../../src/identity/index.ts'

const v = (JSON.parse(readFileSync(new URL('../media/sframe-vectors.json', import.meta.url), 'utf8')) as { aes_128_gcm_sha256_128: Record<string, string> }).aes_128_gcm_sha256_128
const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16))
const toHex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('')

describe('nodeFrameCipher', () => {
  test('RFC 9605 Appendix C.4 (AES_128_GCM_SHA256_128): the same ciphertext, and it opens', async () => {
    const kid = BigInt(v.kid!)
    const ks = deriveKeySalt(hex(v.base_key!), kid)
    const key: SframeKey = { kid, cipher: nodeFrameCipher(ks.key), salt: ks.salt }
    const metadata = hex(v.metadata!)
    const ct = await sframeSeal(key, BigInt(v.ctr!), hex(v.pt!), metadata)
    expect(toHex(ct)).toBe(v.ct)
    const header = decodeHeader(ct)!
    expect(toHex((await sframeOpen(key, ct, header, metadata))!)).toBe(v.pt)
    expect(await sframeOpen(key, ct, header)).toBeNull()
    for (const at of [header.length, ct.length - 1]) {
      const bent = ct.slice()
      bent[at]! ^= 1
      expect(await sframeOpen(key, bent, header, metadata)).toBeNull()
    }
    expect(key.cipher.open(new Uint8Array(12), new Uint8Array(0), new Uint8Array(15))).toBeNull()
  })

  test('frames sealed in Node open in a WebCrypto keyring (a browser) and the other way round', async () => {
    const [a, b] = await Promise.all([generateIdentity(), generateIdentity()])
    const secret = crypto.getRandomValues(new Uint8Array(32))
    const ctrStart = counterStart(Date.now())
    const node = new SframeKeyring({ self: a.publicKey, ctrStart, cipher: nodeFrameCipher })
    const web = new SframeKeyring({ self: b.publicKey, ctrStart })
    node.addEpoch(0, secret)
    web.addEpoch(0, secret)
    const frame = Uint8Array.from({ length: 80 }, (_, i) => (i * 7) & 0xff)
    expect(await web.decrypt(new SframeStream(keyId(a.publicKey)), (await node.encrypt(frame))!)).toEqual(frame)
    expect(await node.decrypt(new SframeStream(keyId(b.publicKey)), (await web.encrypt(frame))!)).toEqual(frame)
    // Under another sender's key it does not open, and is counted.
    expect(await node.decrypt(new SframeStream(keyId(a.publicKey)), (await web.encrypt(frame))!)).toBeNull()
    expect(node.counters.dropped.auth).toBe(1)
  })
})
