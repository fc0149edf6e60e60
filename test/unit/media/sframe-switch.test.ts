/**
 * A sender's switch to a new epoch (SframeKeyring `switchDelayMs`, src/media/sframe.ts): members
 * learn a rotation moments apart, so a sender keeps sealing under the epoch before for a while
 * and every receiver opens every frame, whether it learnt the new epoch before the sender or after.
 */
import { describe, expect, test } from 'vitest'
import { counterStart, decodeHeader, SEND_SWITCH_DELAY_MS, SframeKeyring, SframeStream } from '../../../src/media/sframe.ts'
import { generateIdentity, keyId } from '../../../src/identity/index.ts'

const secret = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32))
const opus = (seed = 1): Uint8Array => Uint8Array.from({ length: 60 }, (_, i) => (i === 0 ? 0xfc : (i * 31 + seed) & 0xff))

async function pair() {
  const [a, b] = await Promise.all([generateIdentity(), generateIdentity()])
  let now = 1000
  const clock = { advance: (ms: number) => (now += ms) }
  const ana = new SframeKeyring({ self: a.publicKey, ctrStart: counterStart(Date.now()), switchDelayMs: SEND_SWITCH_DELAY_MS, now: () => now })
  const bea = new SframeKeyring({ self: b.publicKey, ctrStart: counterStart(Date.now()), switchDelayMs: SEND_SWITCH_DELAY_MS, now: () => now })
  const s0 = secret()
  ana.addEpoch(0, s0)
  bea.addEpoch(0, s0)
  return { ana, bea, clock, fromAna: new SframeStream(keyId(a.publicKey)) }
}

const kid = async (k: SframeKeyring): Promise<bigint> => decodeHeader((await k.encrypt(opus()))!)!.kid

describe('SframeKeyring: switching to a new epoch', () => {
  test('the sender seals under the epoch before for SEND_SWITCH_DELAY_MS: a receiver that learns the rotation late drops nothing', async () => {
    const { ana, bea, clock, fromAna } = await pair()
    const s1 = secret()
    ana.addEpoch(1, s1) // Ana wrote the rotation: she knows first
    expect(ana.sendEpoch).toBe(0)
    expect(ana.epochs).toEqual([0, 1])
    for (let t = 0; t < SEND_SWITCH_DELAY_MS; t += 20) {
      expect(await bea.decrypt(fromAna, (await ana.encrypt(opus()))!)).not.toBeNull()
      if (t === 400) bea.addEpoch(1, s1) // Bea learns it 400 ms later
      clock.advance(20)
    }
    expect(ana.sendEpoch).toBe(1)
    expect(await bea.decrypt(fromAna, (await ana.encrypt(opus()))!)).not.toBeNull()
    expect(bea.counters.dropped['unknown-epoch']).toBe(0)
    expect(bea.counters.decrypted).toBe(SEND_SWITCH_DELAY_MS / 20 + 1)
  })

  test('a receiver opens the new epoch as soon as it holds it (a sender that learnt it first switches on its own time)', async () => {
    const { ana, bea, clock, fromAna } = await pair()
    const s1 = secret()
    bea.addEpoch(1, s1)
    ana.addEpoch(1, s1)
    clock.advance(SEND_SWITCH_DELAY_MS)
    const sealed = (await ana.encrypt(opus()))!
    expect(decodeHeader(sealed)!.kid).toBe(1n)
    expect(await bea.decrypt(fromAna, sealed)).not.toBeNull()
  })

  test('the first epoch, an epoch further ahead (a joiner catching up), and sendWith switch at once', async () => {
    const { ana, clock } = await pair()
    const fresh = new SframeKeyring({ self: (await generateIdentity()).publicKey, ctrStart: 0n, switchDelayMs: SEND_SWITCH_DELAY_MS })
    fresh.addEpoch(3, secret())
    expect(fresh.sendEpoch).toBe(3)
    ana.addEpoch(2, secret())
    expect(await kid(ana)).toBe(2n)
    ana.addEpoch(3, secret())
    expect(await kid(ana)).toBe(2n)
    ana.sendWith(3)
    expect(await kid(ana)).toBe(3n)
    clock.advance(SEND_SWITCH_DELAY_MS)
    expect(await kid(ana)).toBe(3n)
  })

  test('a second rotation during the delay: the epoch before it is sent with, the newest after its own delay', async () => {
    const { ana, clock } = await pair()
    ana.addEpoch(1, secret())
    clock.advance(SEND_SWITCH_DELAY_MS / 2)
    ana.addEpoch(2, secret()) // epoch 0 is no longer kept: its frames would open nowhere
    expect(ana.epochs).toEqual([1, 2])
    expect(await kid(ana)).toBe(1n)
    clock.advance(SEND_SWITCH_DELAY_MS - 1)
    expect(await kid(ana)).toBe(1n)
    clock.advance(1)
    expect(await kid(ana)).toBe(2n)
  })

  test('without switchDelayMs the newest epoch is sent with at once; retiring a pending epoch cancels its switch', async () => {
    const [a] = await Promise.all([generateIdentity()])
    const k = new SframeKeyring({ self: a.publicKey, ctrStart: 0n })
    k.addEpoch(0, secret())
    k.addEpoch(1, secret())
    expect(k.sendEpoch).toBe(1)
    const { ana, clock } = await pair()
    ana.addEpoch(1, secret())
    ana.retireEpoch(1)
    clock.advance(SEND_SWITCH_DELAY_MS)
    expect(ana.sendEpoch).toBe(0)
  })
})
