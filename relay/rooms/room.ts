/**
 * RelayRoom: what the relay holds for one room, named by its discovery key.
 *
 * - A replica of the room doc (Yjs), synced with every connected participant
 *   over its relay socket (a star: the relay forwards each update and each
 *   awareness state to the others), gated by `RoomGate` (every new entry's
 *   signature checked before the update is applied, the doc-size caps counted
 *   in entry bytes) and `SyncGuard` (presence bound to its sender's key and
 *   capped, step 1 answers cached), persisted by the RoomStore. The doc holds
 *   only signed entries: the relay can validate them without the room secret
 *   (docs/relay.md).
 * - A RoomReplica once the room id is known (from the first entry whose id
 *   hashes to the discovery key): the same pure room model every client runs.
 * - The SFU fan-out (room-media.ts over the relay/sfu forwarder): every
 *   publisher's RTP to every subscriber but itself, and other relays'
 *   publishers brought in by cascade links.
 *
 * Speaker policy (the only place the relay decides anything about audio): a
 * key may publish while it has a seat on stage in the validated state of the
 * log this relay holds (`mayPublish`), and the room has not ended. A client
 * syncs its log before it asks to publish, so the entries that prove its seat
 * are here. On every state change every publisher is checked again and those
 * who lost their seat (moved to the audience, left, banned, room ended) stop
 * being forwarded at once and are told `unpublished`.
 *
 * Ban policy: a key banned in the validated state is refused everything the
 * relay offers (`admit` at the handshake, sync and with it presence,
 * subscribe, publish), and a connected key is cut off (close 4008 `banned`,
 * its sync, presence, subscription and publication dropped) as soon as its
 * ban is in the state. The relay enforces what every client computes; a
 * banned client that ignores its own ban still gets nothing here. A kick
 * (docs/room-rules.md §10) is the same while it lasts (close reason
 * `kicked`); a speaker a moderator muted is not forwarded until it unmutes.
 *
 * Invariants: one connection per key (a newer one replaces the older), its key
 * proven by the socket's signed challenge (the only ids the forwarder sees);
 * `destroy()` is idempotent and leaves no timer, listener or connection.
 */
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import type { SyncStats } from '../../src/net/sync.ts'
import type { Link } from '../../src/net/link.ts'
import { RelayCloseCode, type RelayMessage } from '../../src/net/relay-protocol.ts'
import { epochHandoff, RoomReplica, roleOf, type Role, type RoomState } from '../../src/room/index.ts'
import type { ForwarderChoice, ForwarderStats } from '../sfu/sharded-forwarder.ts'
import type { RTCPeerConnectionConfig, RtpPacket } from 'werift'
import type { Logger } from '../log.ts'
import { RoomGate, type DocBudget, type UpdateRejection } from './gate.ts'
import { SyncGuard, type SyncGuardLimits, type SyncGuardReason } from './sync-guard.ts'
import { EpochGate, type GateCount, type Member } from './epoch-gate.ts'
import { RoomSyncs } from './room-sync.ts'
import { RoomMedia, type MediaEvents, type PublishResult, type Verdict } from './room-media.ts'

export { REMOTE_LINGER_MS, type PublishResult, type Verdict } from './room-media.ts'

/** One authenticated participant connection, as the room sees it. */
export interface RoomPeer {
  readonly key: string
  /**
   * Another relay's cascade link (hello with `cascade: true`): it may not
   * publish, and it is forwarded this relay's local publishers only, never
   * those that came from another relay, so cascades cannot loop.
   */
  readonly cascade?: boolean
  /** The room log only (hello `syncOnly`): no media, and the key's other connection is kept. */
  readonly syncOnly?: boolean
  send(msg: RelayMessage): void
  close(code: number, reason: string): void
}

export interface RoomLimits {
  /** Subscribers (listening connections) per room. */
  maxListeners: number
  /** Publishers per room. */
  maxPublishers: number
  /** Entry bytes a room doc may take in (a bound on disk and memory per room). */
  maxDocBytes: number
  /** Entry bytes every room of the relay may hold together. */
  budget?: DocBudget
  /** Presence and step 1 limits per connection. */
  sync?: Partial<SyncGuardLimits>
}

