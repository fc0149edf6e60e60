/**
 * The mesh's epoch handoff (src/participant/epoch-responder.ts) over a hand-driven bus and clock:
 * who answers a newcomer on the old topic and when, what is never answered, how long the old
 * topic is kept, and what the newcomer's side takes off its bus.
 */
import { describe, expect, it } from 'vitest'
import { TypedEmitter } from '../../../src/base/emitter.ts'
import type { BusMessage, SignalBus, SignalBusEvents } from '../../../src/net/bus.ts'
import { SwitchBus } from '../../../src/net/switch-bus.ts'
import { encodeHandoff, EpochResponder, HANDOFF_RESPOND_MS, MAX_RANK, parseHandoff, RANK_STEP_MS, receiveHandoffs, SETTLE_MS } from '../../../src/participant/epoch-responder.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'

class FakeBus extends TypedEmitter<SignalBusEvents> implements SignalBus {
  readonly peers = new Set<string>()
  readonly sent: Array<[string, BusMessage]> = []
  destroyed = false
  constructor(readonly selfId: string) {
    super()
  }
  join(id: string): void {
    this.peers.add(id)
    this.emit('peer-joined', id)
  }
  receive(from: string, msg: BusMessage): void {
    this.emit('message', from, msg)
  }
  leave(id: string): void {
    this.peers.delete(id)
    this.emit('peer-left', id)
  }
  publish(msg: BusMessage): void {
    for (const id of this.peers) this.send(id, msg)
  }
  send(id: string, msg: BusMessage): boolean {
    if (!this.peers.has(id)) return false
    this.sent.push([id, msg])
    return true
  }
  async destroy(): Promise<void> {
    this.destroyed = true
    this.removeAllListeners()
  }
}

const entries = [new Uint8Array([1, 2, 3]), new Uint8Array(2000).fill(7)]

function responder(self: string, opts: { current?: Set<string>; old?: string[] } = {}) {
  const t = fakeTimers(1_000_000)
  const bus = new FakeBus(self)
  for (const id of opts.old ?? []) bus.peers.add(id)
  const current = opts.current ?? new Set<string>()
  const r = new EpochResponder({ bus, current: () => current, handoff: () => entries, lifetimeMs: HANDOFF_RESPOND_MS, timers: t.timers, now: t.now })
  return { t, bus, current, r }
}

/** Newcomers answered by `bus`. */
const answered = (bus: FakeBus) => [...new Set(bus.sent.map(([id]) => id))]

