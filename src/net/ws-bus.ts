/**
 * SignalBus over WebSocket signalling (the relay's `/signal` or any stock
 * y-webrtc server). The server only fans out per topic, so presence is built
 * here: every peer publishes a `hello` on join and as a heartbeat, a new peer
 * is answered with a `hello` at once, and a peer silent for `expireAfter`
 * heartbeats (or saying `bye`) has left. Direct messages are published with a
 * `to` field; everyone else ignores them. Payloads are sealed with the room key
 * by the signalling client, so the server sees only the topic.
 *
 * A peer restarting with the same id is a new incarnation (new `session`):
 * reported as 'peer-left' then 'peer-joined' so the mesh rebuilds its connection.
 */
import { TypedEmitter } from '../base/emitter.ts'
import type { BusMessage, SignalBus, SignalBusEvents } from './bus.ts'
import { fromBase64url, toBase64url } from '../identity/index.ts'
import type { SignalClient, SignalMessageEvent } from './signal-client.ts'
import { realTimers, type Timers } from '../base/timers.ts'

export interface WsBusOptions {
  client: SignalClient
  /** Topic: the room's discovery key as a string. */
  topic: string
  /** Key sealing every payload (derived from the room secret). */
  key: CryptoKey
  selfId: string
  heartbeatMs?: number
  /** Heartbeats a peer may miss before it counts as gone. */
  expireAfter?: number
  timers?: Timers & { now(): number }
  random?: () => number
}

type Body = string | { b: string }
type Wire =
  | { t: 'hello'; from: string; session: string }
  | { t: 'bye'; from: string; session: string }
  | { t: 'msg'; from: string; session: string; to: string; body: Body }

interface Known {
  session: string
  lastSeen: number
}

const defaultTimers = { ...realTimers, now: () => Date.now() }

export class WsBus extends TypedEmitter<SignalBusEvents> implements SignalBus {
  readonly selfId: string
  readonly #known = new Map<string, Known>()
  readonly #peers = new Set<string>()
  readonly #opts: Required<Omit<WsBusOptions, 'client' | 'topic' | 'key' | 'selfId'>>
  readonly #client: SignalClient
  readonly #topic: string
  readonly #session: string
  #timer: unknown = null
  #destroyed = false
  /** Malformed or misaddressed payloads, by reason. */
  readonly dropped: Record<string, number> = {}

  constructor(opts: WsBusOptions) {
    super()
    this.selfId = opts.selfId
    this.#client = opts.client
    this.#topic = opts.topic
    this.#opts = {
      heartbeatMs: opts.heartbeatMs ?? 5_000,
      expireAfter: opts.expireAfter ?? 3,
      timers: opts.timers ?? defaultTimers,
      random: opts.random ?? Math.random,
    }
    this.#session = Math.floor(this.#opts.random() * 2 ** 48).toString(36)
    this.#client.on('message', this.#onMessage)
    this.#client.on('open', this.#hello)
    this.#client.subscribe(opts.topic, { key: opts.key })
    if (this.#client.connected) this.#hello()
    this.#tick()
  }

  get peers(): ReadonlySet<string> {
    return this.#peers
  }

  publish(msg: BusMessage): void {
    for (const to of this.#peers) this.send(to, msg)
  }

  send(peerId: string, msg: BusMessage): boolean {
    if (this.#destroyed || !this.#peers.has(peerId)) return false
    const body: Body = typeof msg === 'string' ? msg : { b: toBase64url(msg) }
    this.#publish({ t: 'msg', from: this.selfId, session: this.#session, to: peerId, body })
    return true
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#opts.timers.clearTimeout(this.#timer)
    this.#client.off('message', this.#onMessage)
    this.#client.off('open', this.#hello)
    if (this.#client.connected) await this.#publish({ t: 'bye', from: this.selfId, session: this.#session })
    if (!this.#client.isDestroyed) this.#client.unsubscribe(this.#topic)
    for (const id of [...this.#peers]) this.#leave(id)
    this.removeAllListeners()
  }

  readonly #hello = (): void => {
    if (!this.#destroyed) void this.#publish({ t: 'hello', from: this.selfId, session: this.#session })
  }

  /** The client may be gone under us (its owner destroyed it): count, never throw. */
  #publish(wire: Wire): Promise<void> {
    return this.#client.publish(this.#topic, wire).then(
      (sent) => {
        if (!sent) this.#drop('not-connected')
      },
      () => this.#drop('client-destroyed'),
    )
  }

  #tick(): void {
    const now = this.#opts.timers.now()
    const limit = this.#opts.heartbeatMs * this.#opts.expireAfter
    for (const [id, k] of this.#known) if (now - k.lastSeen > limit) this.#leave(id)
    this.#hello()
    this.#timer = this.#opts.timers.setTimeout(() => this.#tick(), this.#opts.heartbeatMs)
  }

  #leave(id: string): void {
    this.#known.delete(id)
    if (this.#peers.delete(id)) this.emit('peer-left', id)
  }

  #drop(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1
  }

  readonly #onMessage = (ev: SignalMessageEvent): void => {
    if (ev.topic !== this.#topic || this.#destroyed) return
    const wire = parseWire(ev.data)
    if (!wire) return this.#drop('malformed')
    if (wire.from === this.selfId) return // another tab of ours, or an echo
    if (wire.t === 'msg' && wire.to !== this.selfId) return
    if (wire.t === 'bye') {
      if (this.#known.get(wire.from)?.session === wire.session) this.#leave(wire.from)
      return
    }
    // A direct message can overtake its sender's hello (both are sealed
    // asynchronously): it is sealed with the room key, so it announces the peer too.
    this.#seen(wire.from, wire.session)
    if (wire.t === 'hello') return
    const body = typeof wire.body === 'string' ? wire.body : fromBase64url(wire.body.b)
    if (body === null) return this.#drop('malformed')
    this.emit('message', wire.from, body)
  }

  /** Records a sign of life; a new peer (or a new incarnation) joins. */
  #seen(from: string, session: string): void {
    const known = this.#known.get(from)
    if (known && known.session !== session) this.#leave(from)
    if (known && known.session === session) {
      known.lastSeen = this.#opts.timers.now()
      return
    }
    this.#known.set(from, { session, lastSeen: this.#opts.timers.now() })
    this.#peers.add(from)
    this.emit('peer-joined', from)
    this.#hello() // let the newcomer know about us without waiting a heartbeat
  }
}

function parseWire(data: unknown): Wire | null {
  if (typeof data !== 'object' || data === null) return null
  const d = data as Record<string, unknown>
  if (typeof d.from !== 'string' || d.from.length === 0 || d.from.length > 128) return null
  if ((d.t === 'hello' || d.t === 'bye') && typeof d.session === 'string' && d.session.length <= 32) {
    return { t: d.t, from: d.from, session: d.session }
  }
  if (d.t === 'msg' && typeof d.to === 'string' && typeof d.session === 'string' && d.session.length <= 32) {
    const body = d.body
    const base = { t: 'msg' as const, from: d.from, session: d.session, to: d.to }
    if (typeof body === 'string') return { ...base, body }
    if (typeof body === 'object' && body !== null && typeof (body as { b?: unknown }).b === 'string') {
      return { ...base, body: { b: (body as { b: string }).b } }
    }
  }
  return null
}
