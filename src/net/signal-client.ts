/**
 * Signalling client: one WebSocket to a y-webrtc-compatible signalling server (the relay's
 * `/signal`, or a stock y-webrtc server), topics, publish, typed events.
 *
 * Runs in browsers and Node: the WebSocket class, timers and random source are passed in.
 *
 * Lifecycle and invariants:
 * - Connects on construction. After any close or failure it reconnects with exponential
 *   backoff plus jitter; the backoff only resets once the server has answered a frame
 *   (so a server that accepts and immediately closes, e.g. 4004 "full", is not hammered).
 * - On every (re)connect it resubscribes to all topics and sends a ping at once; it then
 *   pings every `pingIntervalMs`, and a socket that stays silent for a whole interval is
 *   treated as dead and replaced.
 * - `open`/`close` events come in pairs. A connection attempt that fails before opening
 *   emits `error` with code `signal-unreachable`, once per outage.
 * - Topics subscribed with a key carry sealed payloads (room-crypto.ts). Payloads that do
 *   not open are dropped and counted, and that is all: the server lets anyone publish on a
 *   topic without subscribing, so however many of them arrive they say nothing about our key
 *   (a wrong key is told by the invite link's key check, see invite/link.ts). The client's own
 *   echoes (the server fans out to the sender too) are recognised and never count (signal-echoes.ts).
 * - `destroy()` is idempotent and leaves no timer and no socket behind.
 */
import { openPayload, sealPayload } from './room-crypto.ts'
import { realTimers, type Timers } from '../base/timers.ts'
import { TypedEmitter } from '../base/emitter.ts'
import { retryDelay, type RetryPolicy } from '../base/retry.ts'
import {
  decodeSignalMessage,
  encodeSignalMessage,
  isSignalDecodeError,
  MAX_SIGNAL_MESSAGE_BYTES,
  SignalCloseCode,
  type SignalMessage,
} from './signal-protocol.ts'
import { CodedError } from '../base/errors.ts'
import type { WebSocketClass, WebSocketLike } from './websocket-like.ts'
import { OwnPublishes } from './signal-echoes.ts'

export type { WebSocketClass, WebSocketHandlers, WebSocketLike } from './websocket-like.ts'

export type { Timers } from '../base/timers.ts'

/** Reconnects: jittered, so the clients of a restarted server do not all come back at once. */
export const DEFAULT_BACKOFF: RetryPolicy = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 }

export interface SignalClientOptions {
  url: string
  WebSocket: WebSocketClass
  backoff?: Partial<RetryPolicy>
  random?: () => number
  timers?: Timers
  /** Ping period; a connection silent for one whole period is replaced. Default 15 s. */
  pingIntervalMs?: number
  /** A connection still not open after this long counts as failed. Default 10 s. */
  connectTimeoutMs?: number
  maxMessageBytes?: number
}

export type SignalErrorCode =
  | 'signal-unreachable' // could not connect (emitted once per outage)
  | 'signal-rejected' // the server closed us for breaking a limit (4001-4003)
  | 'invalid-url' // misuse: thrown by the constructor
  | 'not-subscribed' // misuse: publish on a topic we did not subscribe to
  | 'destroyed' // misuse: call after destroy()

export class SignalError extends CodedError<SignalErrorCode> {}

export interface SignalMessageEvent {
  topic: string
  /** The payload: opened (decrypted) for keyed topics, as sent otherwise. */
  data: unknown
  /** Subscriber count reported by the server. */
  clients: number | undefined
}

export interface SignalClientEvents {
  open: () => void
  close: (ev: { code: number; reason: string; willReconnect: boolean }) => void
  message: (ev: SignalMessageEvent) => void
  error: (err: SignalError) => void
}

export interface SignalClientStats {
  /** Frames or payloads dropped, by reason. */
  dropped: Record<string, number>
  /** Payloads on keyed topics that did not open (every failure, even after a success). */
  openFailures: number
  /** Own publishes that came back from the server and were skipped. */
  echoes: number
  /** Connections opened after the first one. */
  reconnects: number
}

interface TopicState {
  key: CryptoKey | undefined
}

const OPEN = 1
const ECHO_MEMORY = 128

export class SignalClient extends TypedEmitter<SignalClientEvents> {
  readonly url: string
  readonly stats: SignalClientStats = { dropped: {}, openFailures: 0, echoes: 0, reconnects: 0 }

  private readonly WS: WebSocketClass
  private readonly backoff: RetryPolicy
  private readonly random: () => number
  private readonly timers: Timers
  private readonly pingIntervalMs: number
  private readonly connectTimeoutMs: number
  private readonly maxMessageBytes: number

