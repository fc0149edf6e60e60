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
 * Limits, close codes and counters (`stoop_relay_rejected_total{reason}`):
 *   control frame > 72 KiB, binary > 1 MiB      close 4001  too-large
 *   over the token bucket (frames/s)             close 4003  rate-limited
 *   at maxConnections / maxRooms / maxPeers      refused + close 4004  server-full / rooms-full / room-full
 *   bad signature, no auth in time, binary or    refused + close 4005  auth-failed / auth-timeout / unexpected
 *     control before auth
 *   bad JSON, unknown type, bad fields           frame dropped          bad-json / unknown-type / bad-field / ...
 *   room update refused by the gate              update dropped         gate:<reason> (and sync counters)
 *   a socket whose send buffer is over           close 4003             backpressure (stoop_relay_dropped_total)
 *     maxBufferedBytes (it resyncs on reconnect)
 * Shutdown (`close()`): stop accepting, send every client `{type:'bye'}`,
 * close with 1001, flush every room doc to disk, close the forwarders.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import type { RTCPeerConnectionConfig } from 'werift'
import { fromBase64url, publicKeyFromId, toBase64url, verifySignature } from '../../src/identity/index.ts'
import { BaseLink } from '../../src/net/link.ts'
import {
  authMessage,
  decodeClientMessage,
  encodeRelayMessage,
  isRelayDecodeError,
  MAX_RELAY_CONTROL_BYTES,
  MAX_RELAY_SYNC_BYTES,
  RELAY_DECODE_REASONS,
  RELAY_PROTOCOL_VERSION,
  RelayCloseCode,
  type ClientMessage,
  type RefuseReason,
  type RelayMessage,
  type RelayOp,
} from '../../src/net/relay-protocol.ts'
import { createSyncStats, SYNC_REJECT_REASONS } from '../../src/net/sync.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import { ROOM_GATE_REASONS } from './gate.ts'
import { addForwarderStats, emptyForwarderStats, RelayMetricsCollector } from './metrics.ts'
import { RelayRoom, type RoomLimits, type RoomPeer } from './room.ts'
import { RoomStore } from './store.ts'
import { startPinger } from '../liveness.ts'

