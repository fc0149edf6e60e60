/**
 * RelayPath's failover and standby on fake timers and fake relay clients: `Relays` stands for
 * the room's relays (which are up, who they forward), each FakeClient for one connection to
 * one of them. Promises settle on their own; `flush()` lets them.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { RelayPath, type RelayPathOptions, type RelayState } from '../../../src/participant/relay-path.ts'
import { RELAY_ERRORS, RelayError, type RelayClientEvents, type RelayWebSocketClass } from '../../../src/net/relay-client.ts'
import { TypedEmitter } from '../../../src/base/emitter.ts'
import { createLinkPair, type Link } from '../../../src/net/link.ts'
import { attachSync, createSyncStats, MSG_AWARENESS } from '../../../src/net/sync.ts'
import type { Identity } from '../../../src/identity/index.ts'
import type { PeerWrtc } from '../../../src/net/peer.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'

const A = 'wss://a.example/relay'
const B = 'wss://b.example/relay'
const C = 'wss://c.example/relay'
const RETRY_MS = 10_000
/** The first wait after a failed round: RELAY_RETRY's 1 s less a quarter (jitter 0.5, random() 0.5). */
const FIRST_WAIT_MS = 750
/** standbyDelayMs 1000 with random() 0.5. */
const STANDBY_AFTER_MS = 1500

let trackCount = 0
const fakeTrack = (): MediaStreamTrack => ({ id: `track-${++trackCount}`, kind: 'audio' }) as unknown as MediaStreamTrack
const local = { track: fakeTrack(), stream: {} as MediaStream }

/** The room's relays as the clients see them. */
class Relays {
  readonly up = new Set<string>()
  /** Who every relay forwards (cascaded relays carry the whole room). */
  speakers = ['speaker-1', 'speaker-2']
  refusePublish = false
  /** Relays that keep the room's doc (synced with each connection, as a relay does from its join; doc only). */
  readonly docs = new Map<string, Y.Doc>()
  /** What the relays' welcome says: the room is on them (someone publishes or subscribes there). */
  serving = false
  readonly clients: FakeClient[] = []

  /** The relay dies: its connections close with an error, and it accepts no new one. */
  kill(url: string): void {
    this.up.delete(url)
    for (const c of this.clients) if (c.url === url) c.destroy(new RelayError(RELAY_ERRORS.CLOSED, `${url} went away`))
  }
}

class FakeClient extends TypedEmitter<RelayClientEvents> {
  url: string | null = null
  destroyed = false
  roomOnRelay = false
  readonly subscribes: Array<'standby' | 'live'> = []
  publishes = 0
  unpublishes = 0
  /** Room sync messages sent to the relay, and their type bytes (sync.ts). */
  syncSent = 0
  readonly syncTypes: number[] = []
  readonly link: Link
  readonly #relaySide: Link
  readonly tracks = new Map<MediaStreamTrack, string>()

  constructor(readonly relays: Relays) {
    super()
    // Delivered a macrotask later, as over a socket: the relay's step 1 reaches the sync attached after `connect`.
    const [mine, relaySide] = createLinkPair({ deliver: setImmediate })
    relaySide.on('message', (bytes) => {
      this.syncSent++
      this.syncTypes.push(bytes[0]!)
    })
    this.link = mine
    this.#relaySide = relaySide
  }

