/**
 * SealedBus (the room-key layer over hyperswarm): anyone who knows a room's discovery key (it
 * derives from the room id alone) can open a connection and send bytes. What does not open
 * with the room key is dropped and counted; it never decides anything about our own key.
 */
import { describe, expect, it, vi } from 'vitest'
import { deriveSignalKey, sealPayload } from '../../../src/net/room-crypto.ts'
import { SealedBus } from '../../../src/net/sealed-bus.ts'
import { MemoryHub } from './mesh-fakes.ts'

describe('SealedBus', () => {
  it('junk from strangers, however much and before anything good, is counted, never a wrong-secret verdict', async () => {
    const key = await deriveSignalKey(new Uint8Array(32).fill(1))
    const strangerKey = await deriveSignalKey(new Uint8Array(32).fill(2))
    const hub = new MemoryHub()
    const alice = new SealedBus(hub.join('alice'), key)
    const bob = new SealedBus(hub.join('bob'), key)
    const verdicts: string[] = []
    // Whatever the event was called, nothing a stranger sends may end this member's session.
    ;(alice as unknown as { on(name: string, fn: () => void): void }).on('wrong-secret', () => verdicts.push('wrong-secret'))
    const got: unknown[] = []
    alice.on('message', (from, msg) => got.push([from, msg]))

    hub.join('stranger')
    for (let i = 0; i < 30; i++) hub.forge('stranger', 'alice', i % 2 ? 'junk' : await sealPayload(strangerKey, { s: `hi ${i}` }))
    await vi.waitFor(() => expect(alice.stats.unopenable).toBe(30))
    expect(verdicts).toEqual([])

    bob.send('alice', 'hello')
    await vi.waitFor(() => expect(got).toEqual([['bob', 'hello']]))
    expect(verdicts).toEqual([])
    await Promise.all([alice.destroy(), bob.destroy()])
  })
})