export interface RelayRoomsOptions {
  log: Logger
  metrics: Metrics
  /** URL path. Default `/relay`. */
  path?: string
  /** Persist room docs here (one file per room). Without it docs live in memory only. */
  dataDir?: string
  maxConnections?: number
  maxRooms?: number
  /** Listening connections per room. */
  maxListeners?: number
  maxPublishers?: number
  /** Connections (any role) per room. */
  maxPeersPerRoom?: number
  maxDocBytes?: number
  authTimeoutMs?: number
  /** Token bucket over all frames of a connection. */
  ratePerSecond?: number
  burst?: number
  /** WebSocket-level ping to find dead sockets. */
  pingIntervalMs?: number
  /** Close a socket whose unsent data exceeds this. */
  maxBufferedBytes?: number
  /** Unload a room this long after its last peer left. */
  idleRoomMs?: number
  /** Store debounce (see store.ts). */
  storeDebounceMs?: number
  storeMaxDelayMs?: number
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

type Phase = 'hello' | 'auth' | 'joining' | 'open' | 'closed'

interface Conn extends RoomPeer {
  cascade: boolean
  ws: WebSocket
  phase: Phase
  key: string
  discovery: string
  nonce: string
  host: string
  room: RelayRoom | null
  link: ServerLink | null
  tokens: number
  refilledAt: number
  heard: boolean
  pinged: boolean
  authTimer: NodeJS.Timeout | null
  killTimer: NodeJS.Timeout | null
  /** Control requests run one at a time per connection, in order. */
  queue: Promise<void>
}

const REJECT_REASONS = [
  ...RELAY_DECODE_REASONS,
  'rate-limited',
  'server-full',
  'rooms-full',
  'room-full',
  'auth-failed',
  'auth-timeout',
  'bad-version',
  'unexpected',
  'protocol',
  'store-corrupt',
  'doc-full',
  ...ROOM_GATE_REASONS.map((r) => `gate:${r}`),
  ...SYNC_REJECT_REASONS.map((r) => `sync:${r}`),
] as const

/** Binary room sync of one connection, as a Link. */
class ServerLink extends BaseLink {
  constructor(private readonly out: (data: Uint8Array) => void) {
    super()
  }
  protected _send(data: Uint8Array): void {
    this.out(data)
  }
  protected _teardown(): void {}
  receive(data: Uint8Array): void {
    this._receive(data)
  }
}

export function attachRelayRooms(server: Server, opts: RelayRoomsOptions): RelayRooms {
  const path = opts.path ?? '/relay'
  const maxConnections = opts.maxConnections ?? 5000
  const maxRooms = opts.maxRooms ?? 1000
  const maxPeersPerRoom = opts.maxPeersPerRoom ?? 2000
  const limits: RoomLimits = {
    maxListeners: opts.maxListeners ?? 1000,
    maxPublishers: opts.maxPublishers ?? 32,
    maxDocBytes: opts.maxDocBytes ?? 8 * 1024 * 1024,
  }
  const authTimeoutMs = opts.authTimeoutMs ?? 10_000
  const rate = opts.ratePerSecond ?? 200
  const burst = opts.burst ?? 400
  const pingIntervalMs = opts.pingIntervalMs ?? 30_000
  const maxBuffered = opts.maxBufferedBytes ?? 8 * 1024 * 1024
  const idleRoomMs = opts.idleRoomMs ?? 30_000
  const now = opts.now ?? Date.now
  const { log, metrics: m } = opts

  const collector = new RelayMetricsCollector(m)
  const rejected = (reason: (typeof REJECT_REASONS)[number]) => m.counter('stoop_relay_rejected_total', { reason }).inc()
  for (const r of REJECT_REASONS) m.counter('stoop_relay_rejected_total', { reason: r })
  const syncStats = createSyncStats()
  const syncSeen = createSyncStats().rejected
  const authenticated = m.counter('stoop_relay_connections_total')
  const backpressure = m.counter('stoop_relay_dropped_total', { reason: 'backpressure' })
  m.counter('stoop_relay_rejected_publish_total', { reason: 'not-speaker' })
  m.counter('stoop_relay_revoked_publish_total')

  const store = opts.dataDir
    ? new RoomStore({
        dir: opts.dataDir,
        ...(opts.storeDebounceMs !== undefined ? { debounceMs: opts.storeDebounceMs } : {}),
        ...(opts.storeMaxDelayMs !== undefined ? { maxDelayMs: opts.storeMaxDelayMs } : {}),
        onWrite: (room, ok, bytes, err) => {
          m.counter('stoop_relay_doc_writes_total', { result: ok ? 'ok' : 'error' }).inc()
          if (!ok) log.error('room doc write failed', { room: room.slice(0, 12), bytes, err: String(err) })
        },
      })
    : null

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_RELAY_SYNC_BYTES + 1024, perMessageDeflate: false, clientTracking: false })
  const conns = new Set<Conn>()
  const rooms = new Map<string, RelayRoom>()
  const loading = new Map<string, Promise<RelayRoom>>()
  const idleTimers = new Map<string, NodeJS.Timeout>()
  const retired = emptyForwarderStats()
  let closed = false

  // ---- rooms ------------------------------------------------------------------------------

  async function openRoom(discovery: string): Promise<RelayRoom> {
    const live = rooms.get(discovery)
    if (live) return live
    const pending = loading.get(discovery)
    if (pending) return pending
    if (rooms.size + loading.size >= maxRooms) throw Object.assign(new Error('rooms-full'), { refuse: 'rooms-full' as const })
    const load = (async () => {
      const room = new RelayRoom({
        discovery,
        limits,
        log,
        syncStats,
        ...(opts.peerConfig ? { peerConfig: opts.peerConfig } : {}),
        ...(opts.sdpFilter ? { sdpFilter: opts.sdpFilter } : {}),
        now,
        events: {
          rejectedPublish: (reason) => m.counter('stoop_relay_rejected_publish_total', { reason }).inc(),
          revokedPublish: () => m.counter('stoop_relay_revoked_publish_total').inc(),
          rejectedUpdate: (reason) => rejected(reason === 'doc-full' ? 'doc-full' : `gate:${reason}`),
          changed: (r) => store?.schedule(r.discovery, () => r.encode()),
          error: (err) => log.warn('forwarder error', { room: discovery.slice(0, 12), err: String(err) }),
        },
      })
      const bytes = store ? await store.load(discovery) : null
      if (bytes) {
        const bad = room.restore(bytes)
        if (bad) {
          rejected('store-corrupt')
          log.error('stored room doc refused', { room: discovery.slice(0, 12), reason: bad })
        } else log.info('room doc loaded', { room: discovery.slice(0, 12), bytes: bytes.byteLength })
      }
      return room
    })()
    loading.set(discovery, load)
    try {
      const room = await load
      rooms.set(discovery, room)
      opts.onRoomOpened?.(room)
      return room
    } finally {
      loading.delete(discovery)
    }
  }

  function scheduleUnload(room: RelayRoom): void {
    if (room.peers.size > 0 || closed) return
    clearTimeout(idleTimers.get(room.discovery))
    const t = setTimeout(() => {
      idleTimers.delete(room.discovery)
      if (room.peers.size > 0 || rooms.get(room.discovery) !== room) return
      void unloadRoom(room)
    }, idleRoomMs)
    t.unref()
    idleTimers.set(room.discovery, t)
  }

  async function unloadRoom(room: RelayRoom): Promise<void> {
    rooms.delete(room.discovery)
    opts.onRoomClosed?.(room)
    const s = room.forwarderStats
    if (s) addForwarderStats(retired, { ...s, publishers: 0, subscribers: 0, standby: 0, streams: 0 })
    await store?.flushRoom(room.discovery)
    await room.destroy()
    log.debug('room unloaded', { room: room.discovery.slice(0, 12) })
  }

  // ---- connections --------------------------------------------------------------------------

  function sendTo(conn: Conn, msg: RelayMessage): void {
    if (conn.phase === 'closed' || conn.ws.readyState !== conn.ws.OPEN) return
    if (conn.ws.bufferedAmount > maxBuffered) return dropSlow(conn)
    conn.ws.send(encodeRelayMessage(msg))
  }

  function sendBinary(conn: Conn, data: Uint8Array): void {
    if (conn.phase === 'closed' || conn.ws.readyState !== conn.ws.OPEN) return
    if (conn.ws.bufferedAmount > maxBuffered) return dropSlow(conn)
    conn.ws.send(data)
  }

  function dropSlow(conn: Conn): void {
    backpressure.inc()
    shut(conn, RelayCloseCode.RateLimited, 'backpressure')
  }

  function refuse(conn: Conn, op: RelayOp, reason: RefuseReason, message: string): void {
    sendTo(conn, { type: 'refused', op, reason, message })
  }

  /** Closes a connection; the socket is cut if the peer does not finish the close handshake. */
  function shut(conn: Conn, code: number, reason: string): void {
    if (conn.phase === 'closed') return
    leave(conn)
    conn.ws.close(code, reason)
    conn.killTimer = setTimeout(() => conn.ws.terminate(), 1000)
    conn.killTimer.unref()
  }

  function leave(conn: Conn): void {
    if (conn.phase === 'closed') return
    conn.phase = 'closed'
    if (conn.authTimer) clearTimeout(conn.authTimer)
    conn.link?.close()
    const room = conn.room
    conn.room = null
    if (room) {
      void room.leave(conn).then(() => scheduleUnload(room))
    }
  }

  function takeToken(conn: Conn): boolean {
    const t = now()
    conn.tokens = Math.min(burst, conn.tokens + ((t - conn.refilledAt) * rate) / 1000)
    conn.refilledAt = t
    if (conn.tokens < 1) return false
    conn.tokens -= 1
    return true
  }

  function onFrame(conn: Conn, data: RawData, isBinary: boolean): void {
    if (conn.phase === 'closed') return
    conn.heard = true
    if (!takeToken(conn)) {
      rejected('rate-limited')
      return shut(conn, RelayCloseCode.RateLimited, 'rate-limited')
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
    if (isBinary) {
      if (conn.phase !== 'open' || !conn.room) {
        rejected('unexpected')
        return shut(conn, RelayCloseCode.Unauthenticated, 'binary before welcome')
      }
      if (buf.length > MAX_RELAY_SYNC_BYTES) {
        rejected('too-large')
        return shut(conn, RelayCloseCode.TooLarge, 'too-large')
      }
      if (!conn.link) {
        // Sync starts when the client starts it (its step 1): attach now, then deliver.
        const link = new ServerLink((bytes) => sendBinary(conn, bytes))
        conn.link = link
        conn.room.attachSync(conn, link)
      }
      // A copy: Yjs keeps views of what it decodes, which must not pin the socket's buffers.
      conn.link.receive(new Uint8Array(buf))
      collectSync()
      return
    }
    if (buf.length > MAX_RELAY_CONTROL_BYTES) {
      rejected('too-large')
      return shut(conn, RelayCloseCode.TooLarge, 'too-large')
    }
    const msg = decodeClientMessage(buf.toString('utf8'))
    if (isRelayDecodeError(msg)) {
      rejected(msg.error)
      return
    }
    m.counter('stoop_relay_messages_total', { type: msg.type }).inc()
    if (msg.type === 'ping') return sendTo(conn, { type: 'pong' })
    if (msg.type === 'pong') return
    conn.queue = conn.queue
      .then(() => handle(conn, msg))
      .catch((err: unknown) => {
        log.error('relay request failed', { type: msg.type, err: String((err as Error)?.stack ?? err) })
        if (msg.type === 'publish' || msg.type === 'subscribe' || msg.type === 'answer') refuse(conn, msg.type, 'internal', 'the relay failed to handle this request')
      })
  }

  async function handle(conn: Conn, msg: ClientMessage): Promise<void> {
    if (conn.phase === 'closed') return
    switch (conn.phase) {
      case 'hello':
        if (msg.type !== 'hello') return unexpected(conn, msg.type)
        if (msg.v !== RELAY_PROTOCOL_VERSION) {
          rejected('bad-version')
          refuse(conn, 'hello', 'bad-version', `this relay speaks protocol ${RELAY_PROTOCOL_VERSION}`)
          return shut(conn, RelayCloseCode.Unauthenticated, 'bad-version')
        }
        conn.key = msg.key
        conn.cascade = msg.cascade === true
        conn.discovery = msg.room
        conn.nonce = toBase64url(randomBytes(32))
        conn.phase = 'auth'
        sendTo(conn, { type: 'challenge', nonce: conn.nonce, relay: conn.host })
        return
      case 'auth': {
        if (msg.type !== 'auth') return unexpected(conn, msg.type)
        const pub = publicKeyFromId(conn.key)
        const sig = fromBase64url(msg.sig)
        const ok = pub !== null && sig !== null && (await verifySignature(pub, authMessage(conn.discovery, conn.nonce, conn.host), sig))
        if (conn.phase !== 'auth') return
        if (!ok) {
          rejected('auth-failed')
          refuse(conn, 'auth', 'bad-signature', 'the signature does not match the key for this challenge')
          return shut(conn, RelayCloseCode.Unauthenticated, 'auth-failed')
        }
        conn.phase = 'joining'
        let room: RelayRoom
        try {
          room = await openRoom(conn.discovery)
        } catch (err) {
          if ((err as { refuse?: string }).refuse === 'rooms-full') {
            rejected('rooms-full')
            refuse(conn, 'auth', 'rooms-full', `this relay serves at most ${maxRooms} rooms`)
            return shut(conn, RelayCloseCode.Full, 'rooms-full')
          }
          log.error('opening a room failed', { room: conn.discovery.slice(0, 12), err: String(err) })
          refuse(conn, 'auth', 'internal', 'the relay could not open this room')
          return shut(conn, RelayCloseCode.Full, 'internal')
        }
        if (conn.phase !== 'joining') return scheduleUnload(room)
        const old = room.peers.get(conn.key) as Conn | undefined
        if (!old && room.peers.size >= maxPeersPerRoom) {
          rejected('room-full')
          refuse(conn, 'auth', 'room-full', `this relay serves at most ${maxPeersPerRoom} connections per room`)
          shut(conn, RelayCloseCode.Full, 'room-full')
          return scheduleUnload(room)
        }
        if (old) {
          refuse(old, 'hello', 'replaced', 'the same key connected again')
          shut(old, RelayCloseCode.Replaced, 'replaced')
          await room.leave(old)
        }
        clearTimeout(idleTimers.get(room.discovery))
        idleTimers.delete(room.discovery)
        if (conn.authTimer) clearTimeout(conn.authTimer)
        conn.authTimer = null
        conn.room = room
        conn.phase = 'open'
        room.join(conn)
        authenticated.inc()
        log.debug('relay peer joined', { room: conn.discovery.slice(0, 12), key: conn.key })
        sendTo(conn, { type: 'welcome', publishers: room.publishers })
        return
      }
      case 'joining':
        return unexpected(conn, msg.type)
      case 'open': {
        const room = conn.room!
        switch (msg.type) {
          case 'publish': {
            const r = await room.publish(conn, msg.sdp)
            if (r.ok) sendTo(conn, { type: 'published', sdp: r.sdp })
            else {
              if (r.reason === 'not-speaker') log.info('publish refused', { room: conn.discovery.slice(0, 12), key: conn.key, why: r.message })
              refuse(conn, 'publish', r.reason, r.message)
            }
            return
          }
          case 'unpublish':
            return room.unpublish(conn)
          case 'subscribe': {
            const r = room.subscribe(conn, msg.standby === true)
            if (r.ok) sendTo(conn, { type: 'subscribed' })
            else {
              rejected('room-full')
              refuse(conn, 'subscribe', r.reason, r.message)
            }
            return
          }
          case 'unsubscribe':
            await room.unsubscribe(conn)
            return sendTo(conn, { type: 'unsubscribed' })
          case 'answer': {
            const r = await room.answer(conn, msg.sdp)
            if (!r.ok) refuse(conn, 'answer', r.reason, r.message)
            return
          }
          default:
            return unexpected(conn, msg.type)
        }
      }
    }
  }

  function unexpected(conn: Conn, type: string): void {
    rejected('unexpected')
    if (conn.phase === 'open') return // a confused but authenticated client: drop the frame, keep it
    refuse(conn, 'hello', 'too-early', `"${type}" is not allowed before authentication`)
    shut(conn, RelayCloseCode.Unauthenticated, 'unexpected')
  }

  /** Mirrors the shared sync rejection counters into the registry. */
  function collectSync(): void {
    for (const r of SYNC_REJECT_REASONS) {
      const d = syncStats.rejected[r] - syncSeen[r]
      if (d > 0) {
        syncSeen[r] = syncStats.rejected[r]
        m.counter('stoop_relay_rejected_total', { reason: `sync:${r}` }).inc(d)
      }
    }
  }

  function onConnection(ws: WebSocket, req: IncomingMessage): void {
    if (closed || conns.size >= maxConnections) {
      rejected('server-full')
      ws.on('error', () => rejected('protocol'))
      ws.send(encodeRelayMessage({ type: 'refused', op: 'hello', reason: 'server-full', message: closed ? 'the relay is shutting down' : 'the relay is full' }))
      ws.close(closed ? RelayCloseCode.GoingAway : RelayCloseCode.Full, closed ? 'shutting down' : 'server full')
      const kill = setTimeout(() => ws.terminate(), 1000)
      kill.unref()
      ws.on('close', () => clearTimeout(kill))
      return
    }
    const host = opts.publicHost ?? String(req.headers.host ?? 'localhost').toLowerCase()
    const conn: Conn = {
      ws,
      cascade: false,
      phase: 'hello',
      key: '',
      discovery: '',
      nonce: '',
      host,
      room: null,
      link: null,
      tokens: burst,
      refilledAt: now(),
      heard: true,
      pinged: false,
      authTimer: null,
      killTimer: null,
      queue: Promise.resolve(),
      send: (msg) => sendTo(conn, msg),
      close: (code, reason) => shut(conn, code, reason),
    }
    conn.authTimer = setTimeout(() => {
      if (conn.phase === 'open' || conn.phase === 'closed') return
      rejected('auth-timeout')
      shut(conn, RelayCloseCode.Unauthenticated, 'auth-timeout')
    }, authTimeoutMs)
    conn.authTimer.unref()
    conns.add(conn)
    ws.on('message', (data, isBinary) => onFrame(conn, data, isBinary))
    ws.on('pong', () => {
      conn.heard = true
    })
    ws.on('error', (err: Error & { code?: string }) => {
      rejected(err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too-large' : 'protocol')
      log.warn('relay connection error', { code: err.code, err: err.message })
    })
    ws.on('close', () => {
      if (conn.killTimer) clearTimeout(conn.killTimer)
      leave(conn)
      conns.delete(conn)
    })
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    let pathname: string
    try {
      pathname = new URL(req.url ?? '/', 'http://relay').pathname
    } catch {
      return // not ours
    }
    if (pathname !== path) return
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req))
  }

  const stopPinger = startPinger(conns, pingIntervalMs, leave)

  server.on('upgrade', onUpgrade)

  return {
    get roomCount() {
      return rooms.size
    },
    get connectionCount() {
      return conns.size
    },
    room: (discovery) => rooms.get(discovery),
    collect() {
      collectSync()
      const totals = emptyForwarderStats()
      addForwarderStats(totals, retired)
      const peersByRole: Record<string, number> = {}
      let publishers = 0
      let subscribers = 0
      let standby = 0
      for (const room of rooms.values()) {
        const s = room.forwarderStats
        if (s) {
          addForwarderStats(totals, s)
          publishers += s.publishers
          subscribers += s.subscribers
          standby += s.standby
        }
        for (const key of room.peers.keys()) {
          const role = room.roleOf(key)
          peersByRole[role] = (peersByRole[role] ?? 0) + 1
        }
      }
      let unauthenticated = 0
      for (const c of conns) if (c.phase !== 'open' && c.phase !== 'closed') unauthenticated++
      peersByRole.unauthenticated = unauthenticated
      collector.collect({ rooms: rooms.size, connections: conns.size, peersByRole, publishers, subscribers, standby, forwarders: totals })
    },
    async close(reason = 'shutdown') {
      if (closed) return
      closed = true
      server.off('upgrade', onUpgrade)
      stopPinger()
      for (const t of idleTimers.values()) clearTimeout(t)
      idleTimers.clear()
      const pending = [...conns].map(
        (c) =>
          new Promise<void>((done) => {
            if (c.ws.readyState === c.ws.CLOSED) return done()
            c.ws.once('close', () => done())
            sendTo(c, { type: 'bye', reason })
            shut(c, RelayCloseCode.GoingAway, reason)
          }),
      )
      let timer: NodeJS.Timeout | undefined
      await Promise.race([Promise.all(pending), new Promise<void>((done) => (timer = setTimeout(done, 1000)))])
      clearTimeout(timer)
      for (const c of conns) c.ws.terminate()
      await Promise.allSettled([...loading.values()])
      await store?.flush()
      await Promise.all([...rooms.values()].map((room) => unloadRoom(room)))
      collector.close()
      await new Promise<void>((done) => wss.close(() => done()))
      log.info('relay rooms closed', { reason })
    },
  }
}