export interface RoomEvents extends MediaEvents {
  /** A banned key was refused (joining, syncing, subscribing) or cut off when its ban arrived. */
  refusedBanned(): void
  /** A remote update was refused by the gate or a doc size cap. */
  rejectedUpdate(reason: UpdateRejection): void
  /** A sync message was refused by the sync guard (presence, step 1). */
  rejectedSync?(reason: SyncGuardReason): void
  /** The doc changed and should be persisted (only once the room is bound). */
  changed(room: RelayRoom): void
  /** A connection without proof of the current epoch was refused or cut, or a member's vouch did not verify (epoch-gate.ts). */
  refusedMember?(what: GateCount): void
}

export interface RelayRoomOptions extends ForwarderChoice {
  discovery: string
  limits: RoomLimits
  events: RoomEvents
  log: Logger
  syncStats: SyncStats
  peerConfig?: Partial<RTCPeerConnectionConfig>
  /** Applied to SDP the relay sends (tests keep loopback candidates only). */
  sdpFilter?: (sdp: string) => string
  now?: () => number
}

/**
 * Where `peer` is in `RelayRoom.peers`: its key, or for a sync-only connection its key and
 * "/sync" (never a key: '/' is not base64url), so a `stoop mod` with a member's key syncs
 * beside that member's connection instead of replacing it.
 */
export function peerSlot(peer: Pick<RoomPeer, 'key' | 'syncOnly'>): string {
  return peer.syncOnly ? `${peer.key}/sync` : peer.key
}

/** How long a connection has to prove membership of a new epoch before it is cut. */
export const EPOCH_PROVE_GRACE_MS = 5000

/** What a banned key is told. */
export const BANNED_MESSAGE = 'a moderator banned this key from the room'

export class RelayRoom {
  readonly discovery: string
  readonly doc = new Y.Doc()
  readonly awareness: Awareness
  readonly peers = new Map<string, RoomPeer>()
  #replica: RoomReplica | null = null
  #roomId: string | null = null
  readonly #media: RoomMedia
  readonly #syncs: RoomSyncs<RoomPeer>
  /** Updates' verification and the doc-size caps (`gate.bytes`: entry bytes taken in). */
  readonly gate: RoomGate
  /** Presence and step 1 checks (`syncGuard.encoded`: step 2 answers not served from its cache). */
  readonly syncGuard: SyncGuard
  #recheck: NodeJS.Timeout | null = null
  #offReplica: (() => void) | null = null
  #destroyed = false
  readonly #opts: RelayRoomOptions
  readonly #now: () => number
  /** Who may stay: members of the current epoch (docs/room-rules.md §8). */
  readonly epochs: EpochGate

  constructor(opts: RelayRoomOptions) {
    this.#opts = opts
    this.discovery = opts.discovery
    this.epochs = new EpochGate({
      graceMs: EPOCH_PROVE_GRACE_MS,
      handoff: () => (this.#replica ? epochHandoff(this.#replica.index, this.#replica.state.epochs.current) : []),
      counted: (what) => opts.events.refusedMember?.(what),
      served: (conn) => this.#syncs.serve(conn, (peer, standby) => this.subscribe(peer, standby)),
      state: () => this.state,
    })
    this.#now = opts.now ?? Date.now
    this.awareness = new Awareness(this.doc)
    // The relay is not a participant: it forwards states, it has none.
    this.awareness.setLocalState(null)
    this.doc.on('update', this.#onDocUpdate)
    const { maxDocBytes, budget } = opts.limits
    this.gate = new RoomGate({ doc: this.doc, discovery: this.discovery, maxDocBytes, budget, authority: (key) => ['owner', 'moderator'].includes(this.roleOf(key)) })
    this.syncGuard = new SyncGuard({ doc: this.doc, limits: opts.limits.sync, stats: opts.syncStats, now: this.#now, rejected: (r) => opts.events.rejectedSync?.(r) })
    this.#syncs = new RoomSyncs<RoomPeer>({ doc: this.doc, awareness: this.awareness, guard: this.syncGuard, stats: opts.syncStats, acceptUpdate: (update) => this.#admit(update), publishers: () => this.#media.announced })
    this.#media = new RoomMedia({
      ...opts,
      now: this.#now,
      mayPublish: (key) => this.mayPublish(key),
      current: (peer) => !this.#destroyed && this.peers.get(peer.key) === peer,
      peer: (key) => this.peers.get(key),
      // Connections held without proof are not told who publishes (room-sync.ts).
      announce: (ids) => {
        for (const peer of this.peers.values()) if (!this.epochs.holds(peer)) peer.send({ type: 'publishers', ids })
      },
    })
  }

  /** The room id, once an entry told it. */
  get roomId(): string | null {
    return this.#roomId
  }

  get state(): RoomState | null {
    return this.#replica?.state ?? null
  }

  get replica(): RoomReplica | null {
    return this.#replica
  }

  /** Publishers forwarded from other relays now (cascade). */
  get remotePublishers(): string[] {
    return this.#media.remotePublishers
  }

  /** Publishers forwarded now. */
  get publishers(): string[] {
    return this.#media.publishers
  }

  get forwarderStats(): ForwarderStats | null {
    return this.#media.forwarderStats
  }

  /** Room role of a connected key in the relay's state ('listener' until the room is known). */
  roleOf(key: string): Role {
    const s = this.state
    return s ? roleOf(s, key) : 'listener'
  }

  /** Applies stored bytes (from disk) through the gate's shape, room and size checks (signatures: the replica's). */
  restore(update: Uint8Array): UpdateRejection | null {
    const verdict = this.gate.restore(update)
    if (!verdict.ok) return verdict.reason
    this.#bindOnce(verdict.roomId)
    Y.applyUpdate(this.doc, update, 'store')
    return null
  }

  /** Full doc state, for the store. */
  encode(): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc)
  }

