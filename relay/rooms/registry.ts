/**
 * The rooms a relay holds, by discovery key. A room is loaded on first use
 * (from the store when it has the doc), at most `maxRooms` at a time (those
 * still loading included), and unloaded (doc flushed, forwarder closed)
 * `idleRoomMs` after its last peer left, so a peer reconnecting at once finds
 * its room still warm. At `maxRooms`, the room idle longest makes way for a
 * new one: only rooms with someone connected hold a place (so sockets that
 * open rooms and leave cannot fill every place).
 *
 * Every room's entry bytes count against one relay-wide `maxTotalDocBytes`.
 */
import { CodedError } from '../../src/base/errors.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import { ROOM_GATE_REASONS, type DocBudget } from './gate.ts'
import { addForwarderStats, emptyForwarderStats, type RoomsSnapshot } from './metrics.ts'
import { RelayRoom, type RelayRoomOptions, type RoomPeer } from './room.ts'
import { RoomStore } from './store.ts'
import { SYNC_GUARD_REASONS } from './sync-guard.ts'

export type RoomRegistryErrorCode = 'rooms-full'

export const REGISTRY_REJECT_REASONS = [
  'store-corrupt',
  'doc-full',
  'copies-full',
  'relay-full',
  'banned',
  'not-member',
  'epoch-replaced',
  'not-vouched',
  'bad-vouch',
  ...ROOM_GATE_REASONS.map((r) => `gate:${r}` as const),
  ...SYNC_GUARD_REASONS.map((r) => `sync:${r}` as const),
] as const

export interface RoomRegistryOptions {
  log: Logger
  metrics: Metrics
  /** What every room is made with; its key, log and events come from the registry. */
  room: Omit<RelayRoomOptions, 'discovery' | 'events' | 'log'>
  maxRooms: number
  idleRoomMs: number
  /** Entry bytes all loaded rooms may hold together. Default: no limit. */
  maxTotalDocBytes?: number
  /** Persist room docs here (one file per room). Without it docs live in memory only. */
  dataDir?: string
  /** Store debounce (see store.ts). */
  storeDebounceMs?: number
  storeMaxDelayMs?: number
  /** Bytes of all stored docs (see store.ts). */
  storeQuotaBytes?: number
  /** Stored rooms unused this long are deleted (see store.ts). */
  storeExpireMs?: number
  rejected(reason: (typeof REGISTRY_REJECT_REASONS)[number]): void
  onRoomOpened?: (room: RelayRoom) => void
  onRoomClosed?: (room: RelayRoom) => void
}

export class RoomRegistry {
  readonly #opts: RoomRegistryOptions
  readonly #store: RoomStore | null
  readonly #rooms = new Map<string, RelayRoom>()
  readonly #loading = new Map<string, Promise<RelayRoom>>()
  readonly #idleTimers = new Map<string, NodeJS.Timeout>()
  /** Forwarder totals of unloaded rooms, so the counters built from them never go back. */
  readonly #retired = emptyForwarderStats()
  #closing = false
  /** Entry bytes of every loaded room. */
  readonly budget: DocBudget

  constructor(opts: RoomRegistryOptions) {
    this.#opts = opts
    this.budget = { used: 0, max: opts.maxTotalDocBytes ?? Infinity }
    const { metrics: m } = opts
    this.#store = opts.dataDir ? this.#openStore(opts.dataDir) : null
    m.counter('stoop_relay_rejected_publish_total', { reason: 'not-speaker' })
    m.counter('stoop_relay_rejected_publish_total', { reason: 'banned' })
    m.counter('stoop_relay_revoked_publish_total')
  }

  get size(): number {
    return this.#rooms.size
  }

  get(discovery: string): RelayRoom | undefined {
    return this.#rooms.get(discovery)
  }

  /** What `--data` holds (null without it). */
  storeUsage(): { rooms: number; bytes: number } | null {
    return this.#store?.usage() ?? null
  }

  /** The room, loaded if need be. Throws CodedError 'rooms-full' (its message fit for the client) at maxRooms. */
  async open(discovery: string): Promise<RelayRoom> {
    const live = this.#rooms.get(discovery)
    if (live) return live
    const pending = this.#loading.get(discovery)
    if (pending) return pending
    const { maxRooms } = this.#opts
    if (this.#rooms.size + this.#loading.size >= maxRooms && !this.#evictIdlest()) {
      throw new CodedError<RoomRegistryErrorCode>('rooms-full', `this relay serves at most ${maxRooms} rooms`)
    }
    const load = this.#load(discovery)
    this.#loading.set(discovery, load)
    try {
      const room = await load
      this.#rooms.set(discovery, room)
      this.#opts.onRoomOpened?.(room)
      return room
    } finally {
      this.#loading.delete(discovery)
    }
  }