  async connect(url: string): Promise<void> {
    this.url = url
    const doc = this.relays.docs.get(url)
    if (doc) attachSync(doc, null, this.#relaySide)
    await Promise.resolve()
    this.#check()
    this.roomOnRelay = this.relays.serving
  }

  /** Like the relay, offers the room's speakers after the first subscribe (live or standby). */
  async subscribe(opts: { standby?: boolean } = {}): Promise<void> {
    this.subscribes.push(opts.standby ? 'standby' : 'live')
    await Promise.resolve()
    this.#check()
    if (this.subscribes.length > 1) return
    setImmediate(() => {
      if (!this.destroyed) for (const id of this.relays.speakers) this.addTrack(id)
    })
  }

  async publish(): Promise<void> {
    this.publishes++
    await Promise.resolve()
    this.#check()
    if (this.relays.refusePublish) throw new RelayError(RELAY_ERRORS.PUBLISH_REFUSED, 'not on stage')
  }

  unpublish(): void {
    this.unpublishes++
  }

  /** As RelayClient: marked first, tracks ended before the close, then silent. */
  destroy(err?: RelayError | null): void {
    if (this.destroyed) return
    this.destroyed = true
    const tracks = [...this.tracks]
    this.tracks.clear()
    for (const [track, id] of tracks) this.emit('track-ended', id, track)
    this.emit('close', err ?? null)
    this.removeAllListeners()
  }

  addTrack(id: string): MediaStreamTrack {
    const track = fakeTrack()
    this.tracks.set(track, id)
    this.emit('track', id, track, null)
    return track
  }

  say<K extends keyof RelayClientEvents>(event: K, ...args: Parameters<RelayClientEvents[K]>): void {
    this.emit(event, ...args)
  }

  #check(): void {
    if (this.destroyed) throw new RelayError(RELAY_ERRORS.DESTROYED, 'destroyed')
    if (!this.relays.up.has(this.url!)) throw new RelayError(RELAY_ERRORS.UNREACHABLE, `${this.url} is down`)
  }
}


const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
}

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

function setup(urls: string[], up: string[] = urls, opts: Partial<RelayPathOptions> = {}) {
  const relays = new Relays()
  for (const u of up) relays.up.add(u)
  const { timers, advance, pending } = fakeTimers()
  const doc = new Y.Doc()
  const awareness = new Awareness(doc)
  const path = new RelayPath(
    {
      url: urls,
      WebSocket: class {} as unknown as RelayWebSocketClass,
      retryMs: RETRY_MS,
      standbyDelayMs: 1000,
      random: () => 0.5,
      timers,
      createClient: () => {
        const client = new FakeClient(relays)
        relays.clients.push(client)
        return client
      },
      ...opts,
    },
    {
      wrtc: {} as PeerWrtc,
      identity: {} as Identity,
      roomId: 'room',
      doc,
      awareness,
      acceptUpdate: () => true,
      syncStats: createSyncStats(),
    },
  )
  cleanups.push(() => {
    path.destroy()
    awareness.destroy()
  })
  const states: RelayState[] = []
  const heard: string[] = []
  path.on('state', (s) => states.push(s))
  path.on('track', (id) => heard.push(`+${id}`))
  path.on('track-ended', (id) => heard.push(`-${id}`))
  const client = (i: number): FakeClient => relays.clients[i]!
  return { path, relays, advance, pending, doc, states, heard, client }
}

/** Started and ready on the first relay, its tracks arrived. */
async function readyOn(urls: string[], up: string[] = urls, opts: Partial<RelayPathOptions> = {}) {
  const s = setup(urls, up, opts)
  s.path.start()
  await flush()
  expect(s.path.state).toBe('ready')
  s.states.length = 0
  s.heard.length = 0
  return s
}

