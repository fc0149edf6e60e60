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
 * - The SFU fan-out (relay/sfu Forwarder): every publisher's RTP to every
 *   subscriber but itself.
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
 * Invariants: one connection per key (a newer one replaces the older); every
 * forwarder id is a participant key proven by the socket's signed challenge;
 * `destroy()` is idempotent and leaves no timer, listener or connection.
 */
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import type { SyncStats } from '../../src/net/sync.ts'
import type { Link } from '../../src/net/link.ts'
import { RelayCloseCode, type RefuseReason, type RelayMessage } from '../../src/net/relay-protocol.ts'
import { epochHandoff, RoomReplica, roleOf, type Role, type RoomState } from '../../src/room/index.ts'
import { inThreadForwarder, type ForwarderChoice, type ForwarderStats, type RoomForwarder } from '../sfu/sharded-forwarder.ts'
import { SfuError } from '../sfu/errors.ts'
import type { RTCPeerConnectionConfig, RtpPacket } from 'werift'
import type { Logger } from '../log.ts'
import { RoomGate, type DocBudget, type UpdateRejection } from './gate.ts'
import { SyncGuard, type SyncGuardLimits, type SyncGuardReason } from './sync-guard.ts'
import { EpochGate, type GateCount, type Member } from './epoch-gate.ts'
import { RoomSyncs } from './room-sync.ts'

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

