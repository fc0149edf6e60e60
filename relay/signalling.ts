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
 * All counters are prefixed `stoop_signal_`. The socket plumbing is shared with /relay (ws-endpoint.ts).
 */
import type { Server } from 'node:http'
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
import { attachWsEndpoint, type WsConn } from './ws-endpoint.ts'

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

export const REJECT_REASONS = [...SIGNAL_DECODE_REASONS, 'too-many-topics', 'rate-limited', 'server-full', 'protocol', 'amplified'] as const

interface Conn extends WsConn {
  topics: Set<string>
  remote: string | undefined
}

const GOING_AWAY = 1001

/** Long only as a set of short handlers closing over one topic table. */
// eslint-disable-next-line max-lines-per-function -- see above
export function attachSignalling(server: Server, opts: SignallingOptions): Signalling {
  const maxMessageBytes = opts.maxMessageBytes ?? MAX_SIGNAL_MESSAGE_BYTES
  const maxTopics = opts.maxTopicsPerConnection ?? 32
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

  const topics = new Map<string, Set<Conn>>()

  const onSendDone = (err?: Error) => {
    if (err) sendErrors.inc()
  }

  const endpoint = attachWsEndpoint<Conn>(server, {
    path: opts.path ?? '/signal',
    maxPayload: opts.maxFrameBytes ?? 4 * maxMessageBytes,
    maxConnections: opts.maxConnections ?? 1000,
    // Trickle ICE is bursty: a speaker joining a room of n sends ~10 candidates per
    // peer plus offers and answers within a second. 50/s cut real sessions off.
    ratePerSecond: opts.ratePerSecond ?? 200,
    burst: opts.burst ?? 500,
    pingIntervalMs: opts.pingIntervalMs ?? 30_000,
    maxBufferedBytes: opts.maxBufferedBytes ?? 1024 * 1024,
    now: opts.now ?? Date.now,
    backpressure,
    connections: connectionsGauge,
    rejected: (reason) => rejected[reason]!.inc(),
    refusal: (shuttingDown) =>
      shuttingDown ? { code: GOING_AWAY, reason: 'server shutting down' } : { code: SignalCloseCode.ServerFull, reason: 'server full' },
    accept(base, req) {
      const remote = req.socket.remoteAddress
      accepted.inc()
      log.debug('signal connection', { remote })
      return { ...base, topics: new Set(), remote }
    },
    frame: (conn, data) => onFrame(conn, data),
    rateLimited: (conn) => reject(conn, SignalCloseCode.RateLimited, 'rate-limited'),
    error: (conn, err) => log.warn('signal connection error', { remote: conn.remote, code: err.code, err: err.message }),
    leave: leaveAll,
    dead: () => dead.inc(),
  })

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

  /** Closes for breaking a limit. */
  function reject(conn: Conn, code: number, reason: (typeof REJECT_REASONS)[number]): void {
    rejected[reason]!.inc()
    log.warn('signal connection closed', { code, reason, remote: conn.remote })
    endpoint.shut(conn, code, reason)
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
    // Re-serialising can grow a frame (9e20 comes out as 900000000000000000000): never fan out
    // more than a client could have sent, or one frame becomes several times its size per subscriber.
    if (out.length > maxMessageBytes) {
      rejected['amplified']!.inc()
      return
    }
    // A receiver that is not reading misses this delivery rather than growing its queue.
    for (const r of receivers) if (endpoint.send(r, out, onSendDone) === 'sent') delivered.inc()
  }

  function onFrame(conn: Conn, buf: Buffer): void {
    if (buf.length > maxMessageBytes) return reject(conn, SignalCloseCode.TooLarge, 'too-large')
    const msg = decodeSignalMessage(buf.toString('utf8'), maxMessageBytes)
    if (isSignalDecodeError(msg)) {
      if (msg.error === 'too-large') return reject(conn, SignalCloseCode.TooLarge, 'too-large')
      rejected[msg.error]!.inc()
      return
    }
    messages[msg.type]!.inc()
    switch (msg.type) {
      case 'subscribe': {
        const fresh = msg.topics.filter((t) => !conn.topics.has(t))
        if (new Set(fresh).size + conn.topics.size > maxTopics) return reject(conn, SignalCloseCode.TooManyTopics, 'too-many-topics')
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

  return {
    get connectionCount() {
      return endpoint.conns.size
    },
    get topicCount() {
      return topics.size
    },
    close: () => endpoint.close((c) => c.ws.close(GOING_AWAY, 'server shutting down')),
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
