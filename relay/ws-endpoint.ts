/**
 * The WebSocket plumbing shared by the relay's endpoints (/signal, /relay):
 * upgrade routing by path, a connection cap (overall and per IP address), token
 * buckets per connection (frames, and bytes when `bytesPerSecond` is set),
 * sends bounded by what a slow reader may have queued, liveness pings
 * (liveness.ts), and closes that cannot hang: a socket whose peer does not
 * finish a close handshake we started is cut after CLOSE_GRACE_MS.
 *
 * An endpoint brings its own connection state (extending WsConn) and protocol
 * through the hooks of WsEndpointOptions; counters and close codes stay its own.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import type { Counter, Gauge } from './metrics.ts'
import { startPinger, type Pingable } from './liveness.ts'

const CLOSE_GRACE_MS = 1000

/** Rejections the plumbing itself detects; the endpoint counts them under its own metric. */
export type WsRejectReason = 'server-full' | 'protocol' | 'too-large' | 'ip-full'

/** Which budget a connection went over. */
export type RateLimit = 'frames' | 'bytes'

/** Frames (or bytes) a connection may send: `burst` at once, refilled at `rate` per second. */
export class TokenBucket {
  #tokens: number
  #refilledAt: number

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {
    this.#tokens = burst
    this.#refilledAt = now()
  }

  /** Takes `n` tokens if there are that many. */
  take(n = 1): boolean {
    const t = this.now()
    this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#refilledAt) * this.rate) / 1000)
    this.#refilledAt = t
    if (this.#tokens < n) return false
    this.#tokens -= n
    return true
  }
}

/** What every connection carries; an endpoint's connection type extends it. */
export interface WsConn extends Pingable {
  readonly ws: WebSocket
  /** The remote address the socket came from. */
  readonly ip: string
  readonly bucket: TokenBucket
  /** Bytes of frames, when the endpoint sets `bytesPerSecond`. */
  readonly bytes: TokenBucket | null
  /** A close began (either side), or the socket was found dead: nothing more is read or sent. */
  closing: boolean
}

export interface WsEndpointOptions<C extends WsConn> {
  path: string
  /** Frames above this are refused by `ws` while reading the header (close 1009). */
  maxPayload: number
  maxConnections: number
  /** Connections from one IP address. Default: no limit. */
  maxConnectionsPerIp?: number
  ratePerSecond: number
  burst: number
  /** Frame bytes a connection may send per second, and at once. Default: no limit. */
  bytesPerSecond?: number
  burstBytes?: number
  pingIntervalMs: number
  /** `send` refuses while the socket has more than this unsent. */
  maxBufferedBytes: number
  now: () => number
  /** Counts sends refused by maxBufferedBytes. */
  backpressure: Counter
  /** Kept at the number of open connections. */
  connections?: Gauge
  rejected(reason: WsRejectReason): void
  /** How a connection over maxConnections (or maxConnectionsPerIp: `why`), or arriving during shutdown, is turned away. */
  refusal(shuttingDown: boolean, why?: 'ip-full'): { code: number; reason: string; farewell?: string }
  /** The endpoint's state for an accepted socket, built on `base`. */
  accept(base: WsConn, req: IncomingMessage): C
  /** A frame within the connection's rate. */
  frame(conn: C, data: Buffer, isBinary: boolean): void
  /** A frame over a budget: the endpoint counts it and shuts the connection. */
  rateLimited(conn: C, limit: RateLimit): void
  /** For logging: `ws` has already closed the socket (1009 oversize, 1002/1007 bad framing) and the plumbing counted it. */
  error(conn: C, err: Error & { code?: string }): void
  /** A close began or the socket was found dead: release what the connection holds. Called once. */
  leave(conn: C): void
  /** The pinger found the connection dead (called before `leave`). */
  dead?(conn: C): void
}

export interface WsEndpoint<C extends WsConn> {
  readonly conns: ReadonlySet<C>
  /** `close()` was called. */
  readonly closed: boolean
  /** Queues `data` unless the connection is closing ('gone') or its peer is not reading ('slow', counted). */
  send(conn: C, data: string | Uint8Array, onDone?: (err?: Error) => void): 'sent' | 'gone' | 'slow'
  /** Starts a close (once); the socket is cut if the peer does not finish it. */
  shut(conn: C, code: number, reason: string): void
  /** Stops accepting, starts every close with `goodbye`, and cuts what is still open after the grace. Idempotent. */
  close(goodbye: (conn: C) => void): Promise<void>
}

export function attachWsEndpoint<C extends WsConn>(server: Server, opts: WsEndpointOptions<C>): WsEndpoint<C> {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload, perMessageDeflate: false, clientTracking: false })
  const conns = new Set<C>()
  const perIp = new PerIp(opts.maxConnectionsPerIp ?? Infinity)
  let closed = false

  function release(conn: C): void {
    if (conn.closing) return
    conn.closing = true
    opts.leave(conn)
  }

  function shut(conn: C, code: number, reason: string): void {
    if (conn.closing) return
    release(conn)
    closeWithinGrace(conn.ws, code, reason)
  }

  function onConnection(ws: WebSocket, req: IncomingMessage): void {
    if (closed || conns.size >= opts.maxConnections) return turnAway(ws, opts.refusal(closed), opts.rejected)
    const ip = req.socket.remoteAddress ?? 'unknown'
    if (!perIp.add(ip)) return turnAway(ws, opts.refusal(false, 'ip-full'), opts.rejected, 'ip-full')
    const bucket = new TokenBucket(opts.ratePerSecond, opts.burst, opts.now)
    const bytes = opts.bytesPerSecond === undefined ? null : new TokenBucket(opts.bytesPerSecond, opts.burstBytes ?? opts.bytesPerSecond, opts.now)
    const conn = opts.accept({ ws, ip, bucket, bytes, heard: true, pinged: false, closing: false }, req)
    conns.add(conn)
    opts.connections?.set(conns.size)
    ws.on('message', (data, isBinary) => {
      if (conn.closing) return
      conn.heard = true
      const buf = toBuffer(data)
      if (!conn.bucket.take()) return opts.rateLimited(conn, 'frames')
      if (conn.bytes && !conn.bytes.take(buf.length)) return opts.rateLimited(conn, 'bytes')
      opts.frame(conn, buf, isBinary)
    })
    ws.on('pong', () => {
      conn.heard = true
    })
    ws.on('error', (err: Error & { code?: string }) => {
      opts.rejected(err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too-large' : 'protocol')
      opts.error(conn, err)
    })
    ws.on('close', () => {
      release(conn)
      if (conns.delete(conn)) perIp.remove(ip)
      opts.connections?.set(conns.size)
    })
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Other paths are left to the other endpoints (or the server's default).
    if (pathOf(req) === opts.path) wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req))
  }

  // Only connections that were silent for a whole interval get a ping; silent after that: dead.
  const stopPinger = startPinger(conns, opts.pingIntervalMs, (conn) => {
    opts.dead?.(conn)
    release(conn)
  })

  server.on('upgrade', onUpgrade)

  return {
    conns,
    get closed() {
      return closed
    },
    send(conn, data, onDone) {
      if (conn.closing || conn.ws.readyState !== conn.ws.OPEN) return 'gone'
      if (conn.ws.bufferedAmount > opts.maxBufferedBytes) {
        opts.backpressure.inc()
        return 'slow'
      }
      conn.ws.send(data, onDone)
      return 'sent'
    },
    shut,
    async close(goodbye) {
      if (closed) return
      closed = true
      server.off('upgrade', onUpgrade)
      stopPinger()
      await closeAll(conns, goodbye)
      await new Promise<void>((done) => wss.close(() => done()))
    },
  }
}

