/**
 * RoomMedia: the audio side of one relay room, split out of RelayRoom (room.ts) so the room
 * keeps its log, sync, membership and ban policy and this module keeps what reaches the SFU
 * forwarder: who publishes here, who subscribes (and which subscribers are other relays'
 * cascade links), and the remote publishers that cascade sources (our links to other relays)
 * carry. It decides nothing about who may speak: the room's `mayPublish` is asked at every
 * step, and `onState` brings the forwarder back in line whenever the room's state changes.
 *
 * Invariants: a key is in at most one of `publishing` (local) and `remote`; a cascade link is
 * never forwarded a remote publisher, so cascades cannot loop; every forwarder id is a key the
 * room authenticated; `destroy()` is idempotent and leaves no timer or connection.
 */
import type { RtpPacket, RTCPeerConnectionConfig } from 'werift'
import { RelayCloseCode, type RefuseReason, type RelayMessage } from '../../src/net/relay-protocol.ts'
import type { Logger } from '../log.ts'
import { SfuError } from '../sfu/errors.ts'
import { inThreadForwarder, type ForwarderChoice, type ForwarderStats, type RoomForwarder } from '../sfu/sharded-forwarder.ts'

/** How long a remote publisher whose relay went away keeps its place (see `#lingering`). */
export const REMOTE_LINGER_MS = 4000

export type PublishResult = { ok: true; sdp: string } | { ok: false; reason: RefuseReason; message: string }
export type Verdict = { ok: true } | { ok: false; reason: RefuseReason; message: string }

/** What the media side needs of a connection (RoomPeer has it). */
export interface MediaPeer {
  readonly key: string
  readonly cascade?: boolean
  send(msg: RelayMessage): void
  close(code: number, reason: string): void
}

/** What the room's owner hears of its media (RoomEvents in room.ts extends it). */
export interface MediaEvents {
  /** A publish was refused (for metrics). */
  rejectedPublish(reason: RefuseReason): void
  /** A publisher lost its seat and is no longer forwarded. */
  revokedPublish(): void
  /** The forwarder reported an async failure. */
  error(err: Error): void
}

export interface RoomMediaOptions extends ForwarderChoice {
  discovery: string
  limits: { maxListeners: number; maxPublishers: number }
  events: MediaEvents
  log: Logger
  peerConfig?: Partial<RTCPeerConnectionConfig>
  sdpFilter?: (sdp: string) => string
  now: () => number
  /** The room's speaker policy. */
  mayPublish(key: string): Verdict
  /** Whether `peer` is still the room's connection for its key (the room alive). */
  current(peer: MediaPeer): boolean
  /** The room's connection for `key`, if any. */
  peer(key: string): MediaPeer | undefined
  /** Tells the room's served connections who publishes now. */
  announce(ids: string[]): void
}

export class RoomMedia {
  readonly #o: RoomMediaOptions
  #forwarder: RoomForwarder | null = null
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

  constructor(opts: RoomMediaOptions) {
    this.#o = opts
  }