describe('EpochResponder', () => {
  it('answers a newcomer on the old topic with the handoff, once', () => {
    const { t, bus, r } = responder('a')
    bus.join('newcomer')
    t.advance(0)
    expect(answered(bus)).toEqual(['newcomer'])
    const chunks = bus.sent.map(([, m]) => parseHandoff(m)!)
    expect(chunks.flatMap((c) => c.entries)).toEqual(entries)
    t.advance(60_000)
    expect(answered(bus)).toEqual(['newcomer'])
    expect(r.stats.answered).toBe(1)
  })

  it('responders online on both topics take turns by rank; a newcomer that moved meanwhile is not answered again', () => {
    // a, b and c moved (each sees the others on both topics); each ranks itself for the newcomer.
    const ids = ['a', 'b', 'c']
    const all = ids.map((self) => responder(self, { current: new Set(ids.filter((x) => x !== self)), old: ids.filter((x) => x !== self) }))
    for (const { bus } of all) bus.join('n1')
    for (const { t } of all) t.advance(0)
    // Exactly one (rank 0) answers at once; the others wait their turn.
    expect(all.filter(({ bus }) => bus.sent.length > 0)).toHaveLength(1)
    // The newcomer opened its box and left the old topic before the next turn.
    for (const { bus } of all) bus.leave('n1')
    for (const { t } of all) t.advance(MAX_RANK * RANK_STEP_MS)
    expect(all.filter(({ bus }) => bus.sent.length > 0)).toHaveLength(1)
    // One that stays (no box: "replaced") is answered by each rank in turn, at most MAX_RANK.
    for (const { bus } of all) bus.join('n2')
    for (const { t } of all) t.advance(MAX_RANK * RANK_STEP_MS)
    expect(all.filter(({ bus }) => answered(bus).includes('n2'))).toHaveLength(3)
  })

  it('does not answer members on the new topic; answers those left behind after SETTLE_MS', () => {
    const { t, bus, current } = responder('a', { old: ['moved', 'behind'], current: new Set(['moved']) })
    t.advance(SETTLE_MS - 1)
    expect(bus.sent).toEqual([])
    t.advance(1)
    expect(answered(bus)).toEqual(['behind'])
    // A member that moves to the new topic is not answered when it shows up on the old one.
    current.add('late')
    bus.join('late')
    t.advance(1000)
    expect(answered(bus)).toEqual(['behind'])
  })

  it('keeps the old topic for its lifetime only, and bounds what it sends', () => {
    const { t, bus, r } = responder('a')
    for (let i = 0; i < 20; i++) bus.join(`stranger-${i}`)
    t.advance(0)
    // A stranger rejoining under fresh ids gets a burst, then one every 2 s.
    expect(r.stats.answered).toBe(6)
    expect(r.stats.limited).toBe(14)
    t.advance(HANDOFF_RESPOND_MS)
    expect(bus.destroyed).toBe(true)
    expect(r.destroyed).toBe(true)
    expect(t.pending()).toBe(0)
  })
})

describe('the handoff on the wire', () => {
  it('splits under the signalling cap and reads back; anything else is not a handoff', () => {
    const many = Array.from({ length: 60 }, (_, i) => new Uint8Array(2048).fill(i))
    const chunks = encodeHandoff(many)
    expect(chunks.length).toBeGreaterThan(1)
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(30_000)
    expect(chunks.flatMap((c) => parseHandoff(c)!.entries)).toEqual(many)
    for (const junk of ['', '{}', '{"t":"stoop/handoff/v1","i":2,"n":2,"e":[]}', '{"t":"stoop/handoff/v1","i":0,"n":1,"e":["!"]}', '{"t":"stoop/handoff/v1","i":0,"n":1,"e":[' , new Uint8Array(3)]) {
      expect(parseHandoff(junk)).toBeNull()
    }
  })

  it('the newcomer takes handoffs off its bus (the mesh never sees them), whole and one at a time', async () => {
    const inner = new FakeBus('me')
    const bus = new SwitchBus(inner)
    const seen: BusMessage[] = []
    bus.on('message', (_f, m) => seen.push(m))
    const got: Uint8Array[][] = []
    let release: () => void = () => undefined
    const counts = { received: 0, dropped: 0, failed: 0 }
    receiveHandoffs(bus, (e) => (got.push(e), new Promise<void>((ok) => (release = ok))), counts)
    inner.join('r1')
    inner.join('r2')
    const many = Array.from({ length: 15 }, (_, i) => new Uint8Array(2048).fill(i))
    const chunks = encodeHandoff(many)
    expect(chunks).toHaveLength(2)
    const [c0, c1] = chunks
    inner.receive('r1', c0!)
    inner.receive('r2', c1!) // out of order for r2: dropped
    inner.receive('r1', c1!)
    inner.receive('r1', 'mesh signal')
    expect(got).toEqual([many])
    // Another one while the first is being checked: dropped.
    for (const c of encodeHandoff(entries)) inner.receive('r2', c)
    release()
    await new Promise((r) => setTimeout(r, 0))
    for (const c of encodeHandoff(entries)) inner.receive('r2', c)
    expect(got).toEqual([many, entries])
    expect(counts).toEqual({ received: 2, dropped: 2, failed: 0 })
    expect(seen).toEqual(['mesh signal'])
    await bus.destroy()
  })
})