  /** Whether `key` may be served at all (the handshake asks before welcoming it): not banned, nor kicked now. A refusal is counted. */
  admit(key: string): Verdict {
    if (!this.state?.banned.has(key) && !this.state?.kicked.has(key)) return { ok: true }
    this.#opts.events.refusedBanned()
    return { ok: false, reason: 'banned', message: this.state!.banned.has(key) ? BANNED_MESSAGE : `a moderator removed this key from the room until ${new Date(this.state!.kicked.get(key)!.until).toISOString()}` }
  }

  join(peer: RoomPeer): void {
    this.#assertAlive()
    this.peers.set(peerSlot(peer), peer)
  }

  /**
   * Starts the room sync (and presence) with `peer` over `link` (called at its first binary
   * frame). A banned key gets none: it is cut off instead, and false is returned.
   */
  attachSync(peer: RoomPeer, link: Link): boolean {
    this.#assertAlive()
    if (!this.admit(peer.key).ok) {
      this.#cut(peer)
      return false
    }
    this.#syncs.attach(peer, link, this.epochs.holds(peer))
    return true
  }

  /** Stops the room sync with `peer` (a cascade link that is not a joined peer). */
  detachSync(peer: RoomPeer): void {
    this.#syncs.detach(peer)
  }

  /** Removes `peer` (its socket closed): stops its sync, its publishing and its subscription. */
  async leave(peer: RoomPeer): Promise<void> {
    const slot = peerSlot(peer)
    if (this.peers.get(slot) !== peer) return
    this.peers.delete(slot)
    if ('nonce' in peer) this.epochs.forget(peer as RoomPeer & Member)
    this.detachSync(peer)
    // The key's media, if any, belongs to its other connection.
    if (peer.syncOnly) return
    await this.#media.remove(peer.key)
  }

  /** Whether `key` may publish, by the room state this relay holds. */
  mayPublish(key: string): Verdict {
    const state = this.state
    if (!state || !state.exists) return { ok: false, reason: 'no-room-state', message: 'the relay does not hold this room\'s log yet (sync it first)' }
    if (state.ended) return { ok: false, reason: 'not-speaker', message: 'the room has ended' }
    if (state.banned.has(key)) return { ok: false, reason: 'banned', message: BANNED_MESSAGE }
    if (!state.seatOf.has(key) || state.muted.has(key)) return { ok: false, reason: 'not-speaker', message: state.muted.has(key) ? 'a moderator muted this speaker' : 'this key is not on stage in the room state' }
    return { ok: true }
  }

