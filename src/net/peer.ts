/**
 * `Peer`: one RTCPeerConnection to one remote participant, from an injected WebRTC
 * implementation (`globalThis` in the browser, `@roamhq/wrtc` in Node).
 *
 * Negotiation follows the "perfect negotiation" pattern: either side may add or remove tracks at
 * any time; on an offer collision the impolite side ignores the incoming offer and the polite side
 * rolls back its own and answers. The caller decides who is polite (e.g. the larger public key),
 * and the two sides must disagree. Two departures from the textbook version, for @roamhq/wrtc:
 * offers and answers are created explicitly (no parameterless setLocalDescription, which also lets
 * us munge Opus settings in, see opus.ts) and rollback is explicit (no implicit rollback). All
 * negotiation steps and incoming signals run one at a time on a promise queue, so the signalling
 * state seen by each step is the state it acts on. And the polite side never makes the *first*
 * offer: it waits to be offered to. Rolling back a first offer whose m-lines differ from the
 * remote's (e.g. polite offered data only, impolite audio + data) leaves libwebrtc's negotiated
 * data channel bound to a discarded SCTP transport, and the channel closes on both ends (seen with
 * @roamhq/wrtc 0.10). Collisions after that first exchange are resolved by rollback as usual.
 *
 * Invariants:
 * - One negotiated data channel (id 0, ordered) carries binary room-state messages.
 * - Incoming signals are validated (peer-signal.ts); malformed ones are counted and dropped.
 * - Remote candidates arriving before a remote description are buffered (bounded, peer-candidates.ts).
 * - Connection loss ('failed', or 'disconnected' longer than the grace period) triggers ICE
 *   restarts with backoff; after `maxRestarts` failed attempts the peer is destroyed with
 *   'connection-lost'. The connection is never recreated here: that is the mesh's decision.
 * - Every transport failure ends in one `destroy(err)`: idempotent, clears every timer, detaches
 *   every listener, closes the connection, then emits `error` (if any) and `close` exactly once.
 *   Remote tracks still arriving get `trackended` first, while the connection is still open:
 *   @roamhq/wrtc can crash when an audio sink is detached from a track whose connection
 *   was already closed.
 *   Local tracks belong to the caller (they may be shared across peers) and are not stopped.
 */
import { TypedEmitter } from '../base/emitter.ts'
import { PeerError, PEER_ERRORS } from './peer-errors.ts'
import { parseSignal, type PeerSignal } from './peer-signal.ts'
import { summarizeStats, type PeerStats } from './peer-stats.ts'
import { mungeOpus, type OpusParams } from './opus.ts'
import { defaultBackoff, ReconnectPolicy } from './peer-reconnect.ts'
import { realTimers, type Timers } from '../base/timers.ts'
import type { PeerCounters, PeerEvents, PeerOptions } from './peer-api.ts'
import { RemoteCandidates } from './peer-candidates.ts'

export { PeerError, PEER_ERRORS, type PeerErrorCode } from './peer-errors.ts'
export type { PeerSignal, DescriptionSignal, CandidateSignal } from './peer-signal.ts'
export { isLoopbackCandidate, loopbackSdp } from './peer-signal.ts'
export type { PeerStats } from './peer-stats.ts'
export type { PeerWrtc, PeerOptions, PeerEvents, PeerCounters } from './peer-api.ts'

export class Peer extends TypedEmitter<PeerEvents> {
  readonly polite: boolean
  readonly counters: PeerCounters = { malformedSignals: 0, ignoredOffers: 0, staleAnswers: 0, failedCandidates: 0, filteredCandidates: 0, droppedMessages: 0, negotiations: 0, iceRestarts: 0 }

  #pc: RTCPeerConnection
  #dc: RTCDataChannel
  #timers: Timers
  #opus: Partial<OpusParams> | false
  #maxMessage: number

  #destroyed = false
  #connected = false
  #queue: Promise<void> = Promise.resolve()
  #candidates: RemoteCandidates
  #negotiationPending = false
  #iceRestartWanted = false
  #localOfferRestarts = false
  #lastState: RTCPeerConnectionState = 'new'
  #reconnect: ReconnectPolicy
  #connectTimer: unknown = null
  #senders = new Map<MediaStreamTrack, RTCRtpSender>()
  #remote = new Map<RTCRtpTransceiver, { track: MediaStreamTrack; stream: MediaStream | null }>()
  #unbind: Array<() => void> = []