  private readonly topicStates = new Map<string, TopicState>()
  private readonly sentSealed = new OwnPublishes(ECHO_MEMORY)
  private ws: WebSocketLike | null = null
  private isOpen = false
  private everOpened = false
  private destroyed = false
  private attempt = 0
  private unreachableReported = false
  private heard = false
  private reconnectTimer: unknown = null
  private pingTimer: unknown = null
  private connectTimer: unknown = null
  private inbox: Promise<void> = Promise.resolve()

  constructor(opts: SignalClientOptions) {
    super()
    let parsed: URL
    try {
      parsed = new URL(opts.url)
    } catch (cause) {
      throw new SignalError('invalid-url', `not a URL: ${opts.url}`, { cause })
    }
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
      throw new SignalError('invalid-url', `signalling URL must be ws:// or wss://, got ${opts.url}`)
    }
    this.url = opts.url
    this.WS = opts.WebSocket
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff }
    this.random = opts.random ?? Math.random
    this.timers = opts.timers ?? realTimers
    this.pingIntervalMs = opts.pingIntervalMs ?? 15_000
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000
    this.maxMessageBytes = opts.maxMessageBytes ?? MAX_SIGNAL_MESSAGE_BYTES
    this.connect()
  }

  /** True once destroy() ran; owners of a shared client check it before cleanup calls. */
  get isDestroyed(): boolean {
    return this.destroyed
  }

  /** True while a socket is open. */
  get connected(): boolean {
    return this.isOpen
  }

  get topics(): string[] {
    return [...this.topicStates.keys()]
  }

  /**
   * Subscribes to `topic` (also after every reconnect). With `key`, payloads on this topic
   * are sealed on publish and opened on receipt. Subscribing again replaces the key.
   */
  subscribe(topic: string, opts: { key?: CryptoKey } = {}): void {
    this.assertAlive()
    const existing = this.topicStates.get(topic)
    if (existing) {
      existing.key = opts.key
      return
    }
    this.topicStates.set(topic, { key: opts.key })
    this.send({ type: 'subscribe', topics: [topic] })
  }

  unsubscribe(topic: string): void {
    this.assertAlive()
    if (!this.topicStates.delete(topic)) return
    this.send({ type: 'unsubscribe', topics: [topic] })
  }

  /**
   * Publishes `data` on a subscribed topic, sealed if the topic has a key.
   * Resolves false (and counts a drop) when not connected: signalling is not queued,
   * peers re-announce after reconnecting.
   */
  async publish(topic: string, data: unknown): Promise<boolean> {
    this.assertAlive()
    const state = this.topicStates.get(topic)
    if (!state) throw new SignalError('not-subscribed', `publish on a topic not subscribed: ${topic}`)
    let payload = data
    if (state.key) {
      const sealed = await sealPayload(state.key, data)
      this.sentSealed.add(sealed)
      payload = sealed
    }
    if (this.destroyed) return false
    return this.send({ type: 'publish', topic, data: payload })
  }

  /**
   * Replaces the socket now: the network changed under it (a new address), and a socket bound
   * to the old one may stay silent until the ping times out. Emits `close` (if open), then
   * `open` once the new socket is up.
   */
  reconnect(): void {
    this.assertAlive()
    const wasOpen = this.isOpen
    this.clearTimers()
    this.dropSocket(4000, 'network changed')
    if (wasOpen) this.emit('close', { code: 4000, reason: 'network changed', willReconnect: true })
    this.attempt = 0
    this.connect()
  }

  /** Closes the socket, cancels every timer, forgets listeners. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.clearTimers()
    this.dropSocket(1000, 'client destroyed')
    this.removeAllListeners()
    this.topicStates.clear()
    this.sentSealed.clear()
  }

  // --- internals ---

  private assertAlive(): void {
    if (this.destroyed) throw new SignalError('destroyed', 'signal client was destroyed')
  }

  private drop(reason: string): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1
  }

  private send(msg: SignalMessage): boolean {
    const ws = this.ws
    if (!ws || !this.isOpen || ws.readyState !== OPEN) {
      if (msg.type === 'publish') this.drop('not-open')
      return false
    }
    ws.send(encodeSignalMessage(msg))
    return true
  }

  private clearTimers(): void {
    for (const t of [this.reconnectTimer, this.pingTimer, this.connectTimer]) if (t !== null) this.timers.clearTimeout(t)
    this.reconnectTimer = this.pingTimer = this.connectTimer = null
  }

  private connect(): void {
    this.reconnectTimer = null
    if (this.destroyed) return
    let ws: WebSocketLike
    try {
      ws = new this.WS(this.url)
    } catch (cause) {
      // Browsers throw synchronously for some refused URLs (e.g. blocked ports).
      this.onSocketGone(false, 1006, String(cause), cause)
      return
    }
    this.ws = ws
    let lastError: unknown
    this.connectTimer = this.timers.setTimeout(() => {
      this.connectTimer = null
      this.dropSocket(4000, 'connect timeout')
      this.onSocketGone(false, 1006, 'connect timeout', lastError)
    }, this.connectTimeoutMs)
    ws.onopen = () => this.onOpen()
    ws.onmessage = (ev) => this.onFrame(ev.data)
    ws.onerror = (ev) => {
      lastError = (ev as { error?: unknown }).error ?? ev
    }
    ws.onclose = (ev) => {
      if (this.ws !== ws) return
      this.ws = null
      const wasOpen = this.isOpen
      this.onSocketGone(wasOpen, ev.code, ev.reason, lastError)
    }
  }

  private onOpen(): void {
    if (this.connectTimer !== null) this.timers.clearTimeout(this.connectTimer)
    this.connectTimer = null
    this.isOpen = true
    this.unreachableReported = false
    if (this.everOpened) this.stats.reconnects++
    this.everOpened = true
    if (this.topicStates.size > 0) this.send({ type: 'subscribe', topics: [...this.topicStates.keys()] })
    this.send({ type: 'ping' })
    this.heard = false
    this.schedulePing()
    this.emit('open')
  }

  private schedulePing(): void {
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = null
      if (!this.heard) {
        // Nothing at all (not even the pong) for a whole interval: replace the socket.
        this.dropSocket(4000, 'ping timeout')
        this.onSocketGone(true, 1006, 'ping timeout', undefined)
        return
      }
      this.heard = false
      this.send({ type: 'ping' })
      this.schedulePing()
    }, this.pingIntervalMs)
  }

  /** Detaches and closes the current socket without triggering our close handling. */
  private dropSocket(code: number, reason: string): void {
    const ws = this.ws
    this.ws = null
    if (!ws) return
    ws.onopen = ws.onmessage = ws.onclose = null
    // `ws` (Node) emits 'error' when closed while connecting; with no listener that would throw.
    ws.onerror = () => {}
    try {
      ws.close(code, reason)
    } catch (err) {
      // Closing an already failed socket can throw in some implementations; nothing left to free.
      this.drop(`close-failed:${(err as Error).name}`)
    }
    if (this.isOpen) {
      this.isOpen = false
      if (this.destroyed) this.emit('close', { code, reason, willReconnect: false })
    }
  }

  private onSocketGone(wasOpen: boolean, code: number, reason: string, cause: unknown): void {
    if (this.connectTimer !== null) this.timers.clearTimeout(this.connectTimer)
    if (this.pingTimer !== null) this.timers.clearTimeout(this.pingTimer)
    this.connectTimer = this.pingTimer = null
    this.isOpen = false
    if (this.destroyed) return
    if (wasOpen) this.emit('close', { code, reason, willReconnect: true })
    else if (!this.unreachableReported) {
      this.unreachableReported = true
      this.emit('error', new SignalError('signal-unreachable', `cannot reach the signalling server at ${this.url}`, { cause }))
    }
    if (code === SignalCloseCode.TooLarge || code === SignalCloseCode.TooManyTopics || code === SignalCloseCode.RateLimited) {
      this.emit('error', new SignalError('signal-rejected', `signalling server closed the connection: ${code} ${reason}`))
    }
    if (this.destroyed) return // a listener may have destroyed us
    const delay = retryDelay(this.backoff, this.attempt++, this.random)
    this.reconnectTimer = this.timers.setTimeout(() => this.connect(), delay)
  }

  private onFrame(raw: unknown): void {
    if (this.destroyed) return
    this.heard = true
    if (this.attempt > 0) this.attempt = 0 // the server answered: this connection is real
    if (typeof raw !== 'string') return this.drop('binary')
    const msg = decodeSignalMessage(raw, this.maxMessageBytes)
    if (isSignalDecodeError(msg)) return this.drop(msg.error)
    if (msg.type === 'pong') return
    if (msg.type !== 'publish') return this.drop('unexpected-type')
    const state = this.topicStates.get(msg.topic)
    if (!state) return this.drop('unknown-topic')
    const clients = typeof msg.clients === 'number' ? msg.clients : undefined
    if (!state.key) return this.emit('message', { topic: msg.topic, data: msg.data, clients })
    // Keep delivery in arrival order although opening is asynchronous.
    const key = state.key
    this.inbox = this.inbox.then(() => this.openAndDeliver(msg.topic, key, msg.data, clients))
  }

  private async openAndDeliver(topic: string, key: CryptoKey, data: unknown, clients: number | undefined): Promise<void> {
    if (typeof data === 'string' && this.sentSealed.take(data)) {
      this.stats.echoes++
      return
    }
    const opened = typeof data === 'string' ? await openPayload(key, data, this.maxMessageBytes) : null
    if (this.destroyed || !this.topicStates.has(topic)) return
    if (opened === null) {
      this.stats.openFailures++
      this.drop('open-failed')
      return
    }
    this.emit('message', { topic, data: opened, clients })
  }
}
