/**
 * "Reconnecting…" after a network switch (src/app/reconnecting.ts), and the room mode it
 * shows as (src/app/session-snapshot.ts).
 */
import { describe, expect, it } from 'vitest'
import { Reconnecting, RECONNECTING_MAX_MS } from '../../../src/app/reconnecting.ts'
import { roomMode, type SnapshotParts } from '../../../src/app/session-snapshot.ts'
import { TypedEmitter } from '../../../src/base/emitter.ts'
import type { RelayState } from '../../../src/participant/relay-path.ts'
import type { Via } from '../../../src/participant/room-client.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'

class FakeRelay extends TypedEmitter<{ state: (state: RelayState) => void }> {
  state: RelayState = 'ready'
  set(state: RelayState): void {
    this.state = state
    this.emit('state', state)
  }
}

function setup(via: Via) {
  const clock = fakeTimers()
  const relay = new FakeRelay()
  const shown: boolean[] = []
  const r: Reconnecting = new Reconnecting({ via: () => via, relay, onchange: () => shown.push(r.active), timers: clock.timers })
  return { r, relay, clock, shown }
}

describe('Reconnecting', () => {
  it('on the mesh: from the switch until its links were restarted', () => {
    const { r, shown } = setup('mesh')
    expect(r.active).toBe(false)
    r.switched()
    expect(r.active).toBe(true)
    r.restarted()
    expect(r.active).toBe(false)
    expect(shown).toEqual([true, false])
  })

  it('through the relay: until the relay path made anew is ready again', () => {
    const { r, relay, shown } = setup('relay')
    r.switched()
    relay.set('connecting') // the restart makes the relay path anew
    r.restarted()
    expect(r.active).toBe(true)
    relay.set('ready')
    expect(r.active).toBe(false)
    expect(shown).toEqual([true, false])
  })

  it('bounded: past RECONNECTING_MAX_MS the usual modes take over; a second switch starts the bound again', () => {
    const { r, relay, clock, shown } = setup('relay')
    r.switched()
    clock.advance(RECONNECTING_MAX_MS - 1)
    r.switched()
    clock.advance(RECONNECTING_MAX_MS - 1)
    expect(r.active).toBe(true)
    relay.set('connecting')
    r.restarted()
    clock.advance(1)
    expect(r.active).toBe(false)
    expect(shown).toEqual([true, false])
    expect(clock.pending()).toBe(0)
  })

  it('closed: nothing shown, no timer, no listener', () => {
    const { r, relay, clock, shown } = setup('relay')
    r.switched()
    r.close()
    r.close()
    expect(r.active).toBe(false)
    expect(clock.pending()).toBe(0)
    expect(relay.listenerCount('state')).toBe(0)
    r.switched()
    relay.set('ready')
    expect(shown).toEqual([true])
  })
})

describe('roomMode while reconnecting', () => {
  const parts = (patch: Partial<SnapshotParts>, planMode = 'mesh'): SnapshotParts =>
    ({
      client: { plan: { mode: planMode }, via: 'mesh', mesh: { connected: [] } },
      signal: { connected: true },
      online: () => true,
      signalUnreachable: false,
      reconnecting: false,
      ...patch,
    }) as unknown as SnapshotParts

  it('shows reconnecting, but offline and a full room still say what they are', () => {
    expect(roomMode(parts({ reconnecting: true })).mode).toBe('reconnecting')
    expect(roomMode(parts({ reconnecting: false })).mode).toBe('mesh')
    expect(roomMode(parts({ reconnecting: true, online: () => false })).mode).toBe('offline')
    expect(roomMode(parts({ reconnecting: true }, 'full')).mode).toBe('mesh')
  })
})
