/**
 * RelayPath: a participant's optional route through a relay (SFU), kept by
 * RoomClient next to its mesh. It connects on demand, syncs the room doc
 * through the relay (star), subscribes to every publisher, and publishes the
 * local track while this participant is a speaker.
 *
 * `url` may list several relays of the room (relay-list.ts: which one next, how long to
 * wait). When the relay in use fails, the path moves to the next one at once (`failingOver`
 * is true meanwhile, so RoomClient keeps its plan instead of falling back to the mesh); only
 * when every relay failed in a row is the path `failed` for a while, and the topology falls
 * back to the mesh. Until the list has a relay the path is not available.
 *
 * Standby: while ready, the path also keeps the next relay of the list subscribed on standby
 * (relay-standby.ts), so failing over to it is one message.
 *
 * Network switch: `reconnect()` makes the connections anew (socket, ICE, DTLS, sync) from the
 * new address, as a failover to the same relay: `failingOver` meanwhile (RoomClient keeps its
 * relay plan) and its tracks play at once (there is no mesh copy to hand over from). Not
 * counted as a failure.
 *
 * Asking: before a joiner plans, `ask()` connects and authenticates to the relay,
 * nothing more (no sync, so the relay of a room that stays a mesh learns no log),
 * and the relay's welcome says whether the room is on it (`answer`). A `start()`
 * takes that connection over, so joining a room on its relay costs one handshake.
 */
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import type { Identity } from '../identity/index.ts'
import { TypedEmitter } from '../base/emitter.ts'
import type { PeerWrtc } from '../net/peer.ts'
import { RelayClient, type RelayClientOptions, type RelayWebSocketClass } from '../net/relay-client.ts'
import { attachSync, type SyncAttachment, type SyncStats } from '../net/sync.ts'
import { summarizeStats, type PeerStats } from '../net/peer-stats.ts'
import { realTimers, type Timers } from '../base/timers.ts'
import { RelayList } from './relay-list.ts'
import { RelayStandby, type RelayPathClient } from './relay-standby.ts'
import { RelayPublishing, type Local } from './relay-publishing.ts'

export { RELAY_RETRY } from './relay-list.ts'
export type { RelayPathClient } from './relay-standby.ts'

export interface RelayPathOptions {
  /** One relay's `/relay` WebSocket URL, or several (tried in order; see above), or none yet. */
  url: string | readonly string[]
  WebSocket: RelayWebSocketClass
  /** Extra RelayClient options (SDP filter, timeouts). */
  client?: Omit<RelayClientOptions, 'WebSocket' | 'wrtc'>
  /** The longest wait before a failed path tries again (the waits grow to it, see RELAY_RETRY); also the standby's retry. Default 10 s. */
  retryMs?: number
  /**
   * The standby is set up this long after the relay in use is ready, plus up to as much
   * again at random, so a room joining at once does not also double its handshakes at once.
   * Default 5 s.
   */
  standbyDelayMs?: number
  random?: () => number
  timers?: Timers
  /** Makes each relay connection; default a RelayClient (tests pass fakes). */
  createClient?: (opts: RelayClientOptions) => RelayPathClient
}

export interface RelayPathContext {
  wrtc: PeerWrtc
  identity: Identity
  roomId: string
  doc: Y.Doc
  awareness: Awareness
  acceptUpdate: (update: Uint8Array) => boolean | Promise<boolean>
  syncStats: SyncStats
}

export type RelayState = 'idle' | 'connecting' | 'ready' | 'failed'

export interface RelayPathEvents {
  state: (state: RelayState, reason?: string) => void
  /** What the relay forwards from us changed (published or not). */
  sending: (sending: boolean) => void
  track: (id: string, track: MediaStreamTrack, stream: MediaStream | null) => void
  'track-ended': (id: string, track: MediaStreamTrack) => void
  /** The relay's answer to `ask()`: whether the room is on it (false when it could not be reached). */
  answer: (roomOnRelay: boolean) => void
}

/** The connection made by `ask()`, until `start()` takes it over or the answer is no. */
interface Asking {
  client: RelayPathClient
  connected: Promise<void>
}

export class RelayPath extends TypedEmitter<RelayPathEvents> {
  #state: RelayState = 'idle'
  #client: RelayPathClient | null = null
  #sync: SyncAttachment | null = null
  #standby: RelayStandby | null = null
  #asking: Asking | null = null
  #retry: unknown = null
  #standbyTimer: unknown = null
  #stopping: RelayPathClient | null = null
  readonly #publishing = new RelayPublishing(
    () => (this.#state === 'ready' ? this.#client : null),
    (sending) => this.emit('sending', sending),
  )
  readonly #timers: Timers
  readonly #relays: RelayList
  #failingOver = false
  #resumed = false

