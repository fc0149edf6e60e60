/**
 * The relay endpoint: a WebSocket at `/relay` on the relay's HTTP server (the
 * protocol is in src/net/relay-protocol.ts). Per connection:
 *
 *   hello -> challenge -> auth (Ed25519 over room, nonce, host) -> welcome
 *   then control (publish, subscribe, answers) and binary room sync.
 *
 * Rooms (relay/rooms/room.ts) are loaded on first use, from `--data` when
 * stored there, and unloaded (flushed) `idleRoomMs` after their last peer left.
 *
 * This file wires the parts: sockets, limits and shutdown (../ws-endpoint.ts),
 * the handshake (handshake.ts), the rooms (registry.ts), requests after
 * welcome (requests.ts) and binary sync (sync-frames.ts).
 *
 * Limits, close codes and counters (`stoop_relay_rejected_total{reason}`):
 *   control frame > 72 KiB, binary > 1 MiB      close 4001  too-large
 *   over the token bucket (frames/s)             close 4003  rate-limited
 *   over the byte budget (bytes/s)               close 4003  byte-rate
 *   at maxConnections / maxRooms / maxPeers      refused + close 4004  server-full / rooms-full / room-full
 *   at maxConnectionsPerIp / maxRoomsPerIp       refused + close 4004  ip-full / ip-rooms
 *   bad signature, no auth in time, binary or    refused + close 4005  auth-failed / auth-timeout / unexpected
 *     control before auth
 *   bad JSON, unknown type, bad fields           frame dropped          bad-json / unknown-type / bad-field / ...
 *   no proof of the room's current epoch (a      refused + close 4009  not-member / epoch-replaced /
 *     cascade: no vouch for its relay key)                              not-vouched (epoch-gate.ts)
 *   a member's vouch that does not verify        vouch dropped          bad-vouch
 *   a key banned in the room state: at the       refused + close 4008  banned
 *     handshake, at sync, or when its ban arrives
 *     (subscribe/publish refused with `banned`)
 *   room update refused by the gate              update dropped         gate:<reason> (and sync counters)
 *   room update past a doc-size cap              update dropped         doc-full / relay-full
 *   presence or step 1 refused (sync-guard.ts)   message dropped        sync:<reason>
 *   a socket whose send buffer is over           close 4003             backpressure (stoop_relay_dropped_total)
 *     maxBufferedBytes (it resyncs on reconnect)
 * Shutdown (`close()`): stop accepting, send every client `{type:'bye'}`,
 * close with 1001, flush every room doc to disk, close the forwarders.
 */
import type { Server } from 'node:http'
import type { RTCPeerConnectionConfig } from 'werift'
import {
  decodeClientMessage,
  encodeRelayMessage,
  isRelayDecodeError,
  MAX_RELAY_CONTROL_BYTES,
  MAX_RELAY_SYNC_BYTES,
  RELAY_DECODE_REASONS,
  RelayCloseCode,
  type ClientMessage,
} from '../../src/net/relay-protocol.ts'
import { SYNC_REJECT_REASONS } from '../../src/net/sync.ts'
import type { Identity } from '../../src/identity/index.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import { attachWsEndpoint } from '../ws-endpoint.ts'
import { newConn, refuse, type Conn } from './conn.ts'
import { IpRooms } from './ip-rooms.ts'
import type { SyncGuardLimits } from './sync-guard.ts'
import { Handshake, HANDSHAKE_REJECT_REASONS } from './handshake.ts'
import { RelayMetricsCollector } from './metrics.ts'
import { REGISTRY_REJECT_REASONS, RoomRegistry } from './registry.ts'
import { serveRequest } from './requests.ts'
import { SyncFrames } from './sync-frames.ts'
import type { RelayRoom } from './room.ts'
import type { ForwarderChoice } from '../sfu/sharded-forwarder.ts'