export interface RoomEvents {
  /** A publish was refused (for metrics). */
  rejectedPublish(reason: RefuseReason): void
  /** A banned key was refused (joining, syncing, subscribing) or cut off when its ban arrived. */
  refusedBanned(): void
  /** A publisher lost its seat and is no longer forwarded. */
  revokedPublish(): void
  /** A remote update was refused by the gate or a doc size cap. */
  rejectedUpdate(reason: UpdateRejection): void
  /** A sync message was refused by the sync guard (presence, step 1). */
  rejectedSync?(reason: SyncGuardReason): void
  /** The doc changed and should be persisted (only once the room is bound). */
  changed(room: RelayRoom): void
  /** The forwarder reported an async failure. */
  error(err: Error): void
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

/** How long a remote publisher whose relay went away keeps its place (see #lingering). */
export const REMOTE_LINGER_MS = 4000

export type PublishResult = { ok: true; sdp: string } | { ok: false; reason: RefuseReason; message: string }
export type Verdict = { ok: true } | { ok: false; reason: RefuseReason; message: string }

/** What a banned key is told. */
export const BANNED_MESSAGE = 'a moderator banned this key from the room'

export class RelayRoom {
  readonly discovery: string
  readonly doc = new Y.Doc()
  readonly awareness: Awareness
  readonly peers = new Map<string, RoomPeer>()
  #replica: RoomReplica | null = null
  #roomId: string | null = null
  #forwarder: RoomForwarder | null = null
  readonly #syncs: RoomSyncs<RoomPeer>
  /** Updates' verification and the doc-size caps (`gate.bytes`: entry bytes taken in). */
  readonly gate: RoomGate
  /** Presence and step 1 checks (`syncGuard.encoded`: step 2 answers not served from its cache). */
  readonly syncGuard: SyncGuard
  #recheck: NodeJS.Timeout | null = null
  #offReplica: (() => void) | null = null
  #destroyed = false
  #publishing = new Set<string>()
  /** Subscribers that are other relays' cascade links. */
  #cascadeSubs = new Set<string>()
  /** Publisher ids each cascade source (a link to another relay) carries. */
  #offered = new Map<string, Set<string>>()
  /** Remote publishers in the forwarder now (offered by a cascade source and speakers in our state). */
  #remote = new Set<string>()
  /** Remote publishers whose source went away, kept (silent) until the time given, so a speaker
   * moving here from that relay takes their place without renegotiating every listener. */
  #lingering = new Map<string, number>()
  #lingerTimer: NodeJS.Timeout | null = null
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
    })
    this.#now = opts.now ?? Date.now
    this.awareness = new Awareness(this.doc)
    // The relay is not a participant: it forwards states, it has none.
    this.awareness.setLocalState(null)
    this.doc.on('update', this.#onDocUpdate)
    const { maxDocBytes, budget } = opts.limits
    this.gate = new RoomGate({ doc: this.doc, discovery: this.discovery, maxDocBytes, budget, authority: (key) => ['owner', 'moderator'].includes(this.roleOf(key)) })
    this.syncGuard = new SyncGuard({ doc: this.doc, limits: opts.limits.sync, stats: opts.syncStats, now: this.#now, rejected: (r) => opts.events.rejectedSync?.(r) })
    this.#syncs = new RoomSyncs<RoomPeer>({ doc: this.doc, awareness: this.awareness, guard: this.syncGuard, stats: opts.syncStats, acceptUpdate: (update) => this.#admit(update), publishers: () => [...this.#publishing, ...this.#remote] })
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
    return [...this.#remote]
  }

  /** Publishers forwarded now. */
  get publishers(): string[] {
    return this.#forwarder?.publisherIds() ?? []
  }

  get forwarderStats(): ForwarderStats | null {
    return this.#forwarder?.stats() ?? null
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
    const wasPublishing = this.#forwarder?.hasPublisher(peer.key) ?? false
    this.#publishing.delete(peer.key)
    this.#cascadeSubs.delete(peer.key)
    await this.#forwarder?.removePeer(peer.key)
    if (wasPublishing) {
      this.#syncRemote()
      this.#announcePublishers()
    }
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

  /** Handles a publish request. Refusals are counted here. */
  async publish(peer: RoomPeer, sdp: string): Promise<PublishResult> {
    this.#assertAlive()
    const refuse = (reason: RefuseReason, message: string): PublishResult => {
      this.#opts.events.rejectedPublish(reason)
      return { ok: false, reason, message }
    }
    if (peer.cascade) return refuse('not-speaker', 'a cascade link does not publish')
    if (this.state?.banned.has(peer.key)) return refuse('banned', BANNED_MESSAGE)
    if (this.#publishing.has(peer.key)) return refuse('already-publishing', 'this key already publishes in this room')
    // Entries that arrived before the request may still be verifying (at the gate, then in the replica).
    await this.gate.whenSettled().then(() => this.#replica?.whenSettled())
    if (this.#destroyed || this.peers.get(peer.key) !== peer) return refuse('internal', 'connection closed')
    if (this.#publishing.has(peer.key)) return refuse('already-publishing', 'this key already publishes in this room')
    const allowed = this.mayPublish(peer.key)
    if (!allowed.ok) return refuse(allowed.reason, allowed.message)
    const fwd = this.#ensureForwarder()
    if (this.#publishing.size >= this.#opts.limits.maxPublishers) return refuse('room-full', `this relay forwards at most ${this.#opts.limits.maxPublishers} speakers per room`)
    this.#publishing.add(peer.key)
    // The same speaker moved here from another relay: its local stream takes over
    // the remote one's place (the forwarder adopts it, no renegotiation).
    this.#remote.delete(peer.key)
    this.#lingering.delete(peer.key)
    let answer: string
    try {
      answer = (await fwd.addPublisher(peer.key, { type: 'offer', sdp })).sdp
    } catch (err) {
      this.#publishing.delete(peer.key)
      // An adopted remote entry left behind: drop it (the sources may offer it again).
      await fwd.removePublisher(peer.key)
      this.#syncRemote()
      if (err instanceof SfuError) return refuse('bad-offer', err.message)
      throw err
    }
    // The socket may have closed, or the seat been lost, while the answer was made.
    if (this.#destroyed || this.peers.get(peer.key) !== peer || !this.#publishing.has(peer.key)) {
      this.#publishing.delete(peer.key)
      await fwd.removePublisher(peer.key)
      return refuse('internal', 'connection closed')
    }
    if (!this.mayPublish(peer.key).ok) {
      this.#publishing.delete(peer.key)
      await fwd.removePublisher(peer.key)
      return refuse('not-speaker', 'this key lost its seat while publishing')
    }
    for (const sub of fwd.subscriberIds()) if (sub !== peer.key) fwd.subscribe(sub, peer.key)
    this.#announcePublishers()
    return { ok: true, sdp: this.#filter(answer) }
  }

  async unpublish(peer: RoomPeer): Promise<void> {
    if (!this.#publishing.delete(peer.key)) return
    await this.#forwarder?.removePublisher(peer.key)
    this.#syncRemote()
    this.#announcePublishers()
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
    const fwd = this.#ensureForwarder()
    if (fwd.hasSubscriber(peer.key)) {
      fwd.setStandby(peer.key, standby && !peer.cascade)
      return { ok: true }
    }
    if (fwd.subscriberIds().length >= this.#opts.limits.maxListeners) return { ok: false, reason: 'room-full', message: `this relay serves at most ${this.#opts.limits.maxListeners} listeners per room` }
    fwd.addSubscriber(peer.key, { standby: standby && !peer.cascade })
    if (peer.cascade) this.#cascadeSubs.add(peer.key)
    for (const pub of fwd.publisherIds()) if (pub !== peer.key && !(peer.cascade && this.#remote.has(pub))) fwd.subscribe(peer.key, pub)
    return { ok: true }
  }

  async unsubscribe(peer: RoomPeer): Promise<void> {
    this.#syncs.unsubscribe(peer)
    this.#cascadeSubs.delete(peer.key)
    await this.#forwarder?.removeSubscriber(peer.key)
  }

  /** Applies a subscriber's answer. */
  async answer(peer: RoomPeer, sdp: string): Promise<Verdict> {
    const fwd = this.#forwarder
    if (!fwd?.hasSubscriber(peer.key)) return { ok: false, reason: 'not-subscribed', message: 'no subscription to answer for' }
    try {
      await fwd.acceptAnswer(peer.key, { type: 'answer', sdp })
      return { ok: true }
    } catch (err) {
      if (err instanceof SfuError) return { ok: false, reason: 'bad-answer', message: err.message }
      throw err
    }
  }

  /**
   * A cascade source (our link to another relay, named `source`) now carries
   * `ids`. Those that are speakers in this relay's state are forwarded to our
   * local subscribers (never to other relays' cascade links); the rest wait
   * for our state to seat them.
   */
  setRemoteSource(source: string, ids: readonly string[]): void {
    if (this.#destroyed) return
    const next = new Set(ids)
    const until = this.#now() + REMOTE_LINGER_MS
    for (const id of this.#offered.get(source) ?? []) if (!next.has(id) && this.#remote.has(id)) this.#lingering.set(id, until)
    if (ids.length === 0) this.#offered.delete(source)
    else this.#offered.set(source, next)
    if (this.#lingering.size > 0 && !this.#lingerTimer) {
      this.#lingerTimer = setTimeout(() => {
        this.#lingerTimer = null
        this.#syncRemote()
      }, REMOTE_LINGER_MS + 10)
      this.#lingerTimer.unref()
    }
    this.#syncRemote()
  }

  /** One RTP packet of remote publisher `id` (payload untouched). */
  injectRemote(id: string, rtp: RtpPacket): void {
    if (this.#remote.has(id)) this.#forwarder?.injectRtp(id, rtp)
  }

  /** Closes everything. Idempotent. Peers are not told (the endpoint does that). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    if (this.#recheck) clearTimeout(this.#recheck)
    if (this.#lingerTimer) clearTimeout(this.#lingerTimer)
    this.#syncs.destroy()
    this.syncGuard.destroy()
    this.gate.destroy()
    this.peers.clear()
    this.#offReplica?.()
    this.#replica?.destroy()
    this.doc.off('update', this.#onDocUpdate)
    this.awareness.destroy()
    const fwd = this.#forwarder
    this.#forwarder = null
    await fwd?.close()
    this.doc.destroy()
  }

  // ---- internals ------------------------------------------------------------------------

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
    this.#syncRemote()
    const fwd = this.#forwarder
    if (!fwd) return
    let changed = false
    for (const key of [...this.#publishing]) {
      const allowed = this.mayPublish(key)
      if (allowed.ok) continue
      this.#publishing.delete(key)
      changed = true
      this.#opts.events.revokedPublish()
      this.#opts.log.info('relay stopped forwarding a speaker', { room: this.discovery.slice(0, 12), key, why: allowed.message })
      void fwd.removePublisher(key)
      this.peers.get(key)?.send({ type: 'unpublished', reason: allowed.reason })
    }
    if (changed) this.#announcePublishers()
  }

  /** Brings the forwarder's remote publishers in line with what sources offer and our state allows. */
  #syncRemote(): void {
    if (this.#destroyed) return
    const want = new Set<string>()
    const now = this.#now()
    for (const [id, until] of this.#lingering) if (until <= now || this.#publishing.has(id)) this.#lingering.delete(id)
    const offered = [...this.#lingering.keys()]
    for (const ids of this.#offered.values()) offered.push(...ids)
    for (const id of offered) if (!this.#publishing.has(id) && this.mayPublish(id).ok) want.add(id)
    let changed = false
    for (const id of [...this.#remote]) {
      if (want.has(id)) continue
      this.#remote.delete(id)
      changed = true
      void this.#forwarder?.removePublisher(id)
    }
    const added = [...want].filter((id) => !this.#remote.has(id))
    if (added.length > 0) {
      const fwd = this.#ensureForwarder()
      for (const id of added) {
        if (fwd.hasPublisher(id)) continue
        fwd.addRemotePublisher(id)
        this.#remote.add(id)
        changed = true
        for (const sub of fwd.subscriberIds()) if (sub !== id && !this.#cascadeSubs.has(sub)) fwd.subscribe(sub, id)
      }
    }
    if (changed) this.#announcePublishers()
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

  #announcePublishers(): void {
    const ids = [...this.#publishing, ...this.#remote]
    for (const peer of this.peers.values()) if (!this.epochs.holds(peer)) peer.send({ type: 'publishers', ids })
  }

  #ensureForwarder(): RoomForwarder {
    if (this.#forwarder) return this.#forwarder
    const fwd = (this.#opts.forwarder ?? inThreadForwarder)({
      ...(this.#opts.peerConfig ? { peerConfig: this.#opts.peerConfig } : {}),
      now: this.#now,
      onOffer: (id, offer) => this.peers.get(id)?.send({ type: 'offer', sdp: this.#filter(offer.sdp) }),
      onError: (err) => this.#opts.events.error(err),
      onPeerState: (id, role, state) => {
        if (state !== 'failed') return
        // One failure path: the client's socket is closed too, so it reconnects or falls back.
        this.#opts.log.warn('relay media connection failed', { room: this.discovery.slice(0, 12), key: id, role })
        this.peers.get(id)?.close(RelayCloseCode.MediaFailed, `${role} connection failed`)
      },
    })
    this.#forwarder = fwd
    return fwd
  }

  #filter(sdp: string): string {
    return this.#opts.sdpFilter ? this.#opts.sdpFilter(sdp) : sdp
  }

  #assertAlive(): void {
    if (this.#destroyed) throw new Error('room destroyed')
  }
}