  /** Adds `peer` to `room`, which stays loaded while it has peers. */
  join(room: RelayRoom, peer: RoomPeer): void {
    clearTimeout(this.#idleTimers.get(room.discovery))
    this.#idleTimers.delete(room.discovery)
    room.join(peer)
  }

  /** Takes `peer` out of `room` (its socket is closing). */
  leave(room: RelayRoom, peer: RoomPeer): void {
    void room.leave(peer).then(() => this.unloadWhenIdle(room))
  }

  /** Unloads `room` idleRoomMs from now unless a peer joins before. */
  unloadWhenIdle(room: RelayRoom): void {
    if (room.peers.size > 0 || this.#closing) return
    clearTimeout(this.#idleTimers.get(room.discovery))
    const t = setTimeout(() => {
      this.#idleTimers.delete(room.discovery)
      if (room.peers.size > 0 || this.#rooms.get(room.discovery) !== room) return
      void this.#unload(room)
    }, this.#opts.idleRoomMs)
    t.unref()
    this.#idleTimers.set(room.discovery, t)
  }

  /** Gauges and forwarder totals over every room, unloaded ones' totals included. */
  snapshot(): Omit<RoomsSnapshot, 'connections'> {
    const forwarders = emptyForwarderStats()
    addForwarderStats(forwarders, this.#retired)
    const peersByRole: Record<string, number> = {}
    let publishers = 0
    let subscribers = 0
    let standby = 0
    for (const room of this.#rooms.values()) {
      const s = room.forwarderStats
      if (s) {
        addForwarderStats(forwarders, s)
        publishers += s.publishers
        subscribers += s.subscribers
        standby += s.standby
      }
      for (const { key } of room.peers.values()) {
        const role = room.roleOf(key)
        peersByRole[role] = (peersByRole[role] ?? 0) + 1
      }
    }
    return { rooms: this.#rooms.size, peersByRole, publishers, subscribers, standby, forwarders }
  }

  /** Unloads the room idle longest (no peers) to make way for another; false when every room is in use. */
  #evictIdlest(): boolean {
    for (const [discovery, timer] of this.#idleTimers) {
      const room = this.#rooms.get(discovery)
      if (!room || room.peers.size > 0) continue
      clearTimeout(timer)
      this.#idleTimers.delete(discovery)
      this.#opts.metrics.counter('stoop_relay_rooms_evicted_total', { reason: 'capacity' }).inc()
      void this.#unload(room)
      return true
    }
    return false
  }

  #openStore(dir: string): RoomStore {
    const { log, metrics: m } = this.#opts
    const store = new RoomStore({
      dir,
      debounceMs: this.#opts.storeDebounceMs,
      maxDelayMs: this.#opts.storeMaxDelayMs,
      quotaBytes: this.#opts.storeQuotaBytes,
      expireMs: this.#opts.storeExpireMs,
      inUse: (room) => this.#rooms.has(room) || this.#loading.has(room),
      onWrite: (room, result, bytes, err) => {
        m.counter('stoop_relay_doc_writes_total', { result }).inc()
        if (result === 'error') log.error('room doc write failed', { room: room.slice(0, 12), bytes, err: String(err) })
        if (result === 'quota') log.warn('room doc not written: store quota reached', { room: room.slice(0, 12), bytes })
      },
      onEvict: (room, reason, bytes) => {
        m.counter('stoop_relay_store_evicted_total', { reason }).inc()
        log.info('stored room deleted', { room: room.slice(0, 12), reason, bytes })
      },
    })
    for (const result of ['ok', 'error', 'quota']) m.counter('stoop_relay_doc_writes_total', { result })
    for (const reason of ['expired', 'quota']) m.counter('stoop_relay_store_evicted_total', { reason })
    void store.start().catch((err: unknown) => log.error('room store scan failed', { err: String(err) }))
    return store
  }

  /** First step of shutdown: rooms emptied by the closing connections stay until `close()`. */
  stopUnloading(): void {
    this.#closing = true
    for (const t of this.#idleTimers.values()) clearTimeout(t)
    this.#idleTimers.clear()
  }

  /** Waits for rooms still loading, writes every doc and unloads every room. */
  async close(): Promise<void> {
    this.stopUnloading()
    await Promise.allSettled([...this.#loading.values()])
    await this.#store?.flush()
    await Promise.all([...this.#rooms.values()].map((room) => this.#unload(room)))
    this.#store?.stop()
  }

  async #load(discovery: string): Promise<RelayRoom> {
    const { log, metrics: m, rejected } = this.#opts
    const room = new RelayRoom({
      ...this.#opts.room,
      limits: { ...this.#opts.room.limits, budget: this.budget },
      discovery,
      log,
      events: {
        rejectedPublish: (reason) => m.counter('stoop_relay_rejected_publish_total', { reason }).inc(),
        revokedPublish: () => m.counter('stoop_relay_revoked_publish_total').inc(),
        refusedBanned: () => rejected('banned'),
        refusedMember: (what) => rejected(what),
        rejectedUpdate: (reason) => rejected(reason === 'doc-full' || reason === 'copies-full' || reason === 'relay-full' ? reason : `gate:${reason}`),
        rejectedSync: (reason) => rejected(`sync:${reason}`),
        changed: (r) => this.#store?.schedule(r.discovery, () => r.encode()),
        error: (err) => log.warn('forwarder error', { room: discovery.slice(0, 12), err: String(err) }),
      },
    })
    const bytes = this.#store ? await this.#store.load(discovery) : null
    if (bytes) {
      const bad = room.restore(bytes)
      if (bad) {
        rejected('store-corrupt')
        log.error('stored room doc refused', { room: discovery.slice(0, 12), reason: bad })
      } else log.info('room doc loaded', { room: discovery.slice(0, 12), bytes: bytes.byteLength })
    }
    return room
  }

  async #unload(room: RelayRoom): Promise<void> {
    this.#rooms.delete(room.discovery)
    this.#opts.onRoomClosed?.(room)
    const s = room.forwarderStats
    if (s) addForwarderStats(this.#retired, { ...s, publishers: 0, subscribers: 0, standby: 0, streams: 0 })
    await this.#store?.flushRoom(room.discovery)
    await room.destroy()
    this.#opts.log.debug('room unloaded', { room: room.discovery.slice(0, 12) })
  }
}