describe('RelayPath: start and failover', () => {
  it('start: connecting, then ready on the first relay, subscribed, with its tracks and the room sync', async () => {
    const { path, states, heard, client } = setup([A, B])
    path.start()
    expect(states).toEqual(['connecting'])
    await flush()
    expect(states).toEqual(['connecting', 'ready'])
    expect(path).toMatchObject({ url: A, resumed: false, failingOver: false, available: true })
    expect(client(0).subscribes).toEqual(['live'])
    expect(heard).toEqual(['+speaker-1', '+speaker-2'])
    expect(client(0).syncSent).toBeGreaterThan(0)
  })

  it('the relay in use fails: the next relay of the list at once, failingOver meanwhile; its tracks play at once (resumed)', async () => {
    const { path, relays, states, heard, client } = await readyOn([A, B])
    relays.kill(A)
    expect(heard).toEqual(['-speaker-1', '-speaker-2'])
    expect(states).toEqual(['connecting'])
    expect(path).toMatchObject({ url: B, failingOver: true, available: true })
    await flush()
    expect(states).toEqual(['connecting', 'ready'])
    expect(path).toMatchObject({ url: B, failingOver: false, resumed: true })
    expect(client(1).url).toBe(B)
    expect(heard).toEqual(['-speaker-1', '-speaker-2', '+speaker-1', '+speaker-2'])
  })

  it('a relay that cannot be reached counts as failed too: the next one is tried', async () => {
    const { path, states } = setup([A, B], [B])
    path.start()
    await flush()
    expect(states).toEqual(['connecting', 'connecting', 'ready'])
    expect(path.url).toBe(B)
  })

  it('every relay failed in a row: failed, unavailable for a while, then idle and tried again from the first', async () => {
    const { path, relays, states, advance, client } = setup([A, B, C], [])
    path.start()
    await flush()
    expect(relays.clients.map((c) => c.url)).toEqual([A, B, C])
    expect(states).toEqual(['connecting', 'connecting', 'connecting', 'failed'])
    expect(path).toMatchObject({ available: false, failingOver: false })
    path.start() // neither start() nor stop() shortens the wait
    path.stop()
    expect(path.state).toBe('failed')
    advance(FIRST_WAIT_MS - 1)
    expect(path.available).toBe(false)
    advance(1)
    expect(states.at(-1)).toBe('idle')
    expect(path.available).toBe(true)
    relays.up.add(A)
    path.start()
    await flush()
    expect(client(3).url).toBe(A)
    expect(path.state).toBe('ready')
  })

  it('addUrls on an empty list makes the path available (a state event lets the owner re-plan); known URLs change nothing', async () => {
    const { path, states, relays } = setup([], [A])
    expect(path).toMatchObject({ available: false, url: null })
    path.start()
    expect(relays.clients).toHaveLength(0)
    path.addUrls([A])
    expect(states).toEqual(['idle'])
    expect(path).toMatchObject({ available: true, url: A })
    path.addUrls([A])
    expect(states).toEqual(['idle'])
    path.start()
    await flush()
    expect(path.state).toBe('ready')
  })
})

describe('RelayPath: standby', () => {
  it('set up standbyDelayMs * (1 + random) after ready, on the next relay, subscribed on standby', async () => {
    const { path, relays, advance, client } = await readyOn([A, B])
    advance(STANDBY_AFTER_MS - 1)
    expect(relays.clients).toHaveLength(1)
    advance(1)
    expect(client(1).url).toBe(B)
    expect(path.standbyReady).toBe(false)
    await flush()
    expect(client(1).subscribes).toEqual(['standby'])
    expect(path.standbyReady).toBe(true)
  })

  it('pushes the room log to its relay once (an empty relay learns the epochs from it), without presence, then syncs no more', async () => {
    const { path, relays, advance, doc, client } = await readyOn([A, B])
    const atB = new Y.Doc()
    relays.docs.set(B, atB)
    doc.getMap('room').set('title', 'first')
    advance(STANDBY_AFTER_MS)
    await flush()
    expect(path.standbyReady).toBe(true)
    expect(atB.getMap('room').get('title')).toBe('first')
    expect(client(1).syncTypes).not.toContain(MSG_AWARENESS)
    const sent = client(1).syncSent
    doc.getMap('room').set('title', 'second')
    expect(client(1).syncSent).toBe(sent)
    expect(atB.getMap('room').get('title')).toBe('first')
    // Promoted, it carries the whole sync again (presence included).
    relays.kill(A)
    await flush()
    expect(path).toMatchObject({ state: 'ready', url: B })
    expect(atB.getMap('room').get('title')).toBe('second')
    expect(client(1).syncTypes).toContain(MSG_AWARENESS)
  })

  it('none with a single relay', async () => {
    const { relays, advance, pending } = await readyOn([A])
    expect(pending()).toBe(0)
    advance(60_000)
    expect(relays.clients).toHaveLength(1)
  })

  it('a relay learnt later (addUrls) while ready gets a standby', async () => {
    const { path, relays, advance, client } = await readyOn([A], [A, B])
    path.addUrls([B])
    advance(STANDBY_AFTER_MS)
    await flush()
    expect(client(1).url).toBe(B)
    expect(relays.clients).toHaveLength(2)
    expect(path.standbyReady).toBe(true)
  })

  it('the relay in use dies with a ready standby: promoted with one subscribe, its tracks announced', async () => {
    const { path, relays, advance, states, heard, client } = await readyOn([A, B])
    advance(STANDBY_AFTER_MS)
    await flush()
    expect(heard).toEqual([]) // the standby's tracks are kept, not played
    relays.kill(A)
    expect(path).toMatchObject({ state: 'connecting', failingOver: true, url: B, standbyReady: false })
    await flush()
    expect(relays.clients).toHaveLength(2) // no new connection to B
    expect(client(1).subscribes).toEqual(['standby', 'live'])
    expect(states).toEqual(['connecting', 'ready'])
    expect(path).toMatchObject({ resumed: true, failingOver: false })
    expect(heard).toEqual(['-speaker-1', '-speaker-2', '+speaker-1', '+speaker-2'])
  })

  it('a standby track that ended before the promotion is not announced', async () => {
    const { relays, advance, heard, client } = await readyOn([A, B])
    advance(STANDBY_AFTER_MS)
    await flush()
    const [gone] = [...client(1).tracks].find(([, id]) => id === 'speaker-2')!
    client(1).say('track-ended', 'speaker-2', gone)
    relays.kill(A)
    await flush()
    expect(heard).toEqual(['-speaker-1', '-speaker-2', '+speaker-1'])
  })

  it('a standby that fails to connect is retried after retryMs', async () => {
    const { path, relays, advance, client } = await readyOn([A, B], [A])
    advance(STANDBY_AFTER_MS)
    await flush()
    expect(client(1)).toMatchObject({ url: B, destroyed: true })
    advance(RETRY_MS - 1)
    expect(relays.clients).toHaveLength(2)
    relays.up.add(B)
    advance(1)
    await flush()
    expect(client(2).url).toBe(B)
    expect(path.standbyReady).toBe(true)
  })

  it('a standby whose relay dies is dropped and retried after retryMs; the path stays on its relay', async () => {
    const { path, relays, advance, states, client } = await readyOn([A, B])
    advance(STANDBY_AFTER_MS)
    await flush()
    relays.kill(B)
    expect(path).toMatchObject({ state: 'ready', url: A, standbyReady: false })
    expect(states).toEqual([])
    relays.up.add(B)
    advance(RETRY_MS)
    await flush()
    expect(client(2).url).toBe(B)
    expect(path.standbyReady).toBe(true)
  })
})

