/**
 * NetworkSwitch (src/participant/network-switch.ts): signs of a network change become one
 * switch, which reconnects signalling first and then restarts every link.
 */
import { describe, expect, it } from 'vitest'
import { LINKS_COOLDOWN_MS, LINKS_WINDOW_MS, NetworkSwitch, SIGNAL_WAIT_MS } from '../../../src/participant/network-switch.ts'
import { TypedEmitter } from '../../../src/base/emitter.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
}

class Links extends TypedEmitter<{ 'peer-state': (id: string, state: RTCPeerConnectionState) => void; 'peer-disconnected': (id: string) => void }> {
  state(id: string, state: RTCPeerConnectionState): void {
    this.emit('peer-state', id, state)
  }
}

function setup(signalling: 'instant' | 'held' | 'none' = 'instant') {
  const clock = fakeTimers(1_000_000)
  const log: string[] = []
  let open: (() => void) | null = null
  const sw = new NetworkSwitch({
    restartLinks: () => log.push('restart'),
    ...(signalling === 'none'
      ? {}
      : {
          reconnectSignalling: () => {
            log.push('signal')
            return signalling === 'instant' ? Promise.resolve() : new Promise<void>((ok) => (open = ok))
          },
        }),
    onSwitch: (reason) => log.push(`switch:${reason}`),
    timers: clock.timers,
    now: clock.now,
  })
  return { sw, clock, log, open: () => open?.() }
}

describe('NetworkSwitch', () => {
  it('signs close together are one switch: signalling reconnects, then every link restarts', async () => {
    const { sw, clock, log } = setup()
    sw.notice('addresses')
    sw.notice('online')
    expect(log).toEqual([])
    clock.advance(250)
    await flush()
    expect(log).toEqual(['switch:addresses', 'signal', 'restart'])
    expect(sw.switches).toBe(1)
  })

  it('the links restart only once signalling is open again, or after SIGNAL_WAIT_MS at most', async () => {
    const held = setup('held')
    held.sw.notice('addresses')
    held.clock.advance(250)
    await flush()
    expect(held.log).toEqual(['switch:addresses', 'signal'])
    held.open()
    await flush()
    expect(held.log.at(-1)).toBe('restart')

    const never = setup('held')
    never.sw.notice('addresses')
    never.clock.advance(250)
    await flush()
    never.clock.advance(SIGNAL_WAIT_MS - 1)
    await flush()
    expect(never.log).not.toContain('restart')
    never.clock.advance(1)
    await flush()
    expect(never.log.at(-1)).toBe('restart')
  })

  it('without signalling to reconnect (hyperswarm) the links restart at once', async () => {
    const { sw, clock, log } = setup('none')
    sw.notice('addresses')
    clock.advance(250)
    await flush()
    expect(log).toEqual(['switch:addresses', 'restart'])
  })

  it('a sign during a switch runs one more switch after it', async () => {
    const { sw, clock, log, open } = setup('held')
    sw.notice('addresses')
    clock.advance(250)
    await flush()
    sw.notice('addresses')
    sw.notice('addresses')
    open()
    await flush()
    clock.advance(250)
    await flush()
    expect(log.filter((l) => l.startsWith('switch'))).toHaveLength(2)
  })

  it("every mesh link 'disconnected' within LINKS_WINDOW_MS is a sign; one link, or links going down apart, is not", async () => {
    const { sw, clock, log } = setup()
    const mesh = new Links()
    sw.followLinks(mesh)
    mesh.state('a', 'connected')
    mesh.state('a', 'disconnected')
    clock.advance(LINKS_WINDOW_MS + 1)
    await flush()
    expect(log).toEqual([]) // one link: a single peer's hiccup, its own ICE restart handles it
    mesh.state('b', 'connected')
    mesh.state('b', 'disconnected') // more than LINKS_WINDOW_MS after a went down
    clock.advance(LINKS_WINDOW_MS)
    await flush()
    expect(log).toEqual([])
    mesh.state('a', 'connected')
    mesh.state('a', 'disconnected')
    clock.advance(250)
    await flush()
    expect(log).toEqual(['switch:links', 'signal', 'restart'])
    // Its own doing: links going down just after a switch are not believed.
    for (const id of ['a', 'b']) mesh.state(id, 'connected')
    for (const id of ['a', 'b']) mesh.state(id, 'disconnected')
    clock.advance(250)
    await flush()
    expect(sw.switches).toBe(1)
    clock.advance(LINKS_COOLDOWN_MS)
    for (const id of ['a', 'b']) mesh.state(id, 'connected')
    for (const id of ['a', 'b']) mesh.state(id, 'failed')
    clock.advance(250)
    await flush()
    expect(sw.switches).toBe(2)
  })

  it('destroy() cancels a pending switch and stops following links', async () => {
    const { sw, clock, log } = setup()
    const mesh = new Links()
    sw.followLinks(mesh)
    sw.notice('addresses')
    sw.destroy()
    sw.destroy()
    clock.advance(1000)
    await flush()
    expect([log, clock.pending()]).toEqual([[], 0])
    for (const id of ['a', 'b']) mesh.state(id, 'disconnected')
    expect(log).toEqual([])
  })
})
