/**
 * The relay's signalling endpoint: a WebSocket at `/signal` on the relay's HTTP server,
 * speaking y-webrtc's signalling protocol (see src/net/signal-protocol.ts) so stock
 * y-webrtc clients and Stoop's own client both work against it.
 *
 * Behaviour matches y-webrtc's bin/server.js: `publish` goes to every subscriber of the
 * topic, the sender included when subscribed, with `clients` (the subscriber count) added
 * and all other fields forwarded; `ping` is answered with `pong`; idle connections are
 * pinged at the WebSocket level and dead ones dropped. Unlike the stock server it never
 * throws on bad input and it enforces limits.
 *
 * Limits, close codes (SignalCloseCode) and counters:
 *   frame > maxMessageBytes (64 KiB)          close 4001  rejected_total{reason="too-large"}
 *   frame > maxFrameBytes (hard ceiling, 4x;  close 1009  rejected_total{reason="too-large"}
 *     enforced by `ws` before buffering)
 *   subscribe past maxTopics (32)             close 4002  rejected_total{reason="too-many-topics"}
 *   over the token bucket (200/s, burst 500) close 4003  rejected_total{reason="rate-limited"}
 *   at maxConnections                         close 4004  rejected_total{reason="server-full"}
 *   invalid WebSocket framing / UTF-8         close 1002/1007 (by `ws`) rejected_total{reason="protocol"}
 *   bad JSON, not an object, unknown type, bad field types, nesting too deep:
 *     frame dropped, connection kept          rejected_total{reason="bad-json"|"not-object"|
 *                                                "unknown-type"|"bad-field"|"too-deep"}
 *   no answer to a ping for a whole interval  terminated  dead_total
 *   receiver's send buffer over maxBufferedBytes: that delivery is skipped,
 *                                             dropped_total{reason="backpressure"}
 * Plus gauges `stoop_signal_connections`, `stoop_signal_topics` and counters
 * `stoop_signal_connections_total`, `stoop_signal_messages_total{type}`, `stoop_signal_delivered_total`.
 * All counters are prefixed `stoop_signal_`.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import {
  decodeSignalMessage,
  isSignalDecodeError,
  MAX_SIGNAL_MESSAGE_BYTES,
  SIGNAL_DECODE_REASONS,
  SignalCloseCode,
  type PublishMessage,
} from '../src/net/signal-protocol.ts'
import type { Logger } from './log.ts'
import type { Metrics } from './metrics.ts'
import { startPinger } from './liveness.ts'

export interface SignallingOptions {
  log: Logger
  metrics: Metrics
  /** URL path of the endpoint. Default `/signal`. */
  path?: string
  maxMessageBytes?: number
  /** Frames above this are refused by `ws` while reading the header (close 1009). Default 4x maxMessageBytes. */
  maxFrameBytes?: number
  maxTopicsPerConnection?: number
  /** Token bucket: sustained frames per second per connection. */
  ratePerSecond?: number
  /** Token bucket size. */
  burst?: number
  maxConnections?: number
  /** Idle connections are pinged this often; one silent interval after a ping and they are dropped. */
  pingIntervalMs?: number
  /** Skip a delivery when the receiver already has this much queued. */
  maxBufferedBytes?: number
  now?: () => number
}

export interface Signalling {
  readonly connectionCount: number
  readonly topicCount: number
  /** Closes every connection (1001) and detaches from the server. */
  close(): Promise<void>
}

export const REJECT_REASONS = [...SIGNAL_DECODE_REASONS, 'too-many-topics', 'rate-limited', 'server-full', 'protocol'] as const

interface Conn {
  ws: WebSocket
  topics: Set<string>
  tokens: number
  refilledAt: number
  /** Any frame or pong since the last ping tick. */
  heard: boolean
  pinged: boolean
  closing: boolean
  /** Cuts the socket if a close we started is not completed by the peer. */
  killTimer: NodeJS.Timeout | undefined
}

const GOING_AWAY = 1001

