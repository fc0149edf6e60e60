/** The browser's signs of a network switch, and a session following them (src/app/network-signals.ts). */
import { describe, expect, it } from 'vitest'
import { followBrowserNetwork, watchBrowserNetwork } from '../../../src/app/network-signals.ts'
import { TypedEmitter } from '../../../src/base/emitter.ts'
import type { RoomClient } from '../../../src/participant/room-client.ts'
import type { SignalClient } from '../../../src/net/signal-client.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'

describe('watchBrowserNetwork', () => {
  it("'online' and a change of navigator.connection's type are signs, 'offline' is not; stopping removes every listener", () => {
    const connection = Object.assign(new EventTarget(), { type: 'wifi' })
    const win = Object.assign(new EventTarget(), { navigator: { connection } })
    const signs: string[] = []
    const stop = watchBrowserNetwork(win as never, (reason) => signs.push(reason))
    win.dispatchEvent(new Event('offline'))
    win.dispatchEvent(new Event('online'))
    connection.type = 'cellular'
    connection.dispatchEvent(new Event('change'))
    expect(signs).toEqual(['online', 'connection'])
    stop()
    win.dispatchEvent(new Event('online'))
    connection.type = 'wifi'
    connection.dispatchEvent(new Event('change'))
    expect(signs).toHaveLength(2)
  })

  it("a 'change' of the estimates only (same type, or no type: desktop Chromium) is no switch", () => {
    for (const type of ['wifi', undefined]) {
      const connection = Object.assign(new EventTarget(), { type, rtt: 50 })
      const signs: string[] = []
      const stop = watchBrowserNetwork(Object.assign(new EventTarget(), { navigator: { connection } }) as never, (reason) => signs.push(reason))
      for (const rtt of [100, 250, 50]) {
        connection.rtt = rtt
        connection.dispatchEvent(new Event('change'))
      }
      stop()
      expect(signs, String(type)).toEqual([])
    }
  })

  it('works without the Network Information API (Firefox, Safari)', () => {
    const win = new EventTarget()
    const signs: string[] = []
    const stop = watchBrowserNetwork(win as never, (reason) => signs.push(reason))
    win.dispatchEvent(new Event('online'))
    stop()
    expect(signs).toEqual(['online'])
  })
})

/** The RoomClient, SignalClient and window a session hands to followBrowserNetwork, as fakes. */
function wiring() {
  const log: string[] = []
  const clock = fakeTimers(1_000_000)
  const mesh = new (class extends TypedEmitter<{ 'peer-state': (id: string, state: RTCPeerConnectionState) => void; 'peer-disconnected': (id: string) => void }> {
    state(id: string, state: RTCPeerConnectionState): void {
      this.emit('peer-state', id, state)
    }
  })()
  const client = { mesh, restartLinks: () => log.push('restart') } as unknown as RoomClient
  const signal = new (class extends TypedEmitter<{ open: () => void }> {
    isDestroyed = false
    reconnect(): void {
      log.push('signal')
      queueMicrotask(() => this.emit('open'))
    }
  })()
  const win = new EventTarget()
  const stop = followBrowserNetwork(client, signal as unknown as SignalClient, win as never, {
    onSwitch: (reason) => log.push(`switch:${reason}`),
    onRestarted: () => log.push('restarted'),
    timers: clock.timers,
  })
  return { log, clock, mesh, win, stop }
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
}

describe('followBrowserNetwork', () => {
  it("'online' is a switch: signalling reconnects, then every link restarts and the session is told; stopped, it hears nothing", async () => {
    const { log, clock, win, stop } = wiring()
    win.dispatchEvent(new Event('online'))
    clock.advance(250)
    await flush()
    expect(log).toEqual(['switch:online', 'signal', 'restart', 'restarted'])
    stop()
    win.dispatchEvent(new Event('online'))
    clock.advance(60_000)
    await flush()
    expect(log).toHaveLength(4)
  })

  it('every mesh link disconnected at once is a switch too', async () => {
    const { log, clock, mesh, stop } = wiring()
    mesh.state('a', 'disconnected')
    mesh.state('b', 'disconnected')
    clock.advance(250)
    await flush()
    expect(log).toEqual(['switch:links', 'signal', 'restart', 'restarted'])
    stop()
  })
})
