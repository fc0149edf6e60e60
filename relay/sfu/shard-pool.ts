/**
 * The relay's forwarding shards (`stoop relay --workers N`): N worker threads
 * (shard-worker.ts), shared by every room. Each room's ShardedForwarder
 * (sharded-forwarder.ts) places its listeners and speakers on them; the pool
 * starts the threads, wires a MessagePort between every two of them (speakers'
 * packets go shard to shard, not through this thread), routes replies and
 * events to the rooms, keeps the load per shard and serves the per-shard
 * metrics (`stoop_relay_shard_*`).
 *
 * A shard that stops (an exception in it, or `terminate()`) is never a relay
 * crash: its pending requests fail, every room is told (it closes the
 * connections that were there, as a forwarder failure, so their clients
 * reconnect), and the shard is started again after a backoff. Counters of
 * earlier runs of a shard are kept, so the metrics never go back.
 *
 * Load is the number of subscribers and publishers placed on a shard (every
 * room together): a new one goes to the least loaded live shard.
 */
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import type { RTCPeerConnectionConfig } from 'werift'
import { CodedError } from '../../src/base/errors.ts'
import { retryDelay, type RetryPolicy } from '../../src/base/retry.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import { SfuError, SfuErrorCode } from './errors.ts'
import { fromWireError, type FromShard, type RoomReport, type ShardInit, type ShardOp, type ShardReport, type ToShard, type WirePacket } from './shard-protocol.ts'

export interface ShardPoolOptions {
  /** Worker threads (2 or more; one forwards in the main thread without a pool). */
  workers: number
  /** werift settings (plain data: it is copied to each thread); a port range is split between the shards. */
  peerConfig?: Partial<RTCPeerConnectionConfig>
  log: Logger
  metrics: Metrics
  /** Delay before a shard that stopped is started again. */
  restart?: RetryPolicy
  /** How long a shard may take to start. */
  readyTimeoutMs?: number
}

/** What a room's sharded forwarder is told by the pool. */
export interface ShardRoom {
  onEvent(shard: number, msg: Extract<FromShard, { t: 'offer' | 'state' | 'error' }>): void
  onReport(shard: number, report: RoomReport): void
  /** The shard stopped: what was placed there is gone. */
  shardStopped(shard: number): void
  placement(): Placement
}

/** Which shard each connection is on, by participant key (a publisher whose packets come from elsewhere: null). */
export interface Placement {
  publishers: Record<string, number | null>
  subscribers: Record<string, number>
}

/** One shard as `ShardPool.shards()` tells it: placed connections, counters over all its runs, the current run's thread. */
export interface ShardInfo {
  shard: number
  live: boolean
  subscribers: number
  publishers: number
  packetsIn: number
  packetsOut: number
  /** CPU time of its threads so far (Linux), ms. */
  cpuMs: number | null
  /** Event-loop busy time of the current run, ms. */
  busyMs: number | null
  heapUsed: number | null
  /** Times it stopped. */
  stops: number
}

export type ShardPoolErrorCode = 'bad-workers' | 'bad-peer-config' | 'shard-start'

interface Slot {
  index: number
  worker: Worker | null
  live: boolean
  pending: Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>
  subscribers: number
  publishers: number
  report: ShardReport | null
  /** Totals of this shard's earlier runs. */
  base: { packetsIn: number; packetsOut: number; cpuMs: number }
  /** Stops in a row (for the restart delay); reset once a run lasted a minute. */
  stops: number
  startedAt: number
  timer: NodeJS.Timeout | null
}

const DEFAULT_RESTART: RetryPolicy = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 }
const WORKER_URL = new URL('./shard-worker.ts', import.meta.url).href
/** The shards are TypeScript: each thread registers tsx first (its ESM API; the CommonJS build resolves itself wrongly from a worker). */
const TSX_URL = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href
const BOOT = `import(${JSON.stringify(TSX_URL)}).then((api) => { api.register(); return import(${JSON.stringify(WORKER_URL)}) })`

export class ShardPool {
  readonly size: number
  readonly #opts: ShardPoolOptions
  readonly #slots: Slot[]
  readonly #rooms = new Map<number, ShardRoom>()
  readonly #outbox = new Map<number, WirePacket[]>()
  #nextRoom = 1
  #nextRequest = 1
  #started = false
  #closed = false

