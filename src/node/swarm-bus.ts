/**
 * A {@link SignalBus} over hyperswarm: Node peers and relays find each other
 * on the room's discovery key, with no signalling server.
 *
 * Each hyperswarm connection (Noise-encrypted, one per remote swarm key) is
 * framed as a {@link StreamLink}. Both sides first send a hello frame (0x00:
 * topic, peer id and session, swarm-hello.ts), then message frames: 0x01 +
 * bytes, or 0x02 + UTF-8 text. A connection whose hello is malformed, names
 * another topic, names this peer, or does not come within `helloTimeoutMs` is
 * closed and counted.
 *
 * Duplicates: one connection per peer id is active. A hello from a known id
 * with a new session is a new incarnation of that peer (it restarted): the old
 * connection is closed and 'peer-left' then 'peer-joined' are emitted. Two
 * connections of the same session are the same pair of buses: both sides keep
 * the one with the smaller Noise handshake hash (which both ends share), so
 * they agree without talking.
 *
 * Discovery: besides hyperswarm's own schedule, the topic is looked up again
 * `rediscoverMs` after joining, so peers that join together still meet.
 *
 * The bus handles every connection of its swarm, so one swarm serves one bus.
 * It never falls back to the public DHT: pass `bootstrap` (a list, or 'public'
 * to mean hyperdht's default nodes) or a ready `swarm`.
 */
import { randomBytes } from 'node:crypto'
import { createSwarm, type BootstrapNode } from './dht.ts'
import { TypedEmitter } from '../base/emitter.ts'
import { BusError, type BusMessage, type SignalBus, type SignalBusEvents } from '../net/bus.ts'
import { ERR_FRAME_TOO_LARGE, StreamLink, type ByteStream } from '../net/link.ts'
import { decodeHello, encodeHello, MAX_PEER_ID_LENGTH, SESSION_BYTES, validPeerId } from './swarm-hello.ts'

export { MAX_PEER_ID_LENGTH } from './swarm-hello.ts'

export const ERR_BAD_TOPIC = 'bad-topic'
export const ERR_BAD_PEER_ID = 'bad-peer-id'
export const ERR_MESSAGE_TOO_LARGE = 'message-too-large'
export const ERR_BUS_DESTROYED = 'bus-destroyed'

/** Signalling frames are small (an SDP is a few KiB): 64 KiB is plenty. */
export const DEFAULT_BUS_MAX_FRAME_BYTES = 64 * 1024
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000
/**
 * Extra lookups after joining. Hyperswarm looks a topic up once on join and
 * then every ~10 minutes; two peers that join within the same moment both look
 * up before either has announced and would not meet for minutes.
 */
export const DEFAULT_REDISCOVER_MS: readonly number[] = [1_000, 4_000, 15_000]

const FRAME_BYTES = 0x01
const FRAME_TEXT = 0x02

/** The parts of a hyperswarm connection (NoiseSecretStream) the bus uses. */
export interface SwarmConnection extends ByteStream {
  readonly handshakeHash: Uint8Array | null
}

/** What `join` returns (a hyperswarm PeerDiscoverySession). */
export interface SwarmDiscovery {
  flushed(): Promise<unknown>
  refresh(): Promise<unknown>
}

/** The parts of a Hyperswarm instance the bus uses. */
export interface SwarmLike {
  join(topic: Uint8Array, opts: { client: boolean; server: boolean }): SwarmDiscovery
  leave(topic: Uint8Array): Promise<unknown>
  on(event: 'connection', fn: (conn: SwarmConnection) => void): unknown
  off(event: 'connection', fn: (conn: SwarmConnection) => void): unknown
  destroy(): Promise<unknown>
}

export interface SwarmBusOptions {
  /** The room's discovery key (32 bytes); never the room id or secret. */
  topic: Uint8Array
  /** This peer's id as the others will see it. */
  selfId: string
  /** DHT bootstrap nodes, or 'public' for hyperdht's default ones. Ignored when `swarm` is given. */
  bootstrap?: BootstrapNode[] | 'public'
  /** Address the DHT socket binds to (tests: '127.0.0.1'). Ignored when `swarm` is given. */
  host?: string
  /** A swarm to use instead of creating one; the bus leaves its topic on destroy but does not destroy it. */
  swarm?: SwarmLike
  maxFrameBytes?: number
  helloTimeoutMs?: number
  /** Delays after joining at which to look the topic up again. Default {@link DEFAULT_REDISCOVER_MS}. */
  rediscoverMs?: readonly number[]
  /** Random source for the session id. */
  random?: (n: number) => Uint8Array
}

/** Why a connection or frame was refused or retired. */
export type SwarmBusReason =
  | 'bad-hello'
  | 'wrong-topic'
  | 'self'
  | 'hello-timeout'
  | 'duplicate'
  | 'replaced'
  | 'malformed'
  | 'oversize'