  /** Handles a publish request. Refusals are counted (room-media.ts makes the publisher). */
  async publish(peer: RoomPeer, sdp: string): Promise<PublishResult> {
    this.#assertAlive()
    if (peer.cascade) return this.#media.refuse('not-speaker', 'a cascade link does not publish')
    if (this.state?.banned.has(peer.key)) return this.#media.refuse('banned', BANNED_MESSAGE)
    if (this.#media.isPublishing(peer.key)) return this.#media.refuse('already-publishing', 'this key already publishes in this room')
    // Entries that arrived before the request may still be verifying (at the gate, then in the replica).
    await this.gate.whenSettled().then(() => this.#replica?.whenSettled())
    if (this.#destroyed || this.peers.get(peer.key) !== peer) return this.#media.refuse('internal', 'connection closed')
    return this.#media.publish(peer, sdp)
  }

  async unpublish(peer: RoomPeer): Promise<void> {
    await this.#media.unpublish(peer.key)
  }

  /**
   * Starts forwarding the room to `peer`, or with `standby` only sets the connection up (a
   * client's failover reserve). Subscribing again switches between the two at once. A standby
   * subscriber holds a listener place: it is the capacity its client will need on failover.
   */
  subscribe(peer: RoomPeer, standby = false): Verdict {
    this.#assertAlive()
    const admitted = this.admit(peer.key)
    if (!admitted.ok) return admitted
    // Admitted without proof (no epoch here yet): no media offers until it proves one (room-sync.ts).
    if (this.epochs.holds(peer)) return this.#syncs.subscribeLater(peer, standby)
    return this.#media.subscribe(peer, standby)
  }

  async unsubscribe(peer: RoomPeer): Promise<void> {
    this.#syncs.unsubscribe(peer)
    await this.#media.unsubscribe(peer.key)
  }

  /** Applies a subscriber's answer. */
  answer(peer: RoomPeer, sdp: string): Promise<Verdict> {
    return this.#media.answer(peer.key, sdp)
  }

  /**
   * A cascade source (our link to another relay, named `source`) now carries `ids`. Those that are speakers in
   * our state go to our local subscribers (never to other relays' cascade links); the rest wait to be seated.
   */
  setRemoteSource(source: string, ids: readonly string[]): void {
    if (!this.#destroyed) this.#media.setRemoteSource(source, ids)
  }

  /** One RTP packet of remote publisher `id` (payload untouched). */
  injectRemote(id: string, rtp: RtpPacket): void {
    this.#media.injectRemote(id, rtp)
  }

  /** Closes everything. Idempotent. Peers are not told (the endpoint does that). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    if (this.#recheck) clearTimeout(this.#recheck)
    const media = this.#media.destroy()
    this.#syncs.destroy()
    this.syncGuard.destroy()
    this.gate.destroy()
    this.peers.clear()
    this.#offReplica?.()
    this.#replica?.destroy()
    this.doc.off('update', this.#onDocUpdate)
    this.awareness.destroy()
    await media
    this.doc.destroy()
  }

  /** Whether a remote update may be applied (then at once). Binds the room id on the first entry that names it. */
  async #admit(update: Uint8Array): Promise<boolean> {
    const verdict = await this.gate.admit(update)
    if (!verdict.ok) this.#opts.events.rejectedUpdate(verdict.reason)
    if (!verdict.ok || this.#destroyed) return false
    this.#bindOnce(verdict.roomId)
    return true
  }

  #bindOnce(roomId: string | null): void {
    if (this.#roomId !== null || roomId === null) return
    this.#roomId = roomId
    const replica = new RoomReplica(this.doc, { roomId, now: this.#now, verified: this.gate })
    this.#replica = replica
    this.#offReplica = replica.on('change', (_diff, state) => this.#onState(state))
  }

  readonly #onDocUpdate = (): void => {
    if (this.#roomId !== null && !this.#destroyed) this.#opts.events.changed(this)
  }

  #onState(state: RoomState): void {
    if (this.#destroyed) return
    if (this.#recheck) clearTimeout(this.#recheck)
    this.#recheck = null
    if (state.recheckAt !== null) {
      this.#recheck = setTimeout(() => this.#replica?.recompute(), Math.max(0, state.recheckAt - this.#now()) + 10)
      this.#recheck.unref()
    }
    for (const peer of [...this.peers.values()]) {
      if (!state.banned.has(peer.key) && !state.kicked.has(peer.key)) continue
      this.#opts.events.refusedBanned()
      this.#cut(peer, state.banned.has(peer.key) ? 'banned' : 'kicked')
    }
    this.epochs.onState(state, [...this.peers.values()].filter((p): p is RoomPeer & Member => 'nonce' in p))
    this.#media.onState()
  }

  /**
   * Cuts a banned peer off: its socket closes (4008 `banned`), and its sync, presence,
   * subscription and publication go with it (through the endpoint's leave, and here for
   * peers that are not sockets).
   */
  #cut(peer: RoomPeer, why: 'banned' | 'kicked' = 'banned'): void {
    this.#opts.log.info(`relay cut off a ${why} key`, { room: this.discovery.slice(0, 12), key: peer.key })
    peer.close(RelayCloseCode.Banned, why)
    void this.leave(peer)
  }

  #assertAlive(): void {
    if (this.#destroyed) throw new Error('room destroyed')
  }
}
