/**
 * RelayClient: one participant's connection to a relay (SFU) for one room, in
 * the browser and in Node (@roamhq/wrtc): the WebSocket class and the WebRTC
 * implementation are passed in.
 *
 *   const relay = new RelayClient({ WebSocket, wrtc })
 *   await relay.connect('wss://relay.example/relay', roomId, identity)
 *   attachSync(doc, awareness, relay.link, { acceptUpdate })   // room state through the relay (star)
 *   relay.on('track', (publisherId, track, stream) => ...)     // play only if a speaker in *your* state
 *   await relay.subscribe()                                    // hear every publisher but yourself
 *   await relay.publish(track, stream)                         // refused unless you are on stage
 *   relay.on('close', (err) => fallBackToMesh(err))            // relay gone, bye, or a media failure
 *   relay.destroy()
 *
 * Media: two RTCPeerConnections, because the relay (relay/sfu) keeps
 * publishing and subscribing apart. Publishing: this side offers one sendonly
 * Opus section, non-trickle (candidates in the SDP), the relay answers or
 * refuses. Subscribing: the relay offers one sendonly section per forwarded
 * publisher (MediaStream id = publisher id), this side answers; the relay
 * renegotiates as publishers come and go, reusing sections (a reused section
 * fires 'track' again, same track, new publisher id).
 *
 * The relay decides who may publish from the room log it holds, and the log
 * reaches it through `link` (sync): `publish()` therefore waits until this
 * side's sync step 2 has gone out when sync was started, so the relay sees the
 * entries that put this key on stage before the request.
 *
 * Invariants: misuse throws a RelayError at once (`bad-state`, `destroyed`);
 * transport failures (socket closed, relay `bye`, a media connection failing)
 * go through one `destroy(err)` that emits `error` then `close` exactly once;
 * `destroy()` is idempotent and closes both connections, the socket and the
 * link. Local tracks belong to the caller and are not stopped.
 */
import { deriveDiscoveryKey, type MembershipKey } from '../room/index.ts'
import { fromBase64url, type Identity } from '../identity/index.ts'
import { TypedEmitter } from '../base/emitter.ts'
import { mungeOpus, type OpusParams } from './opus.ts'
import type { PeerWrtc } from './peer.ts'
import type { Link } from './link.ts'
import type { RefuseReason, RelayMessage } from './relay-protocol.ts'
import { RELAY_ERRORS, RelayError, RelaySocket, type RelayTimers, type RelayWebSocketClass } from './relay-socket.ts'
import { realTimers } from '../base/timers.ts'

export { RelayError, RELAY_ERRORS, type RelayErrorCode, type RelayWebSocketClass } from './relay-socket.ts'

export interface RelayClientOptions {
  WebSocket: RelayWebSocketClass
  wrtc: PeerWrtc
  /** Passed to both RTCPeerConnections. Default: no ICE servers. */
  rtcConfig?: RTCConfiguration
  /** Applied to every SDP this side sends (tests keep loopback candidates only). */
  sdpFilter?: (sdp: string) => string
  /** Opus settings for the published stream (see opus.ts), or false to leave the SDP alone. */
  opus?: Partial<OpusParams> | false
  /** connect() gives up after this long. Default 10 s. */
  connectTimeoutMs?: number
  /** publish()/subscribe() give up waiting for the relay after this long. Default 15 s. */
  requestTimeoutMs?: number
  /** How long ICE gathering may take before the description is sent as is. Default 3 s. */
  gatherTimeoutMs?: number
  /** publish() waits this long at most for this side's room log to reach the relay. Default 5 s. */
  syncWaitMs?: number
  pingIntervalMs?: number
  timers?: RelayTimers
  /** The room's membership key as we know it now (docs/room-rules.md §8); relays ask for proof of it. */
  member?: () => MembershipKey | null
  /** A relay's epoch handoff (we proved an older epoch): the entries, for the epoch keeper. */
  onHandoff?: (entries: Uint8Array[]) => void
}

export interface RelayClientEvents {
  /** A forwarded publisher's audio started (or a reused section now carries another publisher). */
  track: (publisherId: string, track: MediaStreamTrack, stream: MediaStream | null) => void
  /** The relay stopped forwarding that publisher to us. */
  'track-ended': (publisherId: string, track: MediaStreamTrack) => void
  /** Who the relay forwards in this room now (speakers validated by the relay, self included if publishing). */
  publishers: (ids: readonly string[]) => void
  /** The relay stopped forwarding our audio (`not-speaker`: moved to the audience). */
  unpublished: (reason: string) => void
  error: (err: RelayError) => void
  /** Last event; null after a plain destroy(). */
  close: (err: RelayError | null) => void
}