/** Open connections per remote address, under a cap. */
class PerIp {
  readonly #count = new Map<string, number>()
  constructor(private readonly max: number) {}

  /** Counts one more from `ip`; false (not counted) at the cap. */
  add(ip: string): boolean {
    const n = this.#count.get(ip) ?? 0
    if (n >= this.max) return false
    this.#count.set(ip, n + 1)
    return true
  }

  remove(ip: string): void {
    const n = (this.#count.get(ip) ?? 1) - 1
    if (n > 0) this.#count.set(ip, n)
    else this.#count.delete(ip)
  }
}

/** Starts every close with `goodbye` and waits for them, CLOSE_GRACE_MS at most; what is still open then is cut. */
async function closeAll<C extends WsConn>(conns: ReadonlySet<C>, goodbye: (conn: C) => void): Promise<void> {
  const pending = [...conns].map(
    (c) =>
      new Promise<void>((done) => {
        if (c.ws.readyState === c.ws.CLOSED) return done()
        c.ws.once('close', () => done())
        goodbye(c)
      }),
  )
  let timer: NodeJS.Timeout | undefined
  await Promise.race([Promise.all(pending), new Promise<void>((done) => (timer = setTimeout(done, CLOSE_GRACE_MS)))])
  clearTimeout(timer)
  for (const c of conns) c.ws.terminate()
}

/** Refuses a socket the endpoint will not serve (counted as server-full or ip-full, and any error on its way out as protocol). */
function turnAway(
  ws: WebSocket,
  how: { code: number; reason: string; farewell?: string },
  rejected: (reason: WsRejectReason) => void,
  why: 'server-full' | 'ip-full' = 'server-full',
): void {
  rejected(why)
  ws.on('error', () => rejected('protocol'))
  if (how.farewell !== undefined) ws.send(how.farewell)
  closeWithinGrace(ws, how.code, how.reason)
}

function closeWithinGrace(ws: WebSocket, code: number, reason: string): void {
  ws.close(code, reason)
  const kill = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref()
  ws.once('close', () => clearTimeout(kill))
}

function toBuffer(data: RawData): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
}

/** The path of an upgrade request; null when its URL does not parse. */
function pathOf(req: IncomingMessage): string | null {
  try {
    return new URL(req.url ?? '/', 'http://relay').pathname
  } catch {
    return null
  }
}