export interface RelayRoomsOptions extends ForwarderChoice {
  log: Logger
  metrics: Metrics
  /** URL path. Default `/relay`. */
  path?: string
  /** Persist room docs here (one file per room). Without it docs live in memory only. */
  dataDir?: string
  maxConnections?: number
  /** Connections from one IP address. */
  maxConnectionsPerIp?: number
  maxRooms?: number
  /** Distinct rooms the connections from one IP address may be in. */
  maxRoomsPerIp?: number
  /** Listening connections per room. */
  maxListeners?: number
  maxPublishers?: number
  /** Connections (any role) per room. */
  maxPeersPerRoom?: number
  /** Entry bytes per room doc, and over all loaded rooms. */
  maxDocBytes?: number
  maxTotalDocBytes?: number
  authTimeoutMs?: number
  /** Token bucket over all frames of a connection. */
  ratePerSecond?: number
  burst?: number
  /** Token bucket over the bytes of a connection's frames. */
  bytesPerSecond?: number
  burstBytes?: number
  /** Presence and sync step 1 limits per connection (sync-guard.ts). */
  sync?: Partial<SyncGuardLimits>
  /** WebSocket-level ping to find dead sockets. */
  pingIntervalMs?: number
  /** Close a socket whose unsent data exceeds this. */
  maxBufferedBytes?: number
  /** Unload a room this long after its last peer left. */
  idleRoomMs?: number
  /** Store debounce (see store.ts). */
  storeDebounceMs?: number
  storeMaxDelayMs?: number
  /** Bytes all stored docs may take; rooms unused this long are deleted from the store. */
  storeQuotaBytes?: number
  storeExpireMs?: number
  /** Host named in challenges. Default: the request's Host header (set it behind a proxy that rewrites Host). */
  publicHost?: string
  /** werift configuration (ICE addresses, port range). */
  peerConfig?: Partial<RTCPeerConnectionConfig>
  /** Applied to SDP the relay sends. */
  sdpFilter?: (sdp: string) => string
  now?: () => number
  /** A room was loaded (cascade discovery joins its relay topic). */
  onRoomOpened?: (room: RelayRoom) => void
  /** A room was unloaded. */
  onRoomClosed?: (room: RelayRoom) => void
  /** This relay's own key: named in challenges (members vouch for it) and signing cascades' welcomes (vouch.ts). */
  identity?: Identity
}

export interface RelayRooms {
  readonly roomCount: number
  readonly connectionCount: number
  /** A loaded room (tests, admin). */
  room(discovery: string): RelayRoom | undefined
  /** Brings gauges and forwarder totals in the registry up to date (call before rendering /metrics). */
  collect(): void
  /** Says bye to every client, flushes docs, closes. Idempotent. */
  close(reason?: string): Promise<void>
}

/** Defaults of the limits an admin sets (`stoop relay` flags, docs/relay.md). */
export const RELAY_DEFAULTS = {
  maxDocBytes: 8 * 1024 * 1024,
  maxTotalDocBytes: 512 * 1024 * 1024,
  maxConnectionsPerIp: 100,
  maxRoomsPerIp: 20,
  bytesPerSecond: 512 * 1024,
  /** A whole room log synced at once (its step 2, split under the frame cap) must fit. */
  burstBytes: 10 * 1024 * 1024,
  storeQuotaBytes: 1024 * 1024 * 1024,
  storeExpireMs: 30 * 24 * 60 * 60 * 1000,
} as const

const REJECT_REASONS = [
  ...RELAY_DECODE_REASONS,
  'rate-limited',
  'byte-rate',
  'server-full',
  'ip-full',
  'ip-rooms',
  'protocol',
  ...HANDSHAKE_REJECT_REASONS,
  ...REGISTRY_REJECT_REASONS,
  ...SYNC_REJECT_REASONS.map((r) => `sync:${r}` as const),
] as const

type RejectReason = (typeof REJECT_REASONS)[number]

