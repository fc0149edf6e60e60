/**
 * SFrame (RFC 9605) as Stoop uses it: the RFC's test vectors for the header and for the
 * AES_128_GCM_SHA256_128 suite, then the keyring: keys per epoch and per sender, and every way a
 * frame that a relay (or anyone without the key) altered, forged, replayed or moved to another
 * speaker's stream is dropped and counted, never returned as audio.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { generateIdentity, keyId } from '../../../src/identity/index.ts'
import {
  baseKey,
  counterStart,
  decodeHeader,
  deriveKeySalt,
  encodeHeader,
  OLD_EPOCH_FRAMES,
  REPLAY_WINDOW,
  sframeNonce,
  sframeOpen,
  sframeSeal,
  SframeKeyring,
  SframeStream,
  SUITE_AES_128_GCM_SHA256_128,
  type SframeKey,
} from '../../../src/media/sframe.ts'

interface Vectors {
  header: Array<[string, string, string]>
  aes_128_gcm_sha256_128: Record<string, string>
}
const vectors = JSON.parse(readFileSync(new URL('./sframe-vectors.json', import.meta.url), 'utf8')) as Vectors
const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16))
const toHex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('')

describe('RFC 9605 test vectors', () => {
  test('header encoding and decoding (all 289 vectors of Appendix C.1)', () => {
    expect(vectors.header.length).toBe(289)
    for (const [kidHex, ctrHex, encoded] of vectors.header) {
      const kid = BigInt(kidHex)
      const ctr = BigInt(ctrHex)
      expect(toHex(encodeHeader(kid, ctr))).toBe(encoded)
      expect(decodeHeader(hex(encoded + 'abcd'))).toEqual({ kid, ctr, length: encoded.length / 2 })
    }
  })

  test('AES_128_GCM_SHA256_128: key schedule, nonce, encryption and decryption (Appendix C.4)', async () => {
    const v = vectors.aes_128_gcm_sha256_128
    expect(BigInt(v.cipher_suite!)).toBe(BigInt(SUITE_AES_128_GCM_SHA256_128))
    const kid = BigInt(v.kid!)
    const ctr = BigInt(v.ctr!)
    const te = new TextEncoder()
    // The labels the schedule uses, as the vector spells them out.
    expect(toHex(te.encode('SFrame 1.0 Secret key '))).toBe(v.sframe_key_label!.slice(0, -20))
    expect(toHex(te.encode('SFrame 1.0 Secret salt '))).toBe(v.sframe_salt_label!.slice(0, -20))
    const ks = deriveKeySalt(hex(v.base_key!), kid)
    expect(toHex(ks.secret)).toBe(v.sframe_secret)
    expect(toHex(ks.key)).toBe(v.sframe_key)
    expect(toHex(ks.salt)).toBe(v.sframe_salt)
    expect(toHex(sframeNonce(ks.salt, ctr))).toBe(v.nonce)

    const aes = await crypto.subtle.importKey('raw', ks.key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt', 'decrypt'])
    const key: SframeKey = { kid, key: aes, salt: ks.salt }
    const metadata = hex(v.metadata!)
    expect(toHex(encodeHeader(kid, ctr)) + v.metadata).toBe(v.aad)
    const ct = await sframeSeal(key, ctr, hex(v.pt!), metadata)
    expect(toHex(ct)).toBe(v.ct)
    const header = decodeHeader(ct)!
    expect(toHex((await sframeOpen(key, ct, header, metadata))!)).toBe(v.pt)
    // Without the metadata, or with one bit of the ciphertext changed, it does not open.
    expect(await sframeOpen(key, ct, header)).toBeNull()
    const bent = ct.slice()
    bent[10]! ^= 1
    expect(await sframeOpen(key, bent, header, metadata)).toBeNull()
  })

  test('only the canonical header encoding is accepted', () => {
    for (const bad of ['', '0807', '8807', '090001', '09ff', 'b0ff', '98000001']) expect(decodeHeader(hex(bad)), bad).toBeNull()
    expect(() => encodeHeader(-1n, 0n)).toThrow(RangeError)
    expect(() => encodeHeader(0n, 1n << 64n)).toThrow(RangeError)
  })
})

async function room(): Promise<{ secret: Uint8Array; ana: SframeKeyring; bea: SframeKeyring; anaId: string; beaId: string; calId: string }> {
  const [a, b, c] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity()])
  const secret = crypto.getRandomValues(new Uint8Array(32))
  const ctrStart = counterStart(Date.now())
  const ana = new SframeKeyring({ self: a.publicKey, ctrStart })
  const bea = new SframeKeyring({ self: b.publicKey, ctrStart })
  ana.addEpoch(0, secret)
  bea.addEpoch(0, secret)
  return { secret, ana, bea, anaId: keyId(a.publicKey), beaId: keyId(b.publicKey), calId: keyId(c.publicKey) }
}

/** An Opus frame as a libwebrtc encoder hands it over: a TOC byte (CELT FB 20 ms) and payload. */
const opus = (n = 80, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 0xfc : (i * 31 + seed) & 0xff))

