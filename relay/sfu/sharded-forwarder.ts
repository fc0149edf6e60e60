/**
 * A room's forwarder spread over the relay's forwarding shards (shard-pool.ts):
 * the Forwarder's interface in the main thread, where the room state, policy
 * and signalling stay (relay/rooms/room.ts), and real Forwarders in the worker
 * threads (shard-worker.ts) for the connections placed there.
 *
 * - Each subscriber and each publisher connection lives in one shard: a new
 *   one goes to the least loaded shard, except that one key's two connections
 *   (a speaker's publishing and listening ones) share a shard, so a shard that
 *   stops takes whole clients with it, not half of many.
 * - A room is open in the shards where something of it was placed. Every
 *   publisher is known in each of them: where its connection is, as itself,
 *   elsewhere as a remote publisher fed with the packets its shard posts
 *   (`addRemotePublisher` / `injectRtp`, the cascade's mechanism). Publishers
 *   from other relays (cascade) are remote everywhere; their packets are posted
 *   from here. Payloads are never read.
 * - What room.ts asks synchronously (ids, counts, misuse errors) is answered
 *   from this thread's bookkeeping, which every operation updates before it is
 *   posted; replies and errors come back as the in-thread Forwarder's would.
 *   Packet counters come from the shards' reports (at most STATS_MS old).
 * - A shard that stops is a forwarder failure: every connection of the room
 *   there is reported `failed` (room.ts closes its client's socket, and the
 *   client reconnects) and `onError` is told once.
 */
import { Forwarder, checkId, type ForwarderOptions, type ForwarderStats, type SessionDescription } from './forwarder.ts'
import { SfuError, SfuErrorCode } from './errors.ts'
import type { Placement, ShardPool, ShardRoom } from './shard-pool.ts'
import { toWire, type FromShard, type RoomReport, type ShardOp } from './shard-protocol.ts'
import { addForwarderStats, emptyForwarderStats } from '../rooms/metrics.ts'
import type { RtpPacket } from 'werift'

export type { ForwarderStats } from './forwarder.ts'

/** What a relay room uses of a forwarder. */
export type RoomForwarder = Pick<
  Forwarder,
  | 'addPublisher'
  | 'addRemotePublisher'
  | 'injectRtp'
  | 'addSubscriber'
  | 'setStandby'
  | 'subscribe'
  | 'unsubscribe'
  | 'acceptAnswer'
  | 'removePeer'
  | 'removePublisher'
  | 'removeSubscriber'
  | 'hasPublisher'
  | 'hasSubscriber'
  | 'publisherIds'
  | 'subscriberIds'
  | 'stats'
  | 'close'
>

export type ForwarderFactory = (opts: ForwarderOptions) => RoomForwarder

/** The relay rooms' choice of forwarder. */
export interface ForwarderChoice {
  /** Makes a room's forwarder: by default a Forwarder in this thread; `ShardPool.factory` spreads rooms over worker threads. */
  forwarder?: ForwarderFactory
}

export const inThreadForwarder: ForwarderFactory = (opts) => new Forwarder(opts)

/** The factory of a pool's sharded forwarders (what `startRelay({ workers })` gives the rooms). */
export function shardedForwarders(pool: ShardPool): ForwarderFactory {
  return (opts) => new ShardedForwarder(pool, opts)
}

interface Pub {
  /** The shard of its connection; null for a remote publisher (cascade), or once its shard stopped. */
  host: number | null
}

interface Sub {
  shard: number
  standby: boolean
  pubs: Set<string>
}

export class ShardedForwarder implements RoomForwarder, ShardRoom {
  readonly #pool: ShardPool
  readonly #opts: ForwarderOptions
  readonly #id: number
  readonly #pubs = new Map<string, Pub>()
  readonly #subs = new Map<string, Sub>()
  /** Shards where this room is open, with how many connections are placed there. */
  readonly #open = new Map<number, number>()
  /** Latest counters of the room in each open shard. */
  readonly #live = new Map<number, RoomReport>()
  /** Counters of the room's forwarders closed in a shard, and of packets injected here. */
  readonly #retired = emptyForwarderStats()
  #direct = 0
  #closed = false