  /** Local and remote publishers, as announced to listeners. */
  get announced(): string[] {
    return [...this.#publishing, ...this.#remote]
  }

  /** Publishers forwarded from other relays now (cascade). */
  get remotePublishers(): string[] {
    return [...this.#remote]
  }

  /** Publishers in the forwarder now. */
  get publishers(): string[] {
    return this.#forwarder?.publisherIds() ?? []
  }

  get forwarderStats(): ForwarderStats | null {
    return this.#forwarder?.stats() ?? null
  }

  isPublishing(key: string): boolean {
    return this.#publishing.has(key)
  }

  /** Counts a refused publish and says why. */
  refuse(reason: RefuseReason, message: string): PublishResult {
    this.#o.events.rejectedPublish(reason)
    return { ok: false, reason, message }
  }

  /** Makes `peer` a publisher once the room checked what it can before waiting (room.ts `publish`). */
  async publish(peer: MediaPeer, sdp: string): Promise<PublishResult> {
    if (this.#publishing.has(peer.key)) return this.refuse('already-publishing', 'this key already publishes in this room')
    const allowed = this.#o.mayPublish(peer.key)
    if (!allowed.ok) return this.refuse(allowed.reason, allowed.message)
    const fwd = this.#ensureForwarder()
    const max = this.#o.limits.maxPublishers
    if (this.#publishing.size >= max) return this.refuse('room-full', `this relay forwards at most ${max} speakers per room`)
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
      if (err instanceof SfuError) return this.refuse('bad-offer', err.message)
      throw err
    }
    // The socket may have closed, or the seat been lost, while the answer was made.
    if (!this.#o.current(peer) || !this.#publishing.has(peer.key)) {
      this.#publishing.delete(peer.key)
      await fwd.removePublisher(peer.key)
      return this.refuse('internal', 'connection closed')
    }
    if (!this.#o.mayPublish(peer.key).ok) {
      this.#publishing.delete(peer.key)
      await fwd.removePublisher(peer.key)
      return this.refuse('not-speaker', 'this key lost its seat while publishing')
    }
    for (const sub of fwd.subscriberIds()) if (sub !== peer.key) fwd.subscribe(sub, peer.key)
    this.#o.announce(this.announced)
    return { ok: true, sdp: this.#filter(answer) }
  }

  async unpublish(key: string): Promise<void> {
    if (!this.#publishing.delete(key)) return
    await this.#forwarder?.removePublisher(key)
    this.#syncRemote()
    this.#o.announce(this.announced)
  }

  /** Forwards the room to `peer` (or only sets its connection up, `standby`); room.ts checked it may listen. */
  subscribe(peer: MediaPeer, standby: boolean): Verdict {
    const fwd = this.#ensureForwarder()
    if (fwd.hasSubscriber(peer.key)) {
      fwd.setStandby(peer.key, standby && !peer.cascade)
      return { ok: true }
    }
    const max = this.#o.limits.maxListeners
    if (fwd.subscriberIds().length >= max) return { ok: false, reason: 'room-full', message: `this relay serves at most ${max} listeners per room` }
    fwd.addSubscriber(peer.key, { standby: standby && !peer.cascade })
    if (peer.cascade) this.#cascadeSubs.add(peer.key)
    for (const pub of fwd.publisherIds()) if (pub !== peer.key && !(peer.cascade && this.#remote.has(pub))) fwd.subscribe(peer.key, pub)
    return { ok: true }
  }

  async unsubscribe(key: string): Promise<void> {
    this.#cascadeSubs.delete(key)
    await this.#forwarder?.removeSubscriber(key)
  }

  /** Applies a subscriber's answer. */
  async answer(key: string, sdp: string): Promise<Verdict> {
    const fwd = this.#forwarder
    if (!fwd?.hasSubscriber(key)) return { ok: false, reason: 'not-subscribed', message: 'no subscription to answer for' }
    try {
      await fwd.acceptAnswer(key, { type: 'answer', sdp })
      return { ok: true }
    } catch (err) {
      if (err instanceof SfuError) return { ok: false, reason: 'bad-answer', message: err.message }
      throw err
    }
  }

  /** `key`'s connection went away: its publication and subscription go with it. */
  async remove(key: string): Promise<void> {
    const wasPublishing = this.#forwarder?.hasPublisher(key) ?? false
    this.#publishing.delete(key)
    this.#cascadeSubs.delete(key)
    await this.#forwarder?.removePeer(key)
    if (wasPublishing) {
      this.#syncRemote()
      this.#o.announce(this.announced)
    }
  }

  /** See RelayRoom.setRemoteSource. */
  setRemoteSource(source: string, ids: readonly string[]): void {
    if (this.#destroyed) return
    const next = new Set(ids)
    const until = this.#o.now() + REMOTE_LINGER_MS
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

  /** The room's state changed: remote publishers follow it, and publishers who lost their seat stop being forwarded. */
  onState(): void {
    this.#syncRemote()
    const fwd = this.#forwarder
    if (!fwd) return
    let changed = false
    for (const key of [...this.#publishing]) {
      const allowed = this.#o.mayPublish(key)
      if (allowed.ok) continue
      this.#publishing.delete(key)
      changed = true
      this.#o.events.revokedPublish()
      this.#o.log.info('relay stopped forwarding a speaker', { room: this.#o.discovery.slice(0, 12), key, why: allowed.message })
      void fwd.removePublisher(key)
      this.#o.peer(key)?.send({ type: 'unpublished', reason: allowed.reason })
    }
    if (changed) this.#o.announce(this.announced)
  }

  /** Closes the forwarder. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    if (this.#lingerTimer) clearTimeout(this.#lingerTimer)
    const fwd = this.#forwarder
    this.#forwarder = null
    await fwd?.close()
  }

  /** Brings the forwarder's remote publishers in line with what sources offer and our state allows. */
  #syncRemote(): void {
    if (this.#destroyed) return
    const want = new Set<string>()
    const now = this.#o.now()
    for (const [id, until] of this.#lingering) if (until <= now || this.#publishing.has(id)) this.#lingering.delete(id)
    const offered = [...this.#lingering.keys()]
    for (const ids of this.#offered.values()) offered.push(...ids)
    for (const id of offered) if (!this.#publishing.has(id) && this.#o.mayPublish(id).ok) want.add(id)
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
    if (changed) this.#o.announce(this.announced)
  }

  #ensureForwarder(): RoomForwarder {
    if (this.#forwarder) return this.#forwarder
    const o = this.#o
    const fwd = (o.forwarder ?? inThreadForwarder)({
      ...(o.peerConfig ? { peerConfig: o.peerConfig } : {}),
      now: o.now,
      onOffer: (id, offer) => o.peer(id)?.send({ type: 'offer', sdp: this.#filter(offer.sdp) }),
      onError: (err) => o.events.error(err),
      onPeerState: (id, role, state) => {
        if (state !== 'failed') return
        // One failure path: the client's socket is closed too, so it reconnects or falls back.
        o.log.warn('relay media connection failed', { room: o.discovery.slice(0, 12), key: id, role })
        o.peer(id)?.close(RelayCloseCode.MediaFailed, `${role} connection failed`)
      },
    })
    this.#forwarder = fwd
    return fwd
  }

  #filter(sdp: string): string {
    return this.#o.sdpFilter ? this.#o.sdpFilter(sdp) : sdp
  }
}