  constructor(opts: PeerOptions) {
    super()
    if (!opts || typeof opts.wrtc?.RTCPeerConnection !== 'function') throw new PeerError(PEER_ERRORS.BAD_OPTIONS, 'opts.wrtc.RTCPeerConnection is required')
    if (typeof opts.polite !== 'boolean') throw new PeerError(PEER_ERRORS.BAD_OPTIONS, 'opts.polite must be a boolean')
    this.polite = opts.polite
    this.#timers = opts.timers ?? realTimers
    this.#opus = opts.opus ?? {}
    this.#maxMessage = opts.maxMessageBytes ?? 64 * 1024
    if (this.#opus) mungeOpus('', this.#opus) // validates the params now rather than at first offer
    const maxRestarts = opts.maxRestarts ?? 4
    this.#reconnect = new ReconnectPolicy(
      { timers: this.#timers, graceMs: opts.disconnectGraceMs ?? 2000, maxRestarts, backoff: opts.backoff ?? defaultBackoff },
      {
        restart: (attempt) => {
          this.counters.iceRestarts++
          this.emit('reconnecting', { attempt, maxAttempts: maxRestarts })
          if (!this.#destroyed) this.#requestIceRestart()
        },
        recovered: () => this.emit('reconnected'),
        giveUp: () => this.destroy(new PeerError(PEER_ERRORS.CONNECTION_LOST, `no connection after ${maxRestarts} ICE restarts`)),
      },
    )

    const pc = (this.#pc = new opts.wrtc.RTCPeerConnection(opts.config ?? { iceServers: [] }))
    this.#candidates = new RemoteCandidates(pc, this.counters, opts.acceptCandidate)
    this.#listen(pc, 'negotiationneeded', () => this.#enqueue(() => this.#negotiate()))
    this.#listen(pc, 'icecandidate', (e) => this.#onLocalCandidate(e as RTCPeerConnectionIceEvent))
    this.#listen(pc, 'connectionstatechange', () => this.#onConnectionState())
    this.#listen(pc, 'track', (e) => this.#onTrack(e as RTCTrackEvent))

    const dc = (this.#dc = pc.createDataChannel('stoop', { negotiated: true, id: 0, ordered: true }))
    dc.binaryType = 'arraybuffer'
    this.#listen(dc, 'open', () => this.#onOpen())
    this.#listen(dc, 'message', (e) => this.#onMessage(e as MessageEvent))
    this.#listen(dc, 'close', () => this.destroy(new PeerError(PEER_ERRORS.REMOTE_CLOSED, 'data channel closed')))

    const connectTimeout = opts.connectTimeoutMs ?? 30_000
    if (connectTimeout > 0) {
      this.#connectTimer = this.#timers.setTimeout(() => {
        this.#connectTimer = null
        this.destroy(new PeerError(PEER_ERRORS.CONNECT_TIMEOUT, `not connected after ${connectTimeout} ms`))
      }, connectTimeout)
    }
  }

  get destroyed(): boolean {
    return this.#destroyed
  }

  /** True once the data channel is open (and until destroy). */
  get connected(): boolean {
    return this.#connected && !this.#destroyed
  }

  get connectionState(): RTCPeerConnectionState {
    return this.#destroyed ? 'closed' : this.#pc.connectionState
  }

  /** Bytes queued on the data channel, for back-pressure. */
  get bufferedAmount(): number {
    return this.#destroyed ? 0 : this.#dc.bufferedAmount
  }

  /** Remote tracks currently being received. */
  get remoteTracks(): Array<{ track: MediaStreamTrack; stream: MediaStream | null }> {
    return [...this.#remote.values()]
  }

  /** Feeds a message from the remote's `signal` event. Malformed messages are counted and dropped. */
  signal(msg: unknown): void {
    if (this.#destroyed) return // late messages after close are normal, not misuse
    const sig = parseSignal(msg)
    if (!sig) {
      this.counters.malformedSignals++
      return
    }
    this.#enqueue(() => (sig.type === 'description' ? this.#onDescription(sig) : this.#candidates.receive(sig)))
  }

  /** Sends one binary message on the data channel. */
  send(bytes: Uint8Array): void {
    this.#assertAlive()
    if (!(bytes instanceof Uint8Array)) throw new PeerError(PEER_ERRORS.BAD_MESSAGE, 'send() takes a Uint8Array')
    if (bytes.byteLength > this.#maxMessage) throw new PeerError(PEER_ERRORS.MESSAGE_TOO_LARGE, `${bytes.byteLength} > ${this.#maxMessage} bytes`)
    if (this.#dc.readyState !== 'open') throw new PeerError(PEER_ERRORS.CHANNEL_NOT_OPEN, `data channel is ${this.#dc.readyState}`)
    // Some implementations send a view's whole underlying buffer: pass an exact copy instead.
    const exact = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()
    this.#dc.send(exact as Uint8Array<ArrayBuffer>)
  }

  /** Starts sending `track` (renegotiates). */
  addTrack(track: MediaStreamTrack, stream: MediaStream): void {
    this.#assertAlive()
    if (this.#senders.has(track)) throw new PeerError(PEER_ERRORS.TRACK_EXISTS, `track ${track.id} already added`)
    this.#senders.set(track, this.#pc.addTrack(track, stream))
  }

  /** Stops sending `track` (renegotiates). The track itself keeps running. */
  removeTrack(track: MediaStreamTrack): void {
    this.#assertAlive()
    const sender = this.#senders.get(track)
    if (!sender) throw new PeerError(PEER_ERRORS.UNKNOWN_TRACK, `track ${track.id} was not added`)
    this.#senders.delete(track)
    this.#pc.removeTrack(sender)
  }

  /** Restarts ICE now (e.g. after a network change); not counted against `maxRestarts`. */
  restartIce(): void {
    this.#assertAlive()
    this.#requestIceRestart()
  }

  /** RTT, jitter, loss and byte counts from the connection's stats. */
  async getStats(): Promise<PeerStats> {
    this.#assertAlive()
    const report = await this.#pc.getStats()
    return summarizeStats(report.values())
  }

  /**
   * Closes everything. Idempotent. With `err`, emits `error` first; a non-PeerError is wrapped
   * as 'aborted' with the original as `cause`.
   */
  destroy(err?: Error | null): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#reconnect.dispose()
    if (this.#connectTimer !== null) this.#timers.clearTimeout(this.#connectTimer)
    this.#connectTimer = null
    for (const off of this.#unbind) off()
    this.#unbind = []
    this.#candidates.clear()
    this.#senders.clear()
    const remote = [...this.#remote.values()]
    this.#remote.clear()
    for (const info of remote) this.emit('trackended', info.track, info.stream)
    this.#dc.close()
    this.#pc.close()
    const perr = err == null ? null : err instanceof PeerError ? err : new PeerError(PEER_ERRORS.ABORTED, err.message, { cause: err })
    if (perr) this.emit('error', perr)
    this.emit('close', perr)
    this.removeAllListeners()
  }

  // --- negotiation -------------------------------------------------------------------------

  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue
      .then(() => (this.#destroyed ? undefined : task()))
      .catch((err: unknown) => {
        if (this.#destroyed) return // the connection was closed under an in-flight step
        this.destroy(new PeerError(PEER_ERRORS.NEGOTIATION_FAILED, err instanceof Error ? err.message : String(err), { cause: err }))
      })
  }

  #munge(sdp: string | undefined): string {
    return this.#opus === false ? (sdp ?? '') : mungeOpus(sdp ?? '', this.#opus)
  }

  async #negotiate(): Promise<void> {
    const pc = this.#pc
    if (pc.signalingState !== 'stable' || (this.polite && !pc.remoteDescription)) {
      this.#negotiationPending = true // retried when we are back to stable (see header for polite)
      return
    }
    this.#negotiationPending = false
    const offer = await pc.createOffer(this.#iceRestartWanted ? { iceRestart: true } : {})
    if (this.#destroyed) return
    this.#localOfferRestarts = this.#iceRestartWanted
    this.#iceRestartWanted = false
    await pc.setLocalDescription({ type: 'offer', sdp: this.#munge(offer.sdp) })
    this.counters.negotiations++
    this.#emitLocalDescription()
  }

  async #onDescription(sig: Extract<PeerSignal, { type: 'description' }>): Promise<void> {
    const pc = this.#pc
    const collision = sig.sdpType === 'offer' && pc.signalingState !== 'stable'
    if (collision && !this.polite) {
      this.counters.ignoredOffers++
      return
    }
    if (sig.sdpType === 'answer' && pc.signalingState !== 'have-local-offer') {
      this.counters.staleAnswers++ // an answer to an offer we rolled back or already settled
      return
    }
    if (collision) await this.#rollback()
    await pc.setRemoteDescription({ type: sig.sdpType, sdp: this.#candidates.filterSdp(sig.sdp) })
    await this.#candidates.flush()
    if (sig.sdpType === 'offer') {
      const answer = await pc.createAnswer()
      if (this.#destroyed) return
      await pc.setLocalDescription({ type: 'answer', sdp: this.#munge(answer.sdp) })
      this.#emitLocalDescription()
    }
    this.#checkEndedTracks()
    if (this.#negotiationPending && pc.signalingState === 'stable') {
      if (this.#iceRestartWanted || offerNeeded(pc)) await this.#negotiate()
      else this.#negotiationPending = false
    }
  }

  /** Drops our unanswered offer; what it carried (new tracks, an ICE restart) is offered again. */
  async #rollback(): Promise<void> {
    await this.#pc.setLocalDescription({ type: 'rollback' })
    this.#negotiationPending = true
    if (this.#localOfferRestarts) this.#iceRestartWanted = true
    this.#localOfferRestarts = false
  }

  #emitLocalDescription(): void {
    const d = this.#pc.localDescription
    if (!d || this.#destroyed || (d.type !== 'offer' && d.type !== 'answer')) return
    this.emit('signal', { type: 'description', sdpType: d.type, sdp: d.sdp })
  }

  // --- ICE (remote candidates: peer-candidates.ts) -------------------------------------

  #onLocalCandidate(e: RTCPeerConnectionIceEvent): void {
    const c = e.candidate
    if (!c || !c.candidate || this.#destroyed) return // end-of-candidates is implied by trickle
    this.emit('signal', { type: 'candidate', candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null, usernameFragment: c.usernameFragment ?? null })
  }

  // --- connection loss ---------------------------------------------------------------------

  #onConnectionState(): void {
    if (this.#destroyed) return
    const state = this.#pc.connectionState
    if (state === this.#lastState) return // some implementations repeat the event
    this.#lastState = state
    this.emit('state', state)
    if (!this.#destroyed) this.#reconnect.update(state)
  }

  /**
   * Restarts ICE with `createOffer({ iceRestart: true })` rather than `pc.restartIce()`: the
   * latter also fires negotiationneeded, which would queue a second, redundant offer.
   */
  #requestIceRestart(): void {
    this.#iceRestartWanted = true
    this.#enqueue(async () => {
      // An offer still waiting for its answer may have been lost with the connection: replace it.
      if (this.#pc.signalingState === 'have-local-offer') await this.#rollback()
      if (this.#iceRestartWanted) await this.#negotiate()
    })
  }

  // --- data channel and tracks ---------------------------------------------------------------

  #onOpen(): void {
    if (this.#connected || this.#destroyed) return
    this.#connected = true
    if (this.#connectTimer !== null) this.#timers.clearTimeout(this.#connectTimer)
    this.#connectTimer = null
    this.emit('connect')
  }

  #onMessage(e: MessageEvent): void {
    const d: unknown = e.data
    if (d instanceof ArrayBuffer) this.emit('data', new Uint8Array(d))
    else if (ArrayBuffer.isView(d)) this.emit('data', new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)))
    else this.counters.droppedMessages++ // text frames are not part of the protocol
  }

  #onTrack(e: RTCTrackEvent): void {
    if (this.#destroyed) return
    const stream = e.streams[0] ?? null
    this.#remote.set(e.transceiver, { track: e.track, stream })
    this.emit('track', e.track, stream)
  }

  /** After each exchange: remote tracks whose transceiver no longer receives have ended. */
  #checkEndedTracks(): void {
    for (const [tr, info] of this.#remote) {
      const dir = tr.currentDirection
      if (dir === 'sendonly' || dir === 'inactive' || dir === 'stopped') {
        this.#remote.delete(tr)
        this.emit('trackended', info.track, info.stream)
      }
    }
  }

  #assertAlive(): void {
    if (this.#destroyed) throw new PeerError(PEER_ERRORS.DESTROYED, 'peer destroyed')
  }

  #listen(target: EventTarget, type: string, fn: (e: Event) => void): void {
    target.addEventListener(type, fn)
    this.#unbind.push(() => target.removeEventListener(type, fn))
  }
}

/**
 * Whether an offer would change what the last exchange settled: a transceiver not yet in a
 * description, one whose wanted direction differs from the negotiated one, or no SCTP transport
 * yet for the data channel. A pending offer that the remote's own offer already covered is
 * skipped: it only invites a collision and a rollback, and after a rollback Chromium stops passing
 * the receiver's frames through its encoded transform, so E2EE audio from that peer is lost
 * (seen with a werift peer, test/e2e/werift-e2ee.test.ts). An implementation without these
 * fields always offers, as before.
 */
function offerNeeded(pc: RTCPeerConnection): boolean {
  if (typeof pc.getTransceivers !== 'function' || !('sctp' in pc) || pc.sctp === null) return true
  return pc.getTransceivers().some((t) => t.currentDirection !== 'stopped' && (t.mid === null || t.currentDirection !== t.direction))
}