interface Pending {
  resolve: (msg: RelayMessage) => void
  reject: (err: RelayError) => void
  timer: unknown
}


export class RelayClient extends TypedEmitter<RelayClientEvents> {
  readonly #opts: RelayClientOptions
  readonly #timers: RelayTimers
  readonly #socket: RelaySocket
  #connected = false
  #destroyed = false
  #pub: RTCPeerConnection | null = null
  #sub: RTCPeerConnection | null = null
  #subQueue: Promise<void> = Promise.resolve()
  #publishers: readonly string[] = []
  #onRelayAtWelcome = false
  /** Transceiver -> the publisher it carries now and its track. */
  #remote = new Map<RTCRtpTransceiver, { id: string; track: MediaStreamTrack }>()
  #waiting = new Map<string, Pending>()

  constructor(opts: RelayClientOptions) {
    super()
    if (typeof opts?.WebSocket !== 'function') throw new RelayError(RELAY_ERRORS.BAD_STATE, 'opts.WebSocket is required')
    if (typeof opts.wrtc?.RTCPeerConnection !== 'function') throw new RelayError(RELAY_ERRORS.BAD_STATE, 'opts.wrtc.RTCPeerConnection is required')
    this.#opts = opts
    this.#timers = opts.timers ?? realTimers
    this.#socket = new RelaySocket({
      WebSocket: opts.WebSocket,
      ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      ...(opts.pingIntervalMs !== undefined ? { pingIntervalMs: opts.pingIntervalMs } : {}),
      timers: this.#timers,
    })
  }

  /** Connects and authenticates. Rejects with a RelayError (`relay-unreachable`, `relay-refused`, `auth-failed`, `timeout`). */
  async connect(url: string, roomId: string, identity: Identity): Promise<void> {
    this.#assertAlive()
    if (this.#connected) throw new RelayError(RELAY_ERRORS.BAD_STATE, 'connect() called twice')
    this.#socket.on('message', (msg) => this.#onMessage(msg))
    this.#socket.on('close', (err) => this.destroy(err))
    await this.#socket.connect(url, deriveDiscoveryKey(roomId), identity, this.#opts.member ? { member: this.#opts.member } : {})
    this.#connected = true
    this.#publishers = this.#socket.initialPublishers
    this.#onRelayAtWelcome = this.#publishers.length > 0 || this.#socket.initialSubscribers > 0
  }

  /** Room sync over the relay (a star): attach `attachSync` with the room guard. */
  get link(): Link {
    return this.#socket.link
  }

  get connected(): boolean {
    return this.#connected && !this.#destroyed
  }

  get destroyed(): boolean {
    return this.#destroyed
  }

  get publishing(): boolean {
    return this.#pub !== null
  }

  /** Publishers the relay forwards in this room, as last reported. */
  get publishers(): readonly string[] {
    return this.#publishers
  }

  /**
   * Whether the relay said at welcome that the room runs through it (it forwarded someone's
   * audio, or to someone): the room is past mesh size, and a joiner goes straight there.
   */
  get roomOnRelay(): boolean {
    return this.#onRelayAtWelcome
  }

  /** The publish and subscribe connections (for stats); null when not in use. */
  get connections(): { publish: RTCPeerConnection | null; subscribe: RTCPeerConnection | null } {
    return { publish: this.#pub, subscribe: this.#sub }
  }

  /**
   * Sends `track` to the relay. Resolves when the relay accepted it; rejects with
   * `publish-refused` (`err.reason`: `not-speaker`, `no-room-state`, `bad-offer`...).
   */
  async publish(track: MediaStreamTrack, stream: MediaStream): Promise<void> {
    this.#assertReady()
    if (this.#pub) throw new RelayError(RELAY_ERRORS.BAD_STATE, 'already publishing (unpublish first)')
    const pc = (this.#pub = this.#newConnection())
    try {
      pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] })
      const offer = await pc.createOffer()
      const sdp = this.#opts.opus === false ? (offer.sdp ?? '') : mungeOpus(offer.sdp ?? '', this.#opts.opus ?? {})
      await pc.setLocalDescription({ type: 'offer', sdp })
      await this.#gathered(pc)
      await this.#logReachedRelay()
      this.#assertReady()
      const reply = await this.#request('publish', { type: 'publish', sdp: this.#filter(pc.localDescription!.sdp) })
      if (reply.type === 'refused') {
        throw new RelayError(RELAY_ERRORS.PUBLISH_REFUSED, `the relay refused to forward this stream: ${reply.message}`, { reason: reply.reason })
      }
      if (reply.type !== 'published') throw new RelayError(RELAY_ERRORS.BAD_STATE, `unexpected ${reply.type}`)
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp })
    } catch (err) {
      if (this.#pub === pc) this.#pub = null
      pc.close()
      throw err
    }
  }

  /** Stops sending to the relay. Idempotent. */
  unpublish(): void {
    if (this.#destroyed || !this.#pub) return
    this.#pub.close()
    this.#pub = null
    this.#socket.send({ type: 'unpublish' })
  }

  /**
   * Starts receiving every publisher of the room but this client ('track' events). Idempotent.
   * With `standby` the connection and its tracks are set up but the relay forwards nothing
   * (a failover reserve); a later plain `subscribe()` starts the audio within one round trip.
   */
  async subscribe(opts: { standby?: boolean } = {}): Promise<void> {
    this.#assertReady()
    const reply = await this.#request('subscribe', { type: 'subscribe', ...(opts.standby ? { standby: true as const } : {}) })
    if (reply.type === 'refused') throw new RelayError(RELAY_ERRORS.REFUSED, `the relay refused the subscription: ${reply.message}`, { reason: reply.reason })
  }

  /** Stops receiving (the subscriber connection is closed). */
  unsubscribe(): void {
    if (this.#destroyed || !this.#connected) return
    this.#socket.send({ type: 'unsubscribe' })
    this.#closeSubscriber()
  }

  /**
   * Closes everything. Idempotent. With `err`, emits `error` first. Tracks still arriving
   * get `track-ended` before their connection closes (see `Peer.destroy` for why).
   */
  destroy(err?: RelayError | null): void {
    if (this.#destroyed) return
    // Marked first: a 'track-ended' listener may call destroy() again (a re-plan that leaves the relay).
    this.#destroyed = true
    const remote = [...this.#remote.values()]
    this.#remote.clear()
    for (const info of remote) this.emit('track-ended', info.id, info.track)
    for (const [key, p] of this.#waiting) {
      this.#timers.clearTimeout(p.timer)
      p.reject(err ?? new RelayError(RELAY_ERRORS.DESTROYED, `destroyed while waiting for ${key}`))
    }
    this.#waiting.clear()
    this.#pub?.close()
    this.#pub = null
    this.#closeSubscriber()
    this.#socket.destroy(err ?? null)
    if (err) this.emit('error', err)
    this.emit('close', err ?? null)
    this.removeAllListeners()
  }

  // ---- internals ------------------------------------------------------------------------

  #onMessage(msg: RelayMessage): void {
    switch (msg.type) {
      case 'published':
        return this.#settle('publish', msg)
      case 'subscribed':
        return this.#settle('subscribe', msg)
      case 'handoff':
        return this.#opts.onHandoff?.(msg.entries.map(fromBase64url).filter((b) => b !== null))
      case 'refused':
        if (msg.op === 'answer') return this.destroy(new RelayError(RELAY_ERRORS.MEDIA_FAILED, `the relay refused our answer: ${msg.message}`, { reason: msg.reason }))
        return this.#settle(msg.op, msg)
      case 'offer':
        this.#subQueue = this.#subQueue.then(() => this.#answer(msg.sdp)).catch((err: unknown) => {
          this.destroy(new RelayError(RELAY_ERRORS.MEDIA_FAILED, 'answering the relay failed', { cause: err }))
        })
        return
      case 'publishers':
        this.#publishers = msg.ids
        this.emit('publishers', msg.ids)
        return
      case 'unpublished':
        if (this.#pub) {
          this.#pub.close()
          this.#pub = null
        }
        this.emit('unpublished', msg.reason)
        return
      default:
        return
    }
  }

  async #answer(sdp: string): Promise<void> {
    if (this.#destroyed) return
    const pc = (this.#sub ??= this.#newSubscriber())
    await pc.setRemoteDescription({ type: 'offer', sdp })
    await pc.setLocalDescription(await pc.createAnswer())
    await this.#gathered(pc)
    if (this.#destroyed || this.#sub !== pc) return
    this.#socket.send({ type: 'answer', sdp: this.#filter(pc.localDescription!.sdp) })
    this.#checkEnded()
  }

  #newSubscriber(): RTCPeerConnection {
    const pc = this.#newConnection()
    pc.addEventListener('track', (ev) => {
      const e = ev as RTCTrackEvent
      if (this.#sub !== pc) return
      const stream = e.streams[0] ?? null
      const id = stream?.id ?? e.track.id
      this.#remote.set(e.transceiver, { id, track: e.track })
      this.emit('track', id, e.track, stream)
    })
    return pc
  }

  /** After each exchange: sections that no longer receive have ended. */
  #checkEnded(): void {
    for (const [tr, info] of this.#remote) {
      const dir = tr.currentDirection
      if (dir === 'inactive' || dir === 'sendonly' || dir === 'stopped') {
        this.#remote.delete(tr)
        this.emit('track-ended', info.id, info.track)
      }
    }
  }

  #closeSubscriber(): void {
    const pc = this.#sub
    this.#sub = null
    if (!pc) return
    for (const info of this.#remote.values()) if (!this.#destroyed) this.emit('track-ended', info.id, info.track)
    this.#remote.clear()
    pc.close()
  }

  #newConnection(): RTCPeerConnection {
    const pc = new this.#opts.wrtc.RTCPeerConnection(this.#opts.rtcConfig ?? { iceServers: [] })
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed' && (pc === this.#pub || pc === this.#sub)) {
        this.destroy(new RelayError(RELAY_ERRORS.MEDIA_FAILED, `the ${pc === this.#pub ? 'publish' : 'subscribe'} connection to the relay failed`))
      }
    })
    return pc
  }

  #filter(sdp: string): string {
    return this.#opts.sdpFilter ? this.#opts.sdpFilter(sdp) : sdp
  }

  /** Non-trickle: wait for ICE gathering (bounded), then the local description carries the candidates. */
  #gathered(pc: RTCPeerConnection): Promise<void> {
    if (pc.iceGatheringState === 'complete') return Promise.resolve()
    return new Promise<void>((ok) => {
      const done = () => {
        pc.removeEventListener('icegatheringstatechange', check)
        this.#timers.clearTimeout(timer)
        ok()
      }
      const check = () => {
        if (pc.iceGatheringState === 'complete') done()
      }
      const timer = this.#timers.setTimeout(done, this.#opts.gatherTimeoutMs ?? 3000)
      pc.addEventListener('icegatheringstatechange', check)
    })
  }

  /** If sync was started on the link, wait (bounded) until our log went out, so the relay can validate us. */
  async #logReachedRelay(): Promise<void> {
    const link = this.#socket.link
    if (!link.startedSync || link.pushed) return
    let timer: unknown
    await Promise.race([link.whenPushed, new Promise<void>((ok) => (timer = this.#timers.setTimeout(ok, this.#opts.syncWaitMs ?? 5000)))])
    this.#timers.clearTimeout(timer)
  }

  #request(op: 'publish' | 'subscribe', msg: Parameters<RelaySocket['send']>[0]): Promise<RelayMessage> {
    if (this.#waiting.has(op)) return Promise.reject(new RelayError(RELAY_ERRORS.BAD_STATE, `a ${op} request is already waiting`))
    return new Promise<RelayMessage>((resolve, reject) => {
      const ms = this.#opts.requestTimeoutMs ?? 15_000
      const timer = this.#timers.setTimeout(() => {
        this.#waiting.delete(op)
        reject(new RelayError(RELAY_ERRORS.TIMEOUT, `no answer to ${op} after ${ms} ms`))
      }, ms)
      this.#waiting.set(op, { resolve, reject, timer })
      if (!this.#socket.send(msg)) this.#settle(op, { type: 'refused', op, reason: 'internal' as RefuseReason, message: 'socket not open' })
    })
  }

  #settle(op: string, msg: RelayMessage): void {
    const p = this.#waiting.get(op)
    if (!p) return
    this.#waiting.delete(op)
    this.#timers.clearTimeout(p.timer)
    p.resolve(msg)
  }

  #assertAlive(): void {
    if (this.#destroyed) throw new RelayError(RELAY_ERRORS.DESTROYED, 'relay client destroyed')
  }

  #assertReady(): void {
    this.#assertAlive()
    if (!this.#connected) throw new RelayError(RELAY_ERRORS.BAD_STATE, 'not connected (call connect() first)')
  }
}