export function attachSignalling(server: Server, opts: SignallingOptions): Signalling {
  const path = opts.path ?? '/signal'
  const maxMessageBytes = opts.maxMessageBytes ?? MAX_SIGNAL_MESSAGE_BYTES
  const maxFrameBytes = opts.maxFrameBytes ?? 4 * maxMessageBytes
  const maxTopics = opts.maxTopicsPerConnection ?? 32
  // Trickle ICE is bursty: a speaker joining a room of n sends ~10 candidates per
  // peer plus offers and answers within a second. 50/s cut real sessions off.
  const rate = opts.ratePerSecond ?? 200
  const burst = opts.burst ?? 500
  const maxConnections = opts.maxConnections ?? 1000
  const pingIntervalMs = opts.pingIntervalMs ?? 30_000
  const maxBuffered = opts.maxBufferedBytes ?? 1024 * 1024
  const now = opts.now ?? Date.now
  const { log, metrics: m } = opts

  describeMetrics(m)
  const rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, m.counter('stoop_signal_rejected_total', { reason: r })]))
  const messages = Object.fromEntries(
    (['subscribe', 'unsubscribe', 'publish', 'ping', 'pong'] as const).map((t) => [t, m.counter('stoop_signal_messages_total', { type: t })]),
  )
  const connectionsGauge = m.gauge('stoop_signal_connections')
  const topicsGauge = m.gauge('stoop_signal_topics')
  const accepted = m.counter('stoop_signal_connections_total')
  const delivered = m.counter('stoop_signal_delivered_total')
  const backpressure = m.counter('stoop_signal_dropped_total', { reason: 'backpressure' })
  const sendErrors = m.counter('stoop_signal_dropped_total', { reason: 'send-error' })
  const dead = m.counter('stoop_signal_dead_total')

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes, perMessageDeflate: false, clientTracking: false })
  const conns = new Set<Conn>()
  const topics = new Map<string, Set<Conn>>()
  let closed = false

  const onSendDone = (err?: Error) => {
    if (err) sendErrors.inc()
  }

  function leaveAll(conn: Conn): void {
    for (const t of conn.topics) leave(conn, t)
  }

  function leave(conn: Conn, topic: string): void {
    conn.topics.delete(topic)
    const subs = topics.get(topic)
    if (!subs) return
    subs.delete(conn)
    if (subs.size === 0) topics.delete(topic)
    topicsGauge.set(topics.size)
  }

  /** Closes for breaking a limit; the socket is cut if the peer does not finish the close handshake. */
  function reject(conn: Conn, code: number, reason: (typeof REJECT_REASONS)[number], remote: string | undefined): void {
    rejected[reason]!.inc()
    conn.closing = true
    leaveAll(conn)
    log.warn('signal connection closed', { code, reason, remote })
    conn.ws.close(code, reason)
    conn.killTimer = setTimeout(() => conn.ws.terminate(), 1000).unref()
  }

  function takeToken(conn: Conn): boolean {
    const t = now()
    conn.tokens = Math.min(burst, conn.tokens + ((t - conn.refilledAt) * rate) / 1000)
    conn.refilledAt = t
    if (conn.tokens < 1) return false
    conn.tokens -= 1
    return true
  }

  function publish(msg: PublishMessage): void {
    const receivers = topics.get(msg.topic)
    if (!receivers) return
    let out: string
    try {
      out = JSON.stringify({ ...msg, clients: receivers.size })
    } catch {
      // Unreachable after the decoder's depth cap; counted rather than trusted.
      rejected['bad-field']!.inc()
      return
    }
    for (const r of receivers) {
      if (r.closing || r.ws.readyState !== r.ws.OPEN) continue
      if (r.ws.bufferedAmount > maxBuffered) {
        backpressure.inc()
        continue
      }
      r.ws.send(out, onSendDone)
      delivered.inc()
    }
  }

  function onFrame(conn: Conn, data: RawData, remote: string | undefined): void {
    if (conn.closing) return
    conn.heard = true
    if (!takeToken(conn)) return reject(conn, SignalCloseCode.RateLimited, 'rate-limited', remote)
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
    if (buf.length > maxMessageBytes) return reject(conn, SignalCloseCode.TooLarge, 'too-large', remote)
    const msg = decodeSignalMessage(buf.toString('utf8'), maxMessageBytes)
    if (isSignalDecodeError(msg)) {
      if (msg.error === 'too-large') return reject(conn, SignalCloseCode.TooLarge, 'too-large', remote)
      rejected[msg.error]!.inc()
      return
    }
    messages[msg.type]!.inc()
    switch (msg.type) {
      case 'subscribe': {
        const fresh = msg.topics.filter((t) => !conn.topics.has(t))
        if (new Set(fresh).size + conn.topics.size > maxTopics) return reject(conn, SignalCloseCode.TooManyTopics, 'too-many-topics', remote)
        for (const t of fresh) {
          conn.topics.add(t)
          let subs = topics.get(t)
          if (!subs) topics.set(t, (subs = new Set()))
          subs.add(conn)
        }
        topicsGauge.set(topics.size)
        return
      }
      case 'unsubscribe':
        for (const t of msg.topics) leave(conn, t)
        return
      case 'publish':
        return publish(msg)
      case 'ping':
        conn.ws.send(JSON.stringify({ type: 'pong' }), onSendDone)
        return
      case 'pong':
        return
    }
  }

  function onConnection(ws: WebSocket, req: IncomingMessage): void {
    const remote = req.socket.remoteAddress
    if (closed || conns.size >= maxConnections) {
      rejected['server-full']!.inc()
      ws.on('error', () => rejected.protocol!.inc())
      ws.close(closed ? GOING_AWAY : SignalCloseCode.ServerFull, closed ? 'server shutting down' : 'server full')
      const kill = setTimeout(() => ws.terminate(), 1000).unref()
      ws.on('close', () => clearTimeout(kill))
      return
    }
    const conn: Conn = { ws, topics: new Set(), tokens: burst, refilledAt: now(), heard: true, pinged: false, closing: false, killTimer: undefined }
    conns.add(conn)
    accepted.inc()
    connectionsGauge.set(conns.size)
    log.debug('signal connection', { remote })
    ws.on('message', (data) => onFrame(conn, data, remote))
    ws.on('pong', () => {
      conn.heard = true
    })
    ws.on('error', (err: Error & { code?: string }) => {
      // `ws` has already sent the close frame (1009 for oversize, 1002/1007 for bad framing).
      rejected[err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too-large' : 'protocol']!.inc()
      log.warn('signal connection error', { remote, code: err.code, err: err.message })
    })
    ws.on('close', () => {
      clearTimeout(conn.killTimer)
      conn.closing = true
      leaveAll(conn)
      conns.delete(conn)
      connectionsGauge.set(conns.size)
    })
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    let pathname: string
    try {
      pathname = new URL(req.url ?? '/', 'http://relay').pathname
    } catch {
      return // not ours; another part (or the server's default) handles it
    }
    if (pathname !== path) return
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req))
  }

  // Only connections that were silent for a whole interval get a ping; silent after that: dead.
  const stopPinger = startPinger(conns, pingIntervalMs, (conn) => {
    dead.inc()
    conn.closing = true
    leaveAll(conn)
  })

  server.on('upgrade', onUpgrade)

  return {
    get connectionCount() {
      return conns.size
    },
    get topicCount() {
      return topics.size
    },
    async close() {
      if (closed) return
      closed = true
      server.off('upgrade', onUpgrade)
      stopPinger()
      const pending = [...conns].map(
        (c) =>
          new Promise<void>((done) => {
            if (c.ws.readyState === c.ws.CLOSED) return done()
            c.ws.once('close', () => done())
            c.ws.close(GOING_AWAY, 'server shutting down')
          }),
      )
      let timer: NodeJS.Timeout | undefined
      await Promise.race([Promise.all(pending), new Promise<void>((done) => (timer = setTimeout(done, 1000)))])
      clearTimeout(timer)
      for (const c of conns) c.ws.terminate()
      await new Promise<void>((done) => wss.close(() => done()))
    },
  }
}

function describeMetrics(m: Metrics): void {
  m.describe('stoop_signal_connections', 'Open signalling WebSocket connections')
  m.describe('stoop_signal_topics', 'Signalling topics with at least one subscriber')
  m.describe('stoop_signal_connections_total', 'Signalling connections accepted')
  m.describe('stoop_signal_messages_total', 'Valid signalling frames received, by type')
  m.describe('stoop_signal_rejected_total', 'Signalling frames or connections rejected, by reason')
  m.describe('stoop_signal_delivered_total', 'Publish frames sent to subscribers')
  m.describe('stoop_signal_dropped_total', 'Publish deliveries skipped, by reason')
  m.describe('stoop_signal_dead_total', 'Signalling connections dropped for not answering pings')
}