  constructor(
    readonly opts: RelayPathOptions,
    readonly ctx: RelayPathContext,
  ) {
    super()
    this.#timers = opts.timers ?? realTimers
    this.#relays = new RelayList(opts.url)
  }

  /** The relay used (or being connected to, or tried next) now; null while none is known. */
  get url(): string | null {
    return this.#relays.url
  }

  /** Relays learnt later (found on hyperswarm): appended to the list; known ones are ignored. */
  addUrls(urls: readonly string[]): void {
    const had = this.#relays.add(urls)
    if (had === this.#relays.size) return
    if (had === 0) this.emit('state', this.#state) // available now: let the owner re-plan
    if (this.#state === 'ready') this.#scheduleStandby(this.#standbyDelay())
  }

  /**
   * Ready on a relay reached by failing over (no mesh copy of the room's audio
   * exists to hand over from, so its tracks may play at once).
   */
  get resumed(): boolean {
    return this.#resumed && this.#state === 'ready'
  }

  /** Moving from a failed relay to the next one of the list. */
  get failingOver(): boolean {
    return this.#failingOver
  }

  get state(): RelayState {
    return this.#state
  }

  /** Whether the relay accepted our local track and forwards it. */
  get sending(): boolean {
    return this.#publishing.sending
  }

  /** False while no relay is known, and for `retryMs` after a failure. */
  get available(): boolean {
    return this.#state !== 'failed' && this.#relays.size > 0
  }

  /** Whether a second relay stands by, ready to take over (see the module comment). */
  get standbyReady(): boolean {
    return this.#standby?.ready === true
  }

  /** What we hear through the relay: its subscribe connection's stats (loss, concealment...); null while there is none. */
  async stats(): Promise<PeerStats | null> {
    const pc = this.#state === 'ready' ? this.#client?.connections?.subscribe : null
    if (!pc) return null
    return summarizeStats((await pc.getStats()).values())
  }

  /** Asks the relay whether the room is on it (see the module comment); answered by an `answer` event. */
  ask(): void {
    const url = this.url
    if (this.#state !== 'idle' || url === null || this.#asking) return
    const client = this.#newClient()
    const asking: Asking = { client, connected: this.#connect(client, url) }
    this.#asking = asking
    asking.connected.then(
      () => {
        const yes = client.roomOnRelay === true
        if (this.#asking === asking && !yes) this.#dropAsking()
        this.emit('answer', yes)
        // Yes, but the owner did not start (it cannot use the relay now): nothing to keep it for.
        if (this.#asking === asking) this.#dropAsking()
      },
      () => {
        if (this.#asking === asking) this.#asking = null
        this.emit('answer', false)
      },
    )
  }

  #dropAsking(): void {
    const asking = this.#asking
    this.#asking = null
    asking?.client.destroy()
  }

  start(): void {
    const url = this.url
    if (this.#state !== 'idle' || url === null) return
    // The connection `ask()` made, if any, is the one to use: no second handshake.
    const asking = this.#asking
    this.#asking = null
    const client = (this.#client = asking?.client ?? this.#newClient())
    const connected = asking?.connected ?? this.#connect(client, url)
    this.#set('connecting')
    connected
      .then(async () => {
        this.#attachSync(client)
        await client.subscribe()
        if (this.#client === client) this.#ready()
      })
      .catch((err: Error) => {
        if (this.#client === client) this.#fail(err.message)
      })
  }

  /** A client whose events count while it is the one in use, or are kept while it stands by. */
  #newClient(): RelayPathClient {
    const create = this.opts.createClient ?? ((opts) => new RelayClient(opts))
    const client = create({ ...this.opts.client, WebSocket: this.opts.WebSocket, wrtc: this.ctx.wrtc })
    client.on('track', (id, track, stream) => {
      if (this.#client === client) this.emit('track', id, track, stream)
      else if (this.#standby?.client === client) this.#standby.tracks.set(track, { id, stream })
    })
    client.on('track-ended', (id, track) => {
      if (this.#client === client) this.emit('track-ended', id, track)
      else if (this.#standby?.client === client) this.#standby.tracks.delete(track)
    })
    client.on('unpublished', () => {
      if (this.#client === client) this.#publishing.unpublished()
    })
    client.on('close', (err) => {
      if (this.#client === client && this.#stopping !== client) this.#fail(err?.message ?? 'relay closed', err?.reason === 'replaced')
      else if (this.#standby?.client === client) this.#dropStandby(true)
      else if (this.#asking?.client === client) this.#asking = null
    })
    return client
  }

  /** Connects and authenticates one of our clients (the one in use, the one asking, the standby) alike. */
  #connect(client: RelayPathClient, url: string): Promise<void> {
    return client.connect(url, this.ctx.roomId, this.ctx.identity)
  }

  #attachSync(client: RelayPathClient): void {
    this.#sync = attachSync(this.ctx.doc, this.ctx.awareness, client.link, { acceptUpdate: this.ctx.acceptUpdate, stats: this.ctx.syncStats })
  }

  #ready(): void {
    this.#relays.ready()
    this.#resumed = this.#failingOver
    this.#failingOver = false
    this.#set('ready')
    this.#publishing.update()
    this.#scheduleStandby(this.#standbyDelay())
  }

  #standbyDelay(): number {
    return (this.opts.standbyDelayMs ?? 5000) * (1 + (this.opts.random ?? Math.random)())
  }

  /** Sets the standby up a little later (see `standbyDelayMs`). */
  #scheduleStandby(ms: number): void {
    if (this.#relays.size < 2 || this.#standby || this.#standbyTimer !== null) return
    this.#standbyTimer = this.#timers.setTimeout(() => {
      this.#standbyTimer = null
      this.#startStandby()
    }, ms)
  }

  /** Keeps the next relay of the list subscribed on standby (nothing to do with one relay). */
  #startStandby(): void {
    if (this.#relays.size < 2 || this.#standby || this.#state !== 'ready') return
    const { index, url } = this.#relays.next
    const standby = new RelayStandby(this.#newClient(), index, this.ctx)
    this.#standby = standby
    this.#connect(standby.client, url)
      .then(() => standby.subscribe())
      .catch(() => {
        if (this.#standby === standby) this.#dropStandby(true)
      })
  }

  /** Closes the standby; with `retry`, tries again after `retryMs` (the relay may come back). */
  #dropStandby(retry: boolean): void {
    const standby = this.#standby
    this.#standby = null
    standby?.close()
    this.#timers.clearTimeout(this.#standbyTimer)
    this.#standbyTimer = null
    if (retry) this.#scheduleStandby(this.opts.retryMs ?? 10_000)
  }

  /** The relay in use failed and the standby is ready: it starts forwarding, within one round trip. */
  #promoteStandby(standby: RelayStandby): void {
    this.#standby = null
    this.#relays.moveTo(standby.index)
    this.#failingOver = true
    const client = (this.#client = standby.client)
    standby.takeOver()
    this.#set('connecting')
    this.#attachSync(client)
    client.subscribe().then(
      () => {
        if (this.#client !== client) return
        this.#ready()
        for (const [track, t] of standby.tracks) this.emit('track', t.id, track, t.stream)
      },
      (err: Error) => {
        if (this.#client === client) this.#fail(err.message)
      },
    )
  }

  /** What to publish while ready: the local track when speaking, else null. */
  setSending(local: Local | null): void {
    this.#publishing.want(local)
  }

  /**
   * The network changed under us: the socket and both media connections were bound to the old
   * address (their ICE cannot move to a new one without the relay renegotiating), so they are
   * made again now, to the same relay. Nothing to do unless connected or connecting.
   */
  reconnect(): void {
    if (this.#state !== 'ready' && this.#state !== 'connecting') return
    this.#teardown()
    this.#dropStandby(false)
    this.#failingOver = true
    this.#state = 'idle'
    this.start()
  }

  /** Leaves the relay (back to idle). */
  stop(): void {
    this.#resumed = false
    this.#dropAsking()
    this.#teardown()
    this.#dropStandby(false)
    if (this.#state !== 'failed') this.#set('idle')
  }

  destroy(): void {
    this.#dropAsking()
    this.#teardown()
    this.#dropStandby(false)
    this.#timers.clearTimeout(this.#retry)
    this.removeAllListeners()
  }

  #teardown(): void {
    // Re-entered from the client's 'track-ended' (a re-plan during the teardown): it is under way.
    if (this.#stopping) return
    this.#sync?.()
    this.#sync = null
    const client = this.#client
    this.#publishing.closed()
    // Still the client in use while it reports its tracks ended (before its connections
    // close); its 'close' is then not a failure.
    this.#stopping = client
    client?.destroy()
    this.#stopping = null
    this.#client = null
  }

  #fail(reason: string, replaced = false): void {
    this.#teardown()
    const standby = this.#standby
    if (standby?.ready) return this.#promoteStandby(standby)
    this.#dropStandby(false)
    if (this.#relays.failed()) {
      // Another relay of the room may still be up: go there now.
      this.#failingOver = true
      this.#state = 'idle'
      this.start()
      return
    }
    this.#failingOver = false
    this.#set('failed', reason)
    this.#timers.clearTimeout(this.#retry)
    const wait = this.#relays.retryWait(this.opts.retryMs ?? 10_000, replaced, this.opts.random)
    this.#retry = this.#timers.setTimeout(() => this.#set('idle'), wait)
  }

  #set(state: RelayState, reason?: string): void {
    this.#state = state
    this.emit('state', state, reason)
  }
}
