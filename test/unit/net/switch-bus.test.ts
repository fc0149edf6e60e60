/**
 * SwitchBus moving to a new epoch's topic (src/net/switch-bus.ts): the members of the old topic
 * move too, a moment apart, so they stay joined while they do; the ones that never arrive are
 * reported left after the carry time. The bus contract holds throughout: one 'peer-joined' and
 * one matching 'peer-left' per peer.
 */
import { describe, expect, it } from 'vitest'
import { TypedEmitter } from '../../../src/base/emitter.ts'
import type { BusMessage, SignalBus, SignalBusEvents } from '../../../src/net/bus.ts'
import { CARRY_MS, SwitchBus } from '../../../src/net/switch-bus.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'

class FakeBus extends TypedEmitter<SignalBusEvents> implements SignalBus {
  readonly peers = new Set<string>()
  destroyed = false
  constructor(readonly selfId: string) {
    super()
  }
  join(id: string): void {
    this.peers.add(id)
    this.emit('peer-joined', id)
  }
  leave(id: string): void {
    this.peers.delete(id)
    this.emit('peer-left', id)
  }
  publish(): void {}
  send(id: string, _msg: BusMessage): boolean {
    return this.peers.has(id)
  }
  async destroy(): Promise<void> {
    this.destroyed = true
    for (const id of [...this.peers]) this.leave(id)
    this.removeAllListeners()
  }
}

function setup() {
  const t = fakeTimers()
  const first = new FakeBus('me')
  const bus = new SwitchBus(first, { timers: t.timers })
  const events: string[] = []
  bus.on('peer-joined', (id) => events.push(`+${id}`))
  bus.on('peer-left', (id) => events.push(`-${id}`))
  first.join('ana')
  first.join('bo')
  first.join('cy')
  events.length = 0
  return { t, first, bus, events }
}

describe('SwitchBus.switchTo', () => {
  it('keeps the old topic’s peers joined while they move: a relay room does not look empty for a moment', async () => {
    const { t, first, bus, events } = setup()
    const next = new FakeBus('me')
    next.join('ana') // already there
    await bus.switchTo(next)
    expect(first.destroyed).toBe(true)
    expect([...bus.peers].sort()).toEqual(['ana', 'bo', 'cy'])
    expect([...bus.current.peers]).toEqual(['ana'])
    next.join('bo')
    t.advance(CARRY_MS - 1)
    expect(events).toEqual([])
    expect([...bus.peers].sort()).toEqual(['ana', 'bo', 'cy'])
    // Cy never came: left once the carry is over.
    t.advance(1)
    expect(events).toEqual(['-cy'])
    expect([...bus.peers].sort()).toEqual(['ana', 'bo'])
    expect(t.pending()).toBe(0)
    next.leave('bo')
    expect(events).toEqual(['-cy', '-bo'])
  })

  it('a peer new on the new topic is joined at once; destroy reports every peer left, carried ones too, once', async () => {
    const { t, bus, events } = setup()
    const next = new FakeBus('me')
    next.join('dee')
    await bus.switchTo(next)
    expect(events).toEqual(['+dee'])
    await bus.destroy()
    expect(events.slice(1).sort()).toEqual(['-ana', '-bo', '-cy', '-dee'])
    expect(t.pending()).toBe(0)
    t.advance(CARRY_MS)
    expect(events).toHaveLength(5)
  })

  it('a carried peer that arrives, then leaves during the carry, is reported left once', async () => {
    const { t, bus, events } = setup()
    const next = new FakeBus('me')
    await bus.switchTo(next)
    next.join('ana')
    next.leave('ana')
    t.advance(CARRY_MS)
    expect(events.filter((e) => e.endsWith('ana'))).toEqual(['-ana'])
  })

  it('a second switch during the carry keeps carrying the peers still moving', async () => {
    const { t, bus, events } = setup()
    const next = new FakeBus('me')
    await bus.switchTo(next)
    t.advance(CARRY_MS / 2)
    const third = new FakeBus('me')
    third.join('bo')
    await bus.switchTo(third)
    expect([...bus.peers].sort()).toEqual(['ana', 'bo', 'cy'])
    t.advance(CARRY_MS)
    expect(events.sort()).toEqual(['-ana', '-cy'])
  })
})
