/**
 * RelayPath: a participant's optional route through a relay (SFU), kept by
 * RoomClient next to its mesh. It connects on demand, syncs the room doc
 * through the relay (star), subscribes to every publisher, and publishes the
 * local track while this participant is a speaker.
 *
 * `url` may list several relays of the room (cascaded relays forward each
 * other's speakers, so any of them carries the whole room). When the relay in
 * use fails, the path moves to the next one at once (`failingOver` is true
 * meanwhile, so RoomClient keeps its plan instead of falling back to the
 * mesh); only when every relay failed in a row is the path `failed`: the
 * relay is unavailable for `retryMs`, the topology falls back to the mesh and
 * the relays are tried again later, starting from the first.
 */
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import type { Identity } from '../identity/index.ts'
import { TypedEmitter } from '../net/peer-emitter.ts'
import type { PeerWrtc } from '../net/peer.ts'
import { RelayClient, type RelayClientOptions, type RelayWebSocketClass } from '../net/relay-client.ts'
import { attachSync, type SyncAttachment, type SyncStats } from '../net/sync.ts'
import { realTimers, type Timers } from '../net/timers.ts'

export interface RelayPathOptions {
  /** One relay's `/relay` WebSocket URL, or several (tried in order; see above). */
  url: string | readonly string[]
  WebSocket: RelayWebSocketClass
  /** Extra RelayClient options (SDP filter, timeouts). */
  client?: Omit<RelayClientOptions, 'WebSocket' | 'wrtc'>
  /** How long a failed relay is not tried again. Default 10 s. */
  retryMs?: number
  timers?: Timers
}

export interface RelayPathContext {
  wrtc: PeerWrtc
  identity: Identity
  roomId: string
  doc: Y.Doc
  awareness: Awareness
  acceptUpdate: (update: Uint8Array) => boolean
  syncStats: SyncStats
}

export type RelayState = 'idle' | 'connecting' | 'ready' | 'failed'

export interface RelayPathEvents {
  state: (state: RelayState, reason?: string) => void
  /** What the relay forwards from us changed (published or not). */
  sending: (sending: boolean) => void
  track: (id: string, track: MediaStreamTrack, stream: MediaStream | null) => void
  'track-ended': (id: string, track: MediaStreamTrack) => void
}

type Local = { track: MediaStreamTrack; stream: MediaStream }

export class RelayPath extends TypedEmitter<RelayPathEvents> {
  #state: RelayState = 'idle'
  #client: RelayClient | null = null
  #sync: SyncAttachment | null = null
  #retry: unknown = null
  #sending: Local | null = null
  #want: Local | null = null
  #publishing: Promise<void> = Promise.resolve()
  readonly #timers: Timers
  readonly #urls: readonly string[]
  /** Index of the relay in use (or tried next). */
  #index = 0
  /** Relays that failed in a row since the last one that became ready. */
  #failures = 0
  #failingOver = false
  #resumed = false

  constructor(
    readonly opts: RelayPathOptions,
    readonly ctx: RelayPathContext,
  ) {
    super()
    this.#timers = opts.timers ?? realTimers
    this.#urls = typeof opts.url === 'string' ? [opts.url] : [...opts.url]
    if (this.#urls.length === 0) throw Object.assign(new Error('RelayPath needs at least one relay URL'), { code: 'bad-option' })
  }

  /** The relay used (or being connected to) now. */
  get url(): string {
    return this.#urls[this.#index]!
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
    return this.#sending !== null
  }

  /** False for `retryMs` after a failure. */
  get available(): boolean {
    return this.#state !== 'failed'
  }

  start(): void {
    if (this.#state !== 'idle') return
    this.#set('connecting')
    const client = (this.#client = new RelayClient({ ...this.opts.client, WebSocket: this.opts.WebSocket, wrtc: this.ctx.wrtc }))
    client.on('track', (id, track, stream) => this.emit('track', id, track, stream))
    client.on('track-ended', (id, track) => this.emit('track-ended', id, track))
    client.on('unpublished', () => {
      this.#sending = null
      this.emit('sending', false)
    })
    client.on('close', (err) => {
      if (this.#client === client) this.#fail(err?.message ?? 'relay closed')
    })
    client
      .connect(this.url, this.ctx.roomId, this.ctx.identity)
      .then(async () => {
        this.#sync = attachSync(this.ctx.doc, this.ctx.awareness, client.link, { acceptUpdate: this.ctx.acceptUpdate, stats: this.ctx.syncStats })
        await client.subscribe()
        if (this.#client !== client) return
        this.#failures = 0
        this.#resumed = this.#failingOver
        this.#failingOver = false
        this.#set('ready')
        this.#publish()
      })
      .catch((err: Error) => {
        if (this.#client === client) this.#fail(err.message)
      })
  }

  /** What to publish while ready: the local track when speaking, else null. */
  setSending(local: Local | null): void {
    this.#want = local
    this.#publish()
  }

  /** Leaves the relay (back to idle). */
  stop(): void {
    this.#resumed = false
    this.#teardown()
    if (this.#state !== 'failed') this.#set('idle')
  }

  destroy(): void {
    this.#teardown()
    this.#timers.clearTimeout(this.#retry)
    this.removeAllListeners()
  }

  #publish(): void {
    this.#publishing = this.#publishing.then(async () => {
      const client = this.#client
      if (!client || this.#state !== 'ready' || this.#sending === this.#want) return
      if (this.#sending) {
        client.unpublish()
        this.#sending = null
        this.emit('sending', false)
      }
      if (!this.#want) return
      const want = this.#want
      try {
        await client.publish(want.track, want.stream)
        this.#sending = want
        this.emit('sending', true)
      } catch {
        // Refused (the relay's copy of the log does not show us on stage yet) or the
        // relay went away: the next state change or plan retries.
      }
    })
  }

  #teardown(): void {
    this.#sync?.()
    this.#sync = null
    const client = this.#client
    this.#client = null
    this.#sending = null
    client?.destroy()
  }

  #fail(reason: string): void {
    this.#teardown()
    this.#failures++
    this.#index = (this.#index + 1) % this.#urls.length
    if (this.#failures < this.#urls.length) {
      // Another relay of the room may still be up: go there now.
      this.#failingOver = true
      this.#state = 'idle'
      this.start()
      return
    }
    this.#failures = 0
    this.#failingOver = false
    this.#set('failed', reason)
    this.#timers.clearTimeout(this.#retry)
    this.#retry = this.#timers.setTimeout(() => this.#set('idle'), this.opts.retryMs ?? 10_000)
  }

  #set(state: RelayState, reason?: string): void {
    this.#state = state
    this.emit('state', state, reason)
  }
}