  private constructor(opts: ShardPoolOptions) {
    this.#opts = opts
    this.size = opts.workers
    this.#slots = Array.from({ length: opts.workers }, (_, index) => ({
      index,
      worker: null,
      live: false,
      pending: new Map(),
      subscribers: 0,
      publishers: 0,
      report: null,
      base: { packetsIn: 0, packetsOut: 0, cpuMs: 0 },
      stops: 0,
      startedAt: 0,
      timer: null,
    }))
    describeShardMetrics(opts.metrics)
  }

  /** Starts `workers` shards and resolves once every one is ready. */
  static async start(opts: ShardPoolOptions): Promise<ShardPool> {
    if (!Number.isInteger(opts.workers) || opts.workers < 2) throw new CodedError<ShardPoolErrorCode>('bad-workers', `a shard pool needs 2 workers or more, got ${opts.workers}`)
    try {
      structuredClone(opts.peerConfig ?? {})
    } catch (err) {
      throw new CodedError<ShardPoolErrorCode>('bad-peer-config', 'peerConfig must be plain data to reach the forwarding threads', { cause: err })
    }
    const pool = new ShardPool(opts)
    try {
      await Promise.all(pool.#slots.map((slot) => pool.#spawn(slot)))
    } catch (err) {
      await pool.close()
      throw err
    }
    pool.#started = true
    return pool
  }

  /** Registers a room's forwarder; returns its id in the shards. */
  register(room: ShardRoom): number {
    const id = this.#nextRoom++
    this.#rooms.set(id, room)
    return id
  }

  unregister(id: number): void {
    this.#rooms.delete(id)
  }

  /** The least loaded live shard, preferring those in `prefer` on a tie; -1 when none is live. */
  pick(prefer: ReadonlySet<number>): number {
    let best: Slot | null = null
    for (const s of this.#slots) {
      if (!s.live) continue
      const load = s.subscribers + s.publishers
      const bestLoad = best ? best.subscribers + best.publishers : Infinity
      if (load < bestLoad || (load === bestLoad && prefer.has(s.index) && !prefer.has(best!.index))) best = s
    }
    return best ? best.index : -1
  }

  isLive(shard: number): boolean {
    return this.#slots[shard]?.live ?? false
  }

  /** Counts a subscriber or publisher placed on (+1) or taken off (-1) `shard`. */
  assign(shard: number, kind: 'subscribers' | 'publishers', delta: number): void {
    const slot = this.#slots[shard]
    if (slot) slot[kind] = Math.max(0, slot[kind] + delta)
  }

  /** An operation without reply (a shard that is not live drops it: its rooms were told it stopped). */
  post(shard: number, fwd: number, body: ShardOp): void {
    const slot = this.#slots[shard]
    if (slot?.live) slot.worker!.postMessage({ t: 'op', fwd, id: 0, body } satisfies ToShard)
  }

  /** An operation whose result (or error, as the in-thread Forwarder throws it) comes back. */
  request(shard: number, fwd: number, body: ShardOp): Promise<unknown> {
    const slot = this.#slots[shard]
    if (!slot?.live) return Promise.reject(new SfuError(SfuErrorCode.CLOSED, `forwarding shard ${shard} is not running`))
    const id = this.#nextRequest++
    return new Promise((ok, fail) => {
      slot.pending.set(id, { ok, fail })
      slot.worker!.postMessage({ t: 'op', fwd, id, body } satisfies ToShard)
    })
  }

  /** A remote publisher's packet (cascade) for `shard`, posted with the others of this turn. */
  postRtp(shard: number, w: WirePacket): void {
    const batch = this.#outbox.get(shard)
    if (batch) return void batch.push(w)
    if (this.#outbox.size === 0) setImmediate(() => this.#flush())
    this.#outbox.set(shard, [w])
  }

  /** Fresh counters from every live shard (the metrics otherwise lag by up to a second); `gc` collects first (benches). */
  async refresh(opts: { gc?: boolean } = {}): Promise<void> {
    await Promise.all(
      this.#slots.filter((s) => s.live).map(
        (s) =>
          new Promise<void>((ok) => {
            const id = this.#nextRequest++
            s.pending.set(id, { ok: () => ok(), fail: () => ok() })
            s.worker!.postMessage({ t: 'stats', id, ...(opts.gc ? { gc: true } : {}) } satisfies ToShard)
          }),
      ),
    )
  }

  /** Per shard: placed subscribers and publishers, and the shard's counters over all its runs. */
  shards(): ShardInfo[] {
    return this.#slots.map((s) => ({
      shard: s.index,
      live: s.live,
      subscribers: s.subscribers,
      publishers: s.publishers,
      packetsIn: s.base.packetsIn + (s.report?.packetsIn ?? 0),
      packetsOut: s.base.packetsOut + (s.report?.packetsOut ?? 0),
      cpuMs: s.report?.cpuMs === null ? null : s.base.cpuMs + (s.report?.cpuMs ?? 0),
      busyMs: s.report?.busyMs ?? null,
      heapUsed: s.report?.heapUsed ?? null,
      stops: this.#opts.metrics.value('stoop_relay_shard_failures_total', { shard: String(s.index) }),
    }))
  }

  /** Where every connection of every room is (tests, admin; keys in several rooms: the last room's). */
  placement(): Placement {
    const all: Placement = { publishers: {}, subscribers: {} }
    for (const room of this.#rooms.values()) {
      const p = room.placement()
      Object.assign(all.publishers, p.publishers)
      Object.assign(all.subscribers, p.subscribers)
    }
    return all
  }

  /** Brings the `stoop_relay_shard_*` metrics up to date (before /metrics renders). */
  collect(): void {
    const m = this.#opts.metrics
    for (const s of this.shards()) {
      const shard = String(s.shard)
      m.gauge('stoop_relay_shard_up', { shard }).set(s.live ? 1 : 0)
      m.gauge('stoop_relay_shard_subscribers', { shard }).set(s.subscribers)
      m.gauge('stoop_relay_shard_publishers', { shard }).set(s.publishers)
      catchUp(m, 'stoop_relay_shard_packets_total', { shard, direction: 'in' }, s.packetsIn)
      catchUp(m, 'stoop_relay_shard_packets_total', { shard, direction: 'out' }, s.packetsOut)
      if (s.cpuMs !== null) catchUp(m, 'stoop_relay_shard_cpu_seconds_total', { shard }, s.cpuMs / 1000)
    }
  }

  /** Stops shard `shard` as a crash would (tests, and an admin's last resort); it is started again. */
  async terminate(shard: number): Promise<void> {
    await this.#slots[shard]?.worker?.terminate()
  }

  /** Stops every shard (the rooms' forwarders are closed first, by the rooms). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(
      this.#slots.map(async (s) => {
        if (s.timer) clearTimeout(s.timer)
        s.timer = null
        await s.worker?.terminate()
      }),
    )
  }

  #flush(): void {
    for (const [shard, batch] of this.#outbox) {
      const slot = this.#slots[shard]
      if (slot?.live) slot.worker!.postMessage({ t: 'rtp', batch } satisfies ToShard)
    }
    this.#outbox.clear()
  }

  /** Starts `slot`'s thread, wired to every other running shard; resolves when it is ready. */
  #spawn(slot: Slot): Promise<void> {
    const ports: Record<number, MessagePort> = {}
    for (const other of this.#slots) {
      if (other === slot || !other.worker) continue
      const { port1, port2 } = new MessageChannel()
      ports[other.index] = port1
      other.worker.postMessage({ t: 'port', shard: slot.index, port: port2 } satisfies ToShard, [port2])
    }
    const init: ShardInit = { shard: slot.index, peerConfig: this.#peerConfigOf(slot.index), ports }
    const worker = new Worker(BOOT, { eval: true, workerData: init, transferList: Object.values(ports), name: `stoop-shard-${slot.index}` })
    slot.worker = worker
    slot.startedAt = Date.now()
    const timeoutMs = this.#opts.readyTimeoutMs ?? 60_000
    return new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => {
        fail(new CodedError<ShardPoolErrorCode>('shard-start', `forwarding shard ${slot.index} did not start within ${timeoutMs} ms`))
        // Ended, so that it is started again (or the pool's start gives up).
        void worker.terminate()
      }, timeoutMs)
      worker.on('message', (msg: FromShard) => {
        if (msg.t === 'ready') {
          clearTimeout(timer)
          slot.live = true
          ok()
        } else this.#onMessage(slot, msg)
      })
      // An error in a shard is its end, reported on 'exit'; without this listener it would be the relay's.
      worker.on('error', (err) => this.#opts.log.error('forwarding shard failed', { shard: slot.index, err: String(err?.stack ?? err) }))
      worker.once('exit', (code) => {
        clearTimeout(timer)
        fail(new CodedError<ShardPoolErrorCode>('shard-start', `forwarding shard ${slot.index} exited (${code}) before it was ready`))
        this.#onExit(slot, worker, code)
      })
    })
  }

  #onMessage(slot: Slot, msg: FromShard): void {
    if (msg.t === 'reply') {
      const p = slot.pending.get(msg.id)
      slot.pending.delete(msg.id)
      if (msg.ok) p?.ok(msg.value)
      else p?.fail(fromWireError(msg.error))
    } else if (msg.t === 'stats') {
      slot.report = msg.report
      for (const r of msg.report.rooms) this.#rooms.get(r.fwd)?.onReport(slot.index, r)
      if (msg.id > 0) {
        slot.pending.get(msg.id)?.ok(undefined)
        slot.pending.delete(msg.id)
      }
    } else if (msg.t === 'offer' || msg.t === 'state' || msg.t === 'error') this.#rooms.get(msg.fwd)?.onEvent(slot.index, msg)
  }

  #onExit(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker) return
    const wasLive = slot.live
    slot.live = false
    slot.worker = null
    const r = slot.report
    slot.base.packetsIn += r?.packetsIn ?? 0
    slot.base.packetsOut += r?.packetsOut ?? 0
    slot.base.cpuMs += r?.cpuMs ?? 0
    slot.report = null
    const gone = new SfuError(SfuErrorCode.CLOSED, `forwarding shard ${slot.index} stopped`)
    for (const p of slot.pending.values()) p.fail(gone)
    slot.pending.clear()
    // A shard that fails to start fails the pool's start; one that fails to restart is tried again.
    if (this.#closed || !this.#started) return
    this.#opts.metrics.counter('stoop_relay_shard_failures_total', { shard: String(slot.index) }).inc()
    if (Date.now() - slot.startedAt > 60_000) slot.stops = 0
    const delay = retryDelay(this.#opts.restart ?? DEFAULT_RESTART, slot.stops++)
    this.#opts.log.warn('forwarding shard stopped; its connections are closed and it restarts', { shard: slot.index, code, restartMs: delay })
    if (wasLive) for (const room of [...this.#rooms.values()]) room.shardStopped(slot.index)
    slot.subscribers = 0
    slot.publishers = 0
    slot.timer = setTimeout(() => {
      slot.timer = null
      if (this.#closed) return
      this.#spawn(slot).catch((err: unknown) => this.#opts.log.error('forwarding shard did not restart', { shard: slot.index, err: String(err) }))
    }, delay)
    slot.timer.unref()
  }

  /** The werift settings of shard `i`: a port range is split so shards never race for a port. */
  #peerConfigOf(i: number): Partial<RTCPeerConnectionConfig> {
    const config = { ...this.#opts.peerConfig }
    const range = config.icePortRange
    if (range) {
      const [lo, hi] = range
      const per = Math.floor((hi - lo + 1) / this.size)
      if (per >= 1) config.icePortRange = [lo + i * per, i === this.size - 1 ? hi : lo + (i + 1) * per - 1]
    }
    return config
  }
}

function catchUp(m: Metrics, name: string, labels: Record<string, string>, total: number): void {
  const c = m.counter(name, labels)
  if (total > c.value) c.inc(total - c.value)
}

function describeShardMetrics(m: Metrics): void {
  m.describe('stoop_relay_shard_up', 'Forwarding shards (worker threads, --workers) running, by shard')
  m.describe('stoop_relay_shard_subscribers', 'Listening connections placed on a forwarding shard (every room)')
  m.describe('stoop_relay_shard_publishers', 'Speaking connections hosted by a forwarding shard (every room)')
  m.describe('stoop_relay_shard_packets_total', 'RTP packets a shard took in (from its publishers and posted by other shards) and sent')
  m.describe('stoop_relay_shard_cpu_seconds_total', 'CPU time of a forwarding shard\'s thread (Linux)')
  m.describe('stoop_relay_shard_failures_total', 'Forwarding shards that stopped (their connections were closed and the shard restarted)')
}