describe('RelayPath: sending', () => {
  it('setSending publishes once ready, once; null unpublishes', async () => {
    const { path, client } = setup([A])
    const sending: boolean[] = []
    path.on('sending', (s) => sending.push(s))
    path.start()
    path.setSending(local)
    await flush()
    expect(path.state).toBe('ready')
    expect(client(0).publishes).toBe(1)
    expect(path.sending).toBe(true)
    path.setSending(local)
    await flush()
    expect(client(0).publishes).toBe(1)
    path.setSending(null)
    await flush()
    expect(client(0).unpublishes).toBe(1)
    expect(path.sending).toBe(false)
    expect(sending).toEqual([true, false])
  })

  it('a refused publish is not sending, and is tried again on the next setSending', async () => {
    const { path, relays, client } = await readyOn([A])
    relays.refusePublish = true
    path.setSending(local)
    await flush()
    expect(path.sending).toBe(false)
    relays.refusePublish = false
    path.setSending(local)
    await flush()
    expect(client(0).publishes).toBe(2)
    expect(path.sending).toBe(true)
  })

  it('the relay stopping to forward us (unpublished) is reported', async () => {
    const { path, client } = await readyOn([A])
    path.setSending(local)
    await flush()
    client(0).say('unpublished', 'not-speaker')
    expect(path.sending).toBe(false)
  })

  it('after a failover the new relay is published to', async () => {
    const { path, relays, client } = await readyOn([A, B])
    path.setSending(local)
    await flush()
    relays.kill(A)
    expect(path.sending).toBe(false)
    await flush()
    expect(client(1).publishes).toBe(1)
    expect(path.sending).toBe(true)
  })
})