export interface SwarmBusStats {
  connections: number
  messagesIn: number
  messagesOut: number
  /** `send` to a peer that is not joined. */
  dropped: number
  /** Extra lookups that failed (the DHT was unreachable or the swarm closing). */
  rediscoverFailures: number
  rejected: Record<SwarmBusReason, number>
}

export interface SwarmBus extends SignalBus {
  readonly stats: SwarmBusStats
  /** Resolves once the topic has been announced and looked up once. */
  flushed(): Promise<void>
}

interface Conn {
  readonly link: StreamLink
  readonly stream: SwarmConnection
  peerId: string | null
  session: string | null
  timer: ReturnType<typeof setTimeout> | null
}

class HyperswarmBus extends TypedEmitter<SignalBusEvents> implements SwarmBus {
  readonly selfId: string
  readonly stats: SwarmBusStats
  readonly #peers = new Map<string, Conn>()
  readonly #peerIds = new Set<string>()
  readonly #conns = new Set<Conn>()
  readonly #topic: Uint8Array
  readonly #swarm: SwarmLike
  readonly #ownsSwarm: boolean
  readonly #maxFrameBytes: number
  readonly #helloTimeoutMs: number
  readonly #hello: Uint8Array
  readonly #discovery: SwarmDiscovery
  readonly #rediscoverTimers = new Set<ReturnType<typeof setTimeout>>()
  #destroying: Promise<void> | null = null