describe('SframeKeyring', () => {
  test('a frame sealed by a sender opens on a stream attributed to it, under KID = epoch', async () => {
    const { ana, bea, anaId } = await room()
    const frame = opus()
    const sealed = (await ana.encrypt(frame))!
    const header = decodeHeader(sealed)!
    expect(header.kid).toBe(0n)
    expect(header.ctr).toBeGreaterThan(counterStart(Date.now() - 60_000))
    expect(sealed.length - frame.length).toBe(header.length + 16)
    expect(sealed.subarray(header.length).some((b, i) => b !== frame[i])).toBe(true)
    expect(await bea.decrypt(new SframeStream(anaId), sealed)).toEqual(frame)
    expect(bea.counters.decrypted).toBe(1)
    expect(bea.senders.get(anaId)).toEqual({ decrypted: 1, dropped: 0 })
    expect(ana.counters.encrypted).toBe(1)
  })

  test('a relay altering any byte of a frame gets it dropped and counted, never returned', async () => {
    const { ana, bea, anaId } = await room()
    const sealed = (await ana.encrypt(opus()))!
    const stream = new SframeStream(anaId)
    for (let i = 0; i < sealed.length; i++) {
      const bent = sealed.slice()
      bent[i]! ^= 0x40
      expect(await bea.decrypt(stream, bent), `byte ${i}`).toBeNull()
    }
    const d = bea.counters.dropped
    expect(d.auth + d.malformed + d['unknown-epoch']).toBe(sealed.length)
    expect(bea.counters.decrypted).toBe(0)
    expect(bea.senders.get(anaId)?.dropped).toBe(sealed.length)
    // Truncated (the tag cut off) and the original still opens afterwards: nothing was accepted.
    expect(await bea.decrypt(stream, sealed.subarray(0, sealed.length - 1))).toBeNull()
    expect(await bea.decrypt(stream, sealed)).not.toBeNull()
  })

  test('plain Opus or forged frames injected under a speaker are dropped, whatever they look like', async () => {
    const { bea, anaId } = await room()
    const stream = new SframeStream(anaId)
    // Plain Opus as a relay without the key would forward or make up.
    for (let seed = 0; seed < 50; seed++) expect(await bea.decrypt(stream, opus(20 + seed, seed))).toBeNull()
    // A well-formed SFrame header for epoch 0 and a guessed ciphertext and tag.
    for (let ctr = 0n; ctr < 50n; ctr++) {
      const forged = new Uint8Array([...encodeHeader(0n, ctr), ...crypto.getRandomValues(new Uint8Array(60))])
      expect(await bea.decrypt(stream, forged)).toBeNull()
    }
    // Random bytes of every short length: never a throw, always null.
    for (let n = 0; n < 200; n++) expect(await bea.decrypt(stream, crypto.getRandomValues(new Uint8Array(n % 40)))).toBeNull()
    expect(bea.counters.decrypted).toBe(0)
    const d = bea.counters.dropped
    expect(d.auth + d.malformed + d['unknown-epoch'] + d.empty).toBe(300)
    expect(d.empty).toBe(5)
    expect(d.auth).toBeGreaterThanOrEqual(50)
  })

  test("empty frames (Chromium's padding-only probe packets) are dropped without counting against the speaker", async () => {
    const { ana, bea, anaId } = await room()
    const stream = new SframeStream(anaId)
    for (let i = 0; i < 20; i++) expect(await bea.decrypt(stream, new Uint8Array(0))).toBeNull()
    expect(bea.counters.dropped.empty).toBe(20)
    expect(bea.senders.get(anaId)).toBeUndefined()
    expect(await bea.decrypt(stream, (await ana.encrypt(opus()))!)).not.toBeNull()
  })

  test("a speaker's frame moved onto another speaker's stream does not open there", async () => {
    const { ana, bea, calId, anaId } = await room()
    const sealed = (await ana.encrypt(opus()))!
    expect(await bea.decrypt(new SframeStream(calId), sealed)).toBeNull()
    expect(bea.counters.dropped.auth).toBe(1)
    expect(await bea.decrypt(new SframeStream(), sealed)).toBeNull()
    expect(bea.counters.dropped['no-sender']).toBe(1)
    expect(await bea.decrypt(new SframeStream('not-a-key'), sealed)).toBeNull()
    expect(bea.counters.dropped['no-sender']).toBe(2)
    expect(await bea.decrypt(new SframeStream(anaId), sealed)).not.toBeNull()
  })

  test('a replayed frame is dropped; reordering within the window is not; re-attribution starts afresh', async () => {
    const { ana, bea, anaId } = await room()
    const frames = await Promise.all(Array.from({ length: 6 }, (_, i) => ana.encrypt(opus(60, i))))
    const ctrs = frames.map((f) => decodeHeader(f!)!.ctr)
    expect(new Set(ctrs).size).toBe(6) // one counter, even for concurrent calls
    const stream = new SframeStream(anaId)
    for (const i of [0, 2, 1, 5, 3, 4]) expect(await bea.decrypt(stream, frames[i]!), `frame ${i}`).not.toBeNull()
    for (const i of [0, 5, 3]) expect(await bea.decrypt(stream, frames[i]!)).toBeNull()
    expect(bea.counters.dropped.replay).toBe(3)
    stream.sender = null
    stream.sender = anaId
    expect(await bea.decrypt(stream, frames[0]!)).not.toBeNull()
  })

  test('a frame further behind than the replay window is dropped', async () => {
    const [a, b] = await Promise.all([generateIdentity(), generateIdentity()])
    const secret = crypto.getRandomValues(new Uint8Array(32))
    const early = new SframeKeyring({ self: a.publicKey, ctrStart: 1000n })
    const late = new SframeKeyring({ self: a.publicKey, ctrStart: 1000n + BigInt(REPLAY_WINDOW) })
    const rx = new SframeKeyring({ self: b.publicKey, ctrStart: 0n })
    for (const k of [early, late, rx]) k.addEpoch(0, secret)
    const old = (await early.encrypt(opus()))!
    const stream = new SframeStream(keyId(a.publicKey))
    expect(await rx.decrypt(stream, (await late.encrypt(opus()))!)).not.toBeNull()
    expect(await rx.decrypt(stream, old)).toBeNull()
    expect(rx.counters.dropped.replay).toBe(1)
  })

  test('epochs: KID says which, a key change costs no frame, old epochs stop being accepted', async () => {
    const { ana, bea, anaId } = await room()
    const stream = new SframeStream(anaId)
    const before = [(await ana.encrypt(opus(80, 1)))!, (await ana.encrypt(opus(80, 2)))!, (await ana.encrypt(opus(80, 3)))!]
    const secret1 = crypto.getRandomValues(new Uint8Array(32))
    // The receiver learns epoch 1 first; the sender's epoch-0 frames still open meanwhile.
    bea.addEpoch(1, secret1)
    expect(await bea.decrypt(stream, before[0]!)).not.toBeNull()
    ana.addEpoch(1, secret1)
    expect(ana.sendEpoch).toBe(1)
    const after = (await ana.encrypt(opus()))!
    expect(decodeHeader(after)!.kid).toBe(1n)
    expect(await bea.decrypt(stream, after)).not.toBeNull()
    // A late epoch-0 frame (reordered around the change) still opens just after the switch ...
    expect(await bea.decrypt(stream, before[1]!)).not.toBeNull()
    for (let i = 0; i < OLD_EPOCH_FRAMES; i++) expect(await bea.decrypt(stream, (await ana.encrypt(opus()))!)).not.toBeNull()
    // ... but not once the sender has spoken under epoch 1 for a second: the old key, which a
    // member banned at the rotation still holds, no longer speaks for anyone on this stream.
    expect(await bea.decrypt(stream, before[2]!)).toBeNull()
    expect(bea.counters.dropped['old-epoch']).toBe(1)
    expect(bea.counters.dropped.auth).toBe(0)
    expect(bea.epochs).toEqual([0, 1])
  })

  test('only the newest epochs are kept; a receiver without the epoch drops and counts', async () => {
    const { ana, bea, anaId, secret } = await room()
    const s1 = crypto.getRandomValues(new Uint8Array(32))
    const s2 = crypto.getRandomValues(new Uint8Array(32))
    ana.addEpoch(1, s1)
    ana.addEpoch(2, s2)
    expect(ana.epochs).toEqual([1, 2])
    expect(ana.addEpoch(0, secret)).toBe(false)
    expect(ana.sendEpoch).toBe(2)
    const sealed = (await ana.encrypt(opus()))!
    expect(await bea.decrypt(new SframeStream(anaId), sealed)).toBeNull()
    expect(bea.counters.dropped['unknown-epoch']).toBe(1)
    expect(() => ana.addEpoch(2, s1)).toThrow(expect.objectContaining({ code: 'epoch-conflict' }))
    expect(() => ana.addEpoch(3, new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'bad-secret' }))
    ana.retireEpoch(2)
    expect(ana.sendEpoch).toBe(1)
  })

  test('nothing is sent in the clear before the first epoch', async () => {
    const a = await generateIdentity()
    const k = new SframeKeyring({ self: a.publicKey, ctrStart: 0n })
    expect(await k.encrypt(opus())).toBeNull()
    expect(k.counters.dropped['no-key']).toBe(1)
  })

  test('base keys differ per epoch and per sender; counters start above any earlier session', async () => {
    const secret = new Uint8Array(32).fill(7)
    const a = new Uint8Array(32).fill(1)
    const b = new Uint8Array(32).fill(2)
    const keys = [baseKey(secret, 0, a), baseKey(secret, 1, a), baseKey(secret, 0, b)].map(toHex)
    expect(new Set(keys).size).toBe(3)
    const now = Date.now()
    expect(counterStart(now + 1)).toBeGreaterThan(counterStart(now) + 65_535n)
    expect(encodeHeader(0n, counterStart(now)).length).toBe(8)
  })
})