describe('RelayPath: reconnect (the network changed)', () => {
  it('makes new connections to the same relay now, as a failover (its tracks play at once), and publishes again', async () => {
    const { path, states, heard, client } = await readyOn([A, B])
    path.setSending(local)
    await flush()
    path.reconnect()
    expect(client(0).destroyed).toBe(true)
    expect(path).toMatchObject({ url: A, failingOver: true, state: 'connecting' })
    await flush()
    expect(states).toEqual(['connecting', 'ready'])
    expect(path).toMatchObject({ url: A, resumed: true, failingOver: false, sending: true })
    expect(client(1)).toMatchObject({ url: A, subscribes: ['live'], publishes: 1 })
    expect(client(1).syncSent).toBeGreaterThan(0) // the room state syncs anew
    expect(heard).toEqual(['-speaker-1', '-speaker-2', '+speaker-1', '+speaker-2'])
  })

  it('is not a failure: a relay still unreachable after it fails over as usual', async () => {
    const { path, relays } = await readyOn([A, B])
    relays.up.delete(A)
    path.reconnect()
    await flush()
    expect(path).toMatchObject({ url: B, state: 'ready' })
  })

  it('does nothing while idle or failed', async () => {
    const { path, relays } = setup([A])
    path.reconnect()
    expect([path.state, relays.clients.length]).toEqual(['idle', 0])
  })
})

describe('RelayPath: stop and destroy', () => {
  it('stop() closes the relay and the standby, detaches the sync, clears the standby timer, and is idle', async () => {
    const { path, relays, advance, pending, doc, states, heard, client } = await readyOn([A, B])
    advance(STANDBY_AFTER_MS)
    await flush()
    path.stop()
    expect(relays.clients.map((c) => c.destroyed)).toEqual([true, true])
    expect(heard).toEqual(['-speaker-1', '-speaker-2'])
    expect(states).toEqual(['idle'])
    expect(pending()).toBe(0)
    const sent = client(0).syncSent
    doc.getMap('m').set('k', 1)
    expect(client(0).syncSent).toBe(sent)
    path.start()
    expect(path.url).toBe(A)
  })

  it('stop() before the standby is set up cancels it', async () => {
    const { path, relays, advance, pending } = await readyOn([A, B])
    path.stop()
    expect(pending()).toBe(0)
    advance(STANDBY_AFTER_MS)
    expect(relays.clients).toHaveLength(1)
  })

  it('stop() while connecting: the late answer is ignored', async () => {
    const { path, states } = setup([A, B])
    path.start()
    path.stop()
    await flush()
    expect(states).toEqual(['connecting', 'idle'])
    expect(path.state).toBe('idle')
  })

  it("re-entered from a 'track-ended' listener (a re-plan that stops again): every track ends, the close is no failure", async () => {
    const { path, relays, states, heard } = await readyOn([A, B])
    path.on('track-ended', () => path.stop())
    path.stop()
    expect(heard).toEqual(['-speaker-1', '-speaker-2'])
    expect(relays.clients).toHaveLength(1) // no failover to B
    expect(path.state).toBe('idle')
    expect(states.every((s) => s === 'idle')).toBe(true)
  })

  it('destroy() releases the relay, the standby and every timer, and is silent after; safe with a stopping listener', async () => {
    const { path, relays, advance, pending, states, heard } = await readyOn([A, B])
    advance(STANDBY_AFTER_MS)
    await flush()
    path.on('track-ended', () => path.stop())
    path.destroy()
    expect(relays.clients.map((c) => c.destroyed)).toEqual([true, true])
    expect(heard).toEqual(['-speaker-1', '-speaker-2'])
    expect(pending()).toBe(0)
    const seen = states.length
    relays.kill(A)
    advance(60_000)
    await flush()
    expect(states).toHaveLength(seen)
  })

  it('the waits grow with each failed round up to retryMs, and start again from the first once a relay was ready', async () => {
    const { path, relays, states, advance } = setup([A], [])
    const waits: number[] = []
    for (let round = 0; round < 13; round++) {
      path.start()
      await flush()
      expect(path.state).toBe('failed')
      let waited = 0
      while (path.state === 'failed') {
        advance(1)
        waited++
      }
      waits.push(waited)
    }
    // RELAY_RETRY with random() 0.5: 1 s, then a quarter more each round up to retryMs, each less a quarter (jitter 0.5).
    expect(waits).toEqual([750, 938, 1172, 1465, 1831, 2289, 2861, 3576, 4470, 5588, 6985, 7500, 7500])
    relays.up.add(A)
    path.start()
    await flush()
    expect(path.state).toBe('ready')
    relays.kill(A)
    await flush()
    expect(states.at(-1)).toBe('failed')
    advance(FIRST_WAIT_MS)
    expect(path.state).toBe('idle')
  })

  it('replaced by the same key connecting again (a second session): waits retryMs, so two sessions do not take turns every second', async () => {
    const { path, client, advance } = await readyOn([A])
    client(0).destroy(new RelayError(RELAY_ERRORS.CLOSED, 'the relay connection closed (4006 replaced)', { reason: 'replaced' }))
    await flush()
    expect(path.state).toBe('failed')
    advance(RETRY_MS - 1)
    expect(path.state).toBe('failed')
    advance(1)
    expect(path.state).toBe('idle')
  })

  it('destroy() while failed clears the retry', async () => {
    const { path, pending } = setup([A], [])
    path.start()
    await flush()
    expect(path.state).toBe('failed')
    expect(pending()).toBe(1)
    path.destroy()
    expect(pending()).toBe(0)
  })
})