  constructor(opts: SwarmBusOptions) {
    super()
    if (!(opts.topic instanceof Uint8Array) || opts.topic.byteLength !== 32) {
      throw new BusError(ERR_BAD_TOPIC, 'topic must be 32 bytes')
    }
    if (!validPeerId(opts.selfId)) {
      throw new BusError(ERR_BAD_PEER_ID, `selfId must be 1..${MAX_PEER_ID_LENGTH} characters`)
    }
    this.selfId = opts.selfId
    this.#topic = opts.topic.slice()
    this.#maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_BUS_MAX_FRAME_BYTES
    this.#helloTimeoutMs = opts.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS
    this.stats = {
      connections: 0,
      messagesIn: 0,
      messagesOut: 0,
      dropped: 0,
      rediscoverFailures: 0,
      rejected: { 'bad-hello': 0, 'wrong-topic': 0, self: 0, 'hello-timeout': 0, duplicate: 0, replaced: 0, malformed: 0, oversize: 0 },
    }
    const session = (opts.random ?? ((n: number) => new Uint8Array(randomBytes(n))))(SESSION_BYTES)
    this.#hello = encodeHello(this.#topic, this.selfId, session)

    if (opts.swarm !== undefined) {
      this.#swarm = opts.swarm
      this.#ownsSwarm = false
    } else {
      this.#swarm = createSwarm({ bootstrap: opts.bootstrap, ...(opts.host === undefined ? {} : { host: opts.host }) }, "the swarm bus (or pass a swarm)") as SwarmLike
      this.#ownsSwarm = true
    }
    this.#swarm.on('connection', this.#onConnection)
    this.#discovery = this.#swarm.join(Buffer.from(this.#topic), { client: true, server: true })
    for (const delay of opts.rediscoverMs ?? DEFAULT_REDISCOVER_MS) {
      const timer = setTimeout(() => {
        this.#rediscoverTimers.delete(timer)
        this.#discovery.refresh().catch(() => {
          this.stats.rediscoverFailures++
        })
      }, delay)
      this.#rediscoverTimers.add(timer)
    }
  }

  get peers(): ReadonlySet<string> {
    return this.#peerIds
  }

  async flushed(): Promise<void> {
    await this.#discovery.flushed()
  }

  publish(msg: BusMessage): void {
    const frame = this.#encodeMessage(msg)
    for (const conn of this.#peers.values()) {
      conn.link.send(frame)
      this.stats.messagesOut++
    }
  }

  send(peerId: string, msg: BusMessage): boolean {
    const frame = this.#encodeMessage(msg)
    const conn = this.#peers.get(peerId)
    if (conn === undefined) {
      this.stats.dropped++
      return false
    }
    conn.link.send(frame)
    this.stats.messagesOut++
    return true
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#teardown()
    return this.#destroying
  }

  async #teardown(): Promise<void> {
    this.#swarm.off('connection', this.#onConnection)
    for (const timer of this.#rediscoverTimers) clearTimeout(timer)
    this.#rediscoverTimers.clear()
    for (const conn of [...this.#conns]) conn.link.close() // emits 'peer-left' for joined peers
    this.removeAllListeners()
    await this.#swarm.leave(Buffer.from(this.#topic))
    if (this.#ownsSwarm) await this.#swarm.destroy()
  }

  #encodeMessage(msg: BusMessage): Uint8Array {
    if (this.#destroying !== null) throw new BusError(ERR_BUS_DESTROYED, 'bus destroyed')
    const body = typeof msg === 'string' ? new TextEncoder().encode(msg) : msg
    if (body.byteLength + 1 > this.#maxFrameBytes) {
      throw new BusError(ERR_MESSAGE_TOO_LARGE, `message of ${body.byteLength} bytes exceeds ${this.#maxFrameBytes - 1}`)
    }
    const frame = new Uint8Array(body.byteLength + 1)
    frame[0] = typeof msg === 'string' ? FRAME_TEXT : FRAME_BYTES
    frame.set(body, 1)
    return frame
  }

  readonly #onConnection = (stream: SwarmConnection): void => {
    this.stats.connections++
    const conn: Conn = {
      link: new StreamLink(stream, { maxFrameBytes: this.#maxFrameBytes }),
      stream,
      peerId: null,
      session: null,
      timer: null,
    }
    this.#conns.add(conn)
    conn.link.on('message', (frame) => this.#onFrame(conn, frame))
    conn.link.on('close', (reason) => this.#onClose(conn, reason))
    conn.timer = setTimeout(() => this.#refuse(conn, 'hello-timeout'), this.#helloTimeoutMs)
    conn.link.send(this.#hello)
  }

  #onFrame(conn: Conn, frame: Uint8Array): void {
    if (conn.peerId === null) {
      this.#onHello(conn, frame)
      return
    }
    if (this.#peers.get(conn.peerId) !== conn) return // a retired duplicate still draining
    let msg: BusMessage
    try {
      if (frame[0] === FRAME_BYTES) msg = frame.subarray(1)
      else if (frame[0] === FRAME_TEXT) msg = new TextDecoder('utf-8', { fatal: true }).decode(frame.subarray(1))
      else throw new Error('unknown frame type')
    } catch {
      this.stats.rejected.malformed++
      return
    }
    this.stats.messagesIn++
    this.emit('message', conn.peerId, msg)
  }

  #onHello(conn: Conn, frame: Uint8Array): void {
    const hello = decodeHello(frame)
    if (hello === null) return this.#refuse(conn, 'bad-hello')
    if (!equalBytes(hello.topic, this.#topic)) return this.#refuse(conn, 'wrong-topic')
    if (hello.peerId === this.selfId) return this.#refuse(conn, 'self')
    if (conn.timer !== null) clearTimeout(conn.timer)
    conn.timer = null
    conn.peerId = hello.peerId
    conn.session = hello.session

    const existing = this.#peers.get(hello.peerId)
    if (existing === undefined) {
      this.#activate(conn, true)
    } else if (existing.session !== hello.session) {
      // The peer restarted: its old connection is stale.
      this.stats.rejected.replaced++
      this.#retire(existing)
      this.emit('peer-left', hello.peerId)
      this.#activate(conn, true)
    } else if (keepsNew(existing.stream, conn.stream)) {
      this.stats.rejected.duplicate++
      this.#retire(existing)
      this.#activate(conn, false)
    } else {
      this.stats.rejected.duplicate++
      conn.link.close()
    }
  }

  #activate(conn: Conn, announce: boolean): void {
    const peerId = conn.peerId!
    this.#peers.set(peerId, conn)
    this.#peerIds.add(peerId)
    if (announce) this.emit('peer-joined', peerId)
  }

  /** Close a connection that is no longer the active one for its peer, without 'peer-left'. */
  #retire(conn: Conn): void {
    this.#peers.delete(conn.peerId!)
    conn.link.close()
  }

  #refuse(conn: Conn, reason: SwarmBusReason): void {
    this.stats.rejected[reason]++
    conn.link.close()
  }

  #onClose(conn: Conn, reason?: Error): void {
    if (conn.timer !== null) clearTimeout(conn.timer)
    conn.timer = null
    this.#conns.delete(conn)
    if ((reason as { code?: string } | undefined)?.code === ERR_FRAME_TOO_LARGE) this.stats.rejected.oversize++
    const peerId = conn.peerId
    if (peerId !== null && this.#peers.get(peerId) === conn) {
      this.#peers.delete(peerId)
      this.#peerIds.delete(peerId)
      this.emit('peer-left', peerId)
    }
  }
}

/** Join `topic` on hyperswarm and return it as a SignalBus. */
export function createSwarmBus(opts: SwarmBusOptions): SwarmBus {
  return new HyperswarmBus(opts)
}

/** Both ends agree on which of two connections to keep: the smaller handshake hash. */
function keepsNew(existing: SwarmConnection, incoming: SwarmConnection): boolean {
  const a = existing.handshakeHash
  const b = incoming.handshakeHash
  if (a === null || b === null) return false
  return compareBytes(b, a) < 0
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && compareBytes(a, b) === 0
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.byteLength - b.byteLength
}