/** Long only as the sum of its parts' options and of short frame handlers that close over those parts. */
// eslint-disable-next-line max-lines-per-function -- see above
export function attachRelayRooms(server: Server, opts: RelayRoomsOptions): RelayRooms {
  const now = opts.now ?? Date.now
  const { log, metrics: m } = opts

  const collector = new RelayMetricsCollector(m)
  const rejected = (reason: RejectReason) => m.counter('stoop_relay_rejected_total', { reason }).inc()
  for (const r of REJECT_REASONS) m.counter('stoop_relay_rejected_total', { reason: r })
  const sync = new SyncFrames(m, (conn, data) => send(conn, data))
  const authenticated = m.counter('stoop_relay_connections_total')

  const registry = new RoomRegistry({
    log,
    metrics: m,
    room: {
      limits: {
        maxListeners: opts.maxListeners ?? 1000,
        maxPublishers: opts.maxPublishers ?? 32,
        maxDocBytes: opts.maxDocBytes ?? RELAY_DEFAULTS.maxDocBytes,
        ...(opts.sync ? { sync: opts.sync } : {}),
      },
      syncStats: sync.stats,
      peerConfig: opts.peerConfig,
      sdpFilter: opts.sdpFilter,
      forwarder: opts.forwarder,
      now,
    },
    maxRooms: opts.maxRooms ?? 1000,
    idleRoomMs: opts.idleRoomMs ?? 30_000,
    maxTotalDocBytes: opts.maxTotalDocBytes ?? RELAY_DEFAULTS.maxTotalDocBytes,
    dataDir: opts.dataDir,
    storeDebounceMs: opts.storeDebounceMs,
    storeMaxDelayMs: opts.storeMaxDelayMs,
    storeQuotaBytes: opts.storeQuotaBytes ?? RELAY_DEFAULTS.storeQuotaBytes,
    storeExpireMs: opts.storeExpireMs ?? RELAY_DEFAULTS.storeExpireMs,
    rejected,
    onRoomOpened: opts.onRoomOpened,
    onRoomClosed: opts.onRoomClosed,
  })

  const ipRooms = new IpRooms(opts.maxRoomsPerIp ?? RELAY_DEFAULTS.maxRoomsPerIp)

  const handshake = new Handshake({
    registry,
    maxPeersPerRoom: opts.maxPeersPerRoom ?? 2000,
    authTimeoutMs: opts.authTimeoutMs ?? 10_000,
    log,
    rejected,
    joined: () => authenticated.inc(),
    ...(opts.identity ? { identity: opts.identity } : {}),
  })

  const sockets = attachWsEndpoint<Conn>(server, {
    path: opts.path ?? '/relay',
    maxPayload: MAX_RELAY_SYNC_BYTES + 1024,
    maxConnections: opts.maxConnections ?? 5000,
    maxConnectionsPerIp: opts.maxConnectionsPerIp ?? RELAY_DEFAULTS.maxConnectionsPerIp,
    ratePerSecond: opts.ratePerSecond ?? 200,
    burst: opts.burst ?? 400,
    bytesPerSecond: opts.bytesPerSecond ?? RELAY_DEFAULTS.bytesPerSecond,
    burstBytes: opts.burstBytes ?? RELAY_DEFAULTS.burstBytes,
    pingIntervalMs: opts.pingIntervalMs ?? 30_000,
    maxBufferedBytes: opts.maxBufferedBytes ?? 8 * 1024 * 1024,
    now,
    backpressure: m.counter('stoop_relay_dropped_total', { reason: 'backpressure' }),
    rejected,
    refusal: (shuttingDown, why) => ({
      code: shuttingDown ? RelayCloseCode.GoingAway : RelayCloseCode.Full,
      reason: shuttingDown ? 'shutting down' : 'server full',
      farewell: encodeRelayMessage({
        type: 'refused',
        op: 'hello',
        reason: 'server-full',
        message: shuttingDown ? 'the relay is shutting down' : why === 'ip-full' ? 'too many connections from your address' : 'the relay is full',
      }),
    }),
    accept(base, req) {
      const host = opts.publicHost ?? String(req.headers.host ?? 'localhost').toLowerCase()
      const conn = newConn(base, host, { send: (c, msg) => send(c, encodeRelayMessage(msg)), shut: sockets.shut })
      handshake.start(conn)
      return conn
    },
    frame: (conn, data, isBinary) => (isBinary ? onSync(conn, data) : onControl(conn, data)),
    rateLimited(conn, limit) {
      const reason = limit === 'bytes' ? 'byte-rate' : 'rate-limited'
      rejected(reason)
      sockets.shut(conn, RelayCloseCode.RateLimited, reason)
    },
    error: (_conn, err) => log.warn('relay connection error', { code: err.code, err: err.message }),
    leave(conn) {
      ipRooms.leave(conn)
      handshake.stop(conn)
      conn.link?.close()
      const room = conn.room
      conn.room = null
      if (room) registry.leave(room, conn)
    },
  })

  /** A client that does not read what it is sent is cut off; it resyncs when it reconnects. */
  function send(conn: Conn, data: string | Uint8Array): void {
    if (sockets.send(conn, data) === 'slow') sockets.shut(conn, RelayCloseCode.RateLimited, 'backpressure')
  }

  function onSync(conn: Conn, buf: Buffer): void {
    if (conn.phase !== 'open' || !conn.room) {
      rejected('unexpected')
      return sockets.shut(conn, RelayCloseCode.Unauthenticated, 'binary before welcome')
    }
    if (buf.length > MAX_RELAY_SYNC_BYTES) {
      rejected('too-large')
      return sockets.shut(conn, RelayCloseCode.TooLarge, 'too-large')
    }
    sync.receive(conn, conn.room, buf)
  }

  function onControl(conn: Conn, buf: Buffer): void {
    if (buf.length > MAX_RELAY_CONTROL_BYTES) {
      rejected('too-large')
      return sockets.shut(conn, RelayCloseCode.TooLarge, 'too-large')
    }
    const msg = decodeClientMessage(buf.toString('utf8'))
    if (isRelayDecodeError(msg)) return rejected(msg.error)
    m.counter('stoop_relay_messages_total', { type: msg.type }).inc()
    if (msg.type === 'ping') return conn.send({ type: 'pong' })
    if (msg.type === 'pong') return
    conn.queue = conn.queue
      .then(() => handle(conn, msg))
      .catch((err: unknown) => {
        log.error('relay request failed', { type: msg.type, err: String((err as Error)?.stack ?? err) })
        if (msg.type === 'publish' || msg.type === 'subscribe' || msg.type === 'answer') refuse(conn, msg.type, 'internal', 'the relay failed to handle this request')
      })
  }

  async function handle(conn: Conn, msg: ClientMessage): Promise<void> {
    if (conn.closing) return
    if (conn.phase === 'hello' && msg.type === 'hello' && !ipRooms.enter(conn, msg.room)) {
      rejected('ip-rooms')
      refuse(conn, 'hello', 'rooms-full', `this relay serves at most ${ipRooms.max} rooms to one address`)
      return conn.close(RelayCloseCode.Full, 'ip-rooms')
    }
    if (conn.phase !== 'open') return handshake.step(conn, msg)
    return serveRequest(conn, conn.room!, msg, { log, rejected })
  }

  return {
    get roomCount() {
      return registry.size
    },
    get connectionCount() {
      return sockets.conns.size
    },
    room: (discovery) => registry.get(discovery),
    collect() {
      sync.collect()
      const rooms = registry.snapshot()
      let unauthenticated = 0
      for (const c of sockets.conns) if (!c.closing && c.phase !== 'open') unauthenticated++
      rooms.peersByRole.unauthenticated = unauthenticated
      collector.collect({ ...rooms, connections: sockets.conns.size, docBytes: registry.budget.used, store: registry.storeUsage() })
    },
    async close(reason = 'shutdown') {
      if (sockets.closed) return
      // Rooms emptied by the closing connections are unloaded below, not on their idle timers.
      registry.stopUnloading()
      await sockets.close((c) => {
        c.send({ type: 'bye', reason })
        sockets.shut(c, RelayCloseCode.GoingAway, reason)
      })
      await registry.close()
      collector.close()
      log.info('relay rooms closed', { reason })
    },
  }
}