  constructor(pool: ShardPool, opts: ForwarderOptions) {
    this.#pool = pool
    this.#opts = opts
    this.#id = pool.register(this)
  }

  async addPublisher(id: string, offer: SessionDescription): Promise<SessionDescription> {
    this.#assertOpen()
    checkId(id)
    const existing = this.#pubs.get(id)
    if (existing && existing.host !== null) throw new SfuError(SfuErrorCode.DUPLICATE_PEER, `publisher ${id}`)
    const shard = this.#place(id, 'publishers')
    const pub: Pub = existing ?? { host: null }
    pub.host = shard
    if (!existing) {
      this.#pubs.set(id, pub)
      this.#toOthers(shard, { op: 'addRemotePublisher', pub: id })
    }
    try {
      return (await this.#pool.request(shard, this.#id, { op: 'addPublisher', pub: id, offer })) as SessionDescription
    } catch (err) {
      // As the in-thread Forwarder: an adopted remote publisher stays remote, a new one is gone.
      if (this.#pubs.get(id) === pub && pub.host === shard) {
        pub.host = null
        this.#release(shard, 'publishers')
        if (!existing) await this.removePublisher(id)
      }
      throw err
    }
  }

  addRemotePublisher(id: string): void {
    this.#assertOpen()
    checkId(id)
    if (this.#pubs.has(id)) throw new SfuError(SfuErrorCode.DUPLICATE_PEER, `publisher ${id}`)
    this.#pubs.set(id, { host: null })
    this.#toOthers(-1, { op: 'addRemotePublisher', pub: id })
  }

  injectRtp(id: string, rtp: RtpPacket): void {
    if (this.#closed || this.#pubs.get(id)?.host !== null) return
    this.#retired.packetsIn++
    this.#retired.bytesIn += rtp.payload.length
    const w = toWire(this.#id, id, rtp)
    for (const shard of this.#open.keys()) this.#pool.postRtp(shard, w)
  }

  addSubscriber(id: string, opts: { standby?: boolean } = {}): void {
    this.#assertOpen()
    checkId(id)
    if (this.#subs.has(id)) throw new SfuError(SfuErrorCode.DUPLICATE_PEER, `subscriber ${id}`)
    const standby = opts.standby === true
    const shard = this.#place(id, 'subscribers')
    this.#subs.set(id, { shard, standby, pubs: new Set() })
    this.#pool.post(shard, this.#id, { op: 'addSubscriber', sub: id, standby })
  }

  setStandby(id: string, standby: boolean): void {
    this.#assertOpen()
    const sub = this.#sub(id)
    sub.standby = standby
    this.#pool.post(sub.shard, this.#id, { op: 'setStandby', sub: id, standby })
  }

  subscribe(subscriberId: string, publisherId: string): void {
    this.#assertOpen()
    const sub = this.#sub(subscriberId)
    if (!this.#pubs.has(publisherId)) throw new SfuError(SfuErrorCode.UNKNOWN_PEER, `publisher ${publisherId}`)
    if (sub.pubs.has(publisherId)) return
    sub.pubs.add(publisherId)
    this.#pool.post(sub.shard, this.#id, { op: 'subscribe', sub: subscriberId, pub: publisherId })
  }

  unsubscribe(subscriberId: string, publisherId: string): void {
    this.#assertOpen()
    const sub = this.#sub(subscriberId)
    if (!sub.pubs.delete(publisherId)) return
    this.#pool.post(sub.shard, this.#id, { op: 'unsubscribe', sub: subscriberId, pub: publisherId })
  }

  async acceptAnswer(subscriberId: string, answer: SessionDescription): Promise<void> {
    this.#assertOpen()
    const sub = this.#sub(subscriberId)
    await this.#pool.request(sub.shard, this.#id, { op: 'acceptAnswer', sub: subscriberId, answer })
  }

  async removePeer(id: string): Promise<void> {
    await Promise.all([this.removePublisher(id), this.removeSubscriber(id)])
  }

  async removePublisher(id: string): Promise<void> {
    const pub = this.#pubs.get(id)
    if (!pub) return
    this.#pubs.delete(id)
    for (const sub of this.#subs.values()) sub.pubs.delete(id)
    const done = [...this.#open.keys()].map((shard) => this.#settle(shard, { op: 'removePublisher', pub: id }))
    if (pub.host !== null) this.#release(pub.host, 'publishers')
    await Promise.all(done)
  }

  async removeSubscriber(id: string): Promise<void> {
    const sub = this.#subs.get(id)
    if (!sub) return
    this.#subs.delete(id)
    const done = this.#settle(sub.shard, { op: 'removeSubscriber', sub: id })
    this.#release(sub.shard, 'subscribers')
    await done
  }

  hasPublisher(id: string): boolean {
    return this.#pubs.has(id)
  }

  hasSubscriber(id: string): boolean {
    return this.#subs.has(id)
  }

  publisherIds(): string[] {
    return [...this.#pubs.keys()]
  }

  subscriberIds(): string[] {
    return [...this.#subs.keys()]
  }

  /** Which shard each connection of this room is on (tests, admin). */
  placement(): Placement {
    return {
      publishers: Object.fromEntries([...this.#pubs].map(([id, p]) => [id, p.host])),
      subscribers: Object.fromEntries([...this.#subs].map(([id, s]) => [id, s.shard])),
    }
  }

  stats(): ForwarderStats {
    const out = emptyForwarderStats()
    addForwarderStats(out, this.#retired)
    for (const r of this.#live.values()) addForwarderStats(out, r.stats)
    // Gauges from this thread's bookkeeping (the shards' reports are per shard, and late).
    let standby = 0
    let streams = 0
    for (const sub of this.#subs.values()) {
      if (sub.standby) standby++
      else streams += sub.pubs.size
    }
    return { ...out, publishers: this.#pubs.size, subscribers: this.#subs.size, standby, streams }
  }

  /** Of the packets out, those written by the direct path (as Forwarder.packetsDirect). */
  get packetsDirect(): number {
    let n = this.#direct
    for (const r of this.#live.values()) n += r.packetsDirect
    return n
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const shards = [...this.#open.keys()]
    for (const sub of this.#subs.values()) this.#pool.assign(sub.shard, 'subscribers', -1)
    for (const pub of this.#pubs.values()) if (pub.host !== null) this.#pool.assign(pub.host, 'publishers', -1)
    this.#open.clear()
    await Promise.all(shards.map((shard) => this.#closeIn(shard)))
    this.#pool.unregister(this.#id)
  }

  // ---- from the pool ----------------------------------------------------------------------

  onEvent(shard: number, msg: Extract<FromShard, { t: 'offer' | 'state' | 'error' }>): void {
    if (this.#closed) return
    if (msg.t === 'error') return this.#opts.onError?.(new Error(msg.message))
    if (msg.t === 'offer') {
      // An offer of a connection since closed, or placed again elsewhere, is stale.
      if (this.#subs.get(msg.sub)?.shard === shard) this.#opts.onOffer(msg.sub, { type: 'offer', sdp: msg.sdp })
      return
    }
    const here = msg.role === 'subscriber' ? this.#subs.get(msg.id)?.shard === shard : this.#pubs.get(msg.id)?.host === shard
    if (here) this.#opts.onPeerState?.(msg.id, msg.role, msg.state)
  }

  onReport(shard: number, report: RoomReport): void {
    if (this.#open.has(shard)) this.#live.set(shard, report)
  }

  shardStopped(shard: number): void {
    if (this.#closed || !this.#open.has(shard)) return
    this.#open.delete(shard)
    this.#retire(shard, null)
    const failed: Array<[string, 'publisher' | 'subscriber']> = []
    for (const [id, sub] of this.#subs) {
      if (sub.shard !== shard) continue
      this.#subs.delete(id)
      failed.push([id, 'subscriber'])
    }
    for (const [id, pub] of this.#pubs) {
      if (pub.host !== shard) continue
      // Kept, silent, until its peer leaves: the other shards park its listeners' slots then.
      pub.host = null
      failed.push([id, 'publisher'])
    }
    this.#fanout()
    this.#retired.errors++
    this.#opts.onError?.(new Error(`forwarding shard ${shard} stopped: ${failed.length} connections of this room closed`))
    for (const [id, role] of failed) this.#opts.onPeerState?.(id, role, 'failed')
  }

  // ---- internals --------------------------------------------------------------------------

  /** The shard for a new connection of `key` (the shard of its other connection, if any), opened there if need be. */
  #place(key: string, kind: 'subscribers' | 'publishers'): number {
    const sibling = kind === 'publishers' ? this.#subs.get(key)?.shard : this.#pubs.get(key)?.host
    const shard = sibling !== undefined && sibling !== null && this.#pool.isLive(sibling) ? sibling : this.#pool.pick(new Set(this.#open.keys()))
    if (shard < 0) throw new SfuError(SfuErrorCode.CLOSED, 'no forwarding shard is running')
    if (!this.#open.has(shard)) {
      this.#open.set(shard, 0)
      this.#pool.post(shard, this.#id, { op: 'open', remotes: [...this.#pubs.keys()] })
      this.#fanout()
    }
    this.#open.set(shard, this.#open.get(shard)! + 1)
    this.#pool.assign(shard, kind, 1)
    return shard
  }

  /** One connection fewer on `shard`; the room closes there when none is left. */
  #release(shard: number, kind: 'subscribers' | 'publishers'): void {
    const n = this.#open.get(shard)
    if (n === undefined) return
    this.#pool.assign(shard, kind, -1)
    if (n > 1) return void this.#open.set(shard, n - 1)
    this.#open.delete(shard)
    this.#fanout()
    void this.#closeIn(shard)
  }

  async #closeIn(shard: number): Promise<void> {
    let final: RoomReport | null = null
    try {
      final = (await this.#pool.request(shard, this.#id, { op: 'close' })) as RoomReport
    } catch {
      // The shard stopped: its last report is what is known of the room there.
    }
    this.#retire(shard, final)
  }

  /**
   * Moves the room's counters in `shard` to the retired ones: its final counters, else its last
   * report. The report is dropped either way (the room may be open there again already, and a
   * report counted twice would push the counters up for good; one missing only until the next).
   */
  #retire(shard: number, final: RoomReport | null): void {
    const r = final ?? this.#live.get(shard)
    this.#live.delete(shard)
    if (!r) return
    addForwarderStats(this.#retired, r.stats)
    this.#direct += r.packetsDirect
  }

  /** Tells every open shard where else the room is open (where its publishers' packets go). */
  #fanout(): void {
    const shards = [...this.#open.keys()]
    for (const shard of shards) this.#pool.post(shard, this.#id, { op: 'fanout', shards })
  }

  /** Posts `body` to every open shard but `except`. */
  #toOthers(except: number, body: ShardOp): void {
    for (const shard of this.#open.keys()) if (shard !== except) this.#pool.post(shard, this.#id, body)
  }

  /** A request whose failure only means the shard is gone (removals). */
  async #settle(shard: number, body: ShardOp): Promise<void> {
    await this.#pool.request(shard, this.#id, body).catch(() => undefined)
  }

  #sub(id: string): Sub {
    const sub = this.#subs.get(id)
    if (!sub) throw new SfuError(SfuErrorCode.UNKNOWN_PEER, `subscriber ${id}`)
    return sub
  }

  #assertOpen(): void {
    if (this.#closed) throw new SfuError(SfuErrorCode.CLOSED, 'forwarder closed')
  }
}