describe('RelayPath: asking whether the room is on the relay (a joiner, before it plans)', () => {
  const answers = (path: RelayPath): boolean[] => {
    const got: boolean[] = []
    path.on('answer', (yes) => got.push(yes))
    return got
  }

  it('ask: connects and authenticates only (no sync, no subscription), then answers; the state stays idle', async () => {
    const { path, relays, states, client } = setup([A])
    relays.serving = true
    const got = answers(path)
    path.ask()
    await flush()
    expect(got).toEqual([true])
    expect(states).toEqual([])
    expect(client(0)).toMatchObject({ url: A, syncSent: 0, subscribes: [] })
  })

  it('a yes taken over by start() in the same tick: one connection, synced and subscribed, ready', async () => {
    const { path, relays, states, heard, client } = setup([A])
    relays.serving = true
    path.on('answer', (yes) => yes && path.start())
    path.ask()
    await flush()
    expect(relays.clients).toHaveLength(1)
    expect(client(0).destroyed).toBe(false)
    expect(client(0).subscribes).toEqual(['live'])
    expect(client(0).syncSent).toBeGreaterThan(0)
    expect(states).toEqual(['connecting', 'ready'])
    expect(heard).toEqual(['+speaker-1', '+speaker-2'])
  })

  it('start() while the question is open takes the connection over too', async () => {
    const { path, relays, states } = setup([A])
    const got = answers(path)
    path.ask()
    path.start()
    await flush()
    expect(relays.clients).toHaveLength(1)
    expect(states).toEqual(['connecting', 'ready'])
    expect(got).toEqual([false])
    expect(relays.clients[0]!.destroyed).toBe(false)
  })

  it('a no closes the connection (the relay of a mesh room keeps nothing); a later start() connects anew', async () => {
    const { path, relays, client } = setup([A])
    const got = answers(path)
    path.ask()
    await flush()
    expect(got).toEqual([false])
    expect(client(0).destroyed).toBe(true)
    path.start()
    await flush()
    expect(relays.clients).toHaveLength(2)
    expect(path.state).toBe('ready')
  })

  it('a yes nobody takes over is not kept either', async () => {
    const { path, relays, client } = setup([A])
    relays.serving = true
    const got = answers(path)
    path.ask()
    await flush()
    expect(got).toEqual([true])
    expect(client(0).destroyed).toBe(true)
  })

  it('a relay that cannot be reached answers no, and the path is not failed for it', async () => {
    const { path, states } = setup([A], [])
    const got = answers(path)
    path.ask()
    await flush()
    expect(got).toEqual([false])
    expect(states).toEqual([])
    expect(path.available).toBe(true)
  })

  it('nothing to ask with no relay known, or once started', async () => {
    const none = setup([])
    none.path.ask()
    const { path, relays } = await readyOn([A])
    path.ask()
    await flush()
    expect(none.relays.clients).toHaveLength(0)
    expect(relays.clients).toHaveLength(1)
  })

  it('stop() and destroy() close an open question', async () => {
    for (const end of ['stop', 'destroy'] as const) {
      const { path, client } = setup([A])
      path.ask()
      path[end]()
      expect(client(0).destroyed).toBe(true)
    }
  })
})
