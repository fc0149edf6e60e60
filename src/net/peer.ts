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
 * - Remote candidates arriving before a remote description are buffered (bounded).
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

export { PeerError, PEER_ERRORS, type PeerErrorCode } from './peer-errors.ts'
export type { PeerSignal, DescriptionSignal, CandidateSignal } from './peer-signal.ts'
export { isLoopbackCandidate, loopbackSdp } from './peer-signal.ts'
export type { PeerStats } from './peer-stats.ts'

/** The part of a WebRTC implementation a Peer needs. */
export interface PeerWrtc {
  RTCPeerConnection: new (config?: RTCConfiguration) => RTCPeerConnection
}

export interface PeerOptions {
  wrtc: PeerWrtc
  /** Exactly one side of each pair must be polite. */
  polite: boolean
  /** Passed to RTCPeerConnection. Default: no ICE servers (host candidates only). */
  config?: RTCConfiguration
  /** Opus settings merged over VOICE_OPUS, or false to leave SDP untouched. */
  opus?: Partial<OpusParams> | false
  /** How long 'disconnected' may last before an ICE restart. Default 2000 ms. */
  disconnectGraceMs?: number
  /** ICE restart attempts before giving up with 'connection-lost'. Default 4. */
  maxRestarts?: number
  /** Wait after restart attempt `n` (1-based) before the next one. Default 1 s, 2 s, 4 s ... capped at 16 s. */
  backoff?: (attempt: number) => number
  /** Destroy with 'connect-timeout' if the data channel has not opened by then. Default 30 s; 0 disables. */
  connectTimeoutMs?: number
  /** Largest `send()` payload. Default 64 KiB (well under SCTP's 256 KiB limit in all browsers). */
  maxMessageBytes?: number
  timers?: Timers
  /**
   * Remote ICE candidates for which this returns false are ignored (counted in
   * `filteredCandidates`), e.g. `isLoopbackCandidate` to keep local tests and
   * benches on 127.0.0.1. Default: accept all.
   */
  acceptCandidate?: (candidate: string) => boolean
}

export interface PeerEvents {
  /** Send this to the remote peer's `signal()`. */
  signal: (msg: PeerSignal) => void
  /** The data channel opened (once per Peer). */
  connect: () => void
  data: (bytes: Uint8Array) => void
  /** A remote track started arriving; `stream` is the remote's stream for it (or null). */
  track: (track: MediaStreamTrack, stream: MediaStream | null) => void
  /** A remote track stopped being sent (the remote removed it). */
  trackended: (track: MediaStreamTrack, stream: MediaStream | null) => void
  /** RTCPeerConnection.connectionState changes. */
  state: (state: RTCPeerConnectionState) => void
  reconnecting: (info: { attempt: number; maxAttempts: number }) => void
  reconnected: () => void
  error: (err: PeerError) => void
  /** Last event; `err` is null after a plain `destroy()`. */
  close: (err: PeerError | null) => void
}

export interface PeerCounters {
  malformedSignals: number
  ignoredOffers: number
  staleAnswers: number
  failedCandidates: number
  filteredCandidates: number
  droppedMessages: number
  negotiations: number
  iceRestarts: number
}

const MAX_PENDING_CANDIDATES = 256

export class Peer extends TypedEmitter<PeerEvents> {
  readonly polite: boolean
  readonly counters: PeerCounters = { malformedSignals: 0, ignoredOffers: 0, staleAnswers: 0, failedCandidates: 0, filteredCandidates: 0, droppedMessages: 0, negotiations: 0, iceRestarts: 0 }

  #pc: RTCPeerConnection
  #dc: RTCDataChannel
  #timers: Timers
  #acceptCandidate: ((candidate: string) => boolean) | undefined
  #opus: Partial<OpusParams> | false
  #maxMessage: number

  #destroyed = false
  #connected = false
  #queue: Promise<void> = Promise.resolve()
  #pendingCandidates: RTCIceCandidateInit[] = []
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
    this.#acceptCandidate = opts.acceptCandidate
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
    this.#enqueue(() => (sig.type === 'description' ? this.#onDescription(sig) : this.#onRemoteCandidate(sig)))
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
    this.#pendingCandidates = []
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
    await pc.setRemoteDescription({ type: sig.sdpType, sdp: sig.sdp })
    await this.#flushCandidates()
    if (sig.sdpType === 'offer') {
      const answer = await pc.createAnswer()
      if (this.#destroyed) return
      await pc.setLocalDescription({ type: 'answer', sdp: this.#munge(answer.sdp) })
      this.#emitLocalDescription()
    }
    this.#checkEndedTracks()
    if (this.#negotiationPending && pc.signalingState === 'stable') await this.#negotiate()
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

  // --- ICE -------------------------------------------------------------------------------

  #onLocalCandidate(e: RTCPeerConnectionIceEvent): void {
    const c = e.candidate
    if (!c || !c.candidate || this.#destroyed) return // end-of-candidates is implied by trickle
    this.emit('signal', { type: 'candidate', candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null, usernameFragment: c.usernameFragment ?? null })
  }

  async #onRemoteCandidate(sig: Extract<PeerSignal, { type: 'candidate' }>): Promise<void> {
    if (sig.candidate !== '' && this.#acceptCandidate && !this.#acceptCandidate(sig.candidate)) {
      this.counters.filteredCandidates++
      return
    }
    const init: RTCIceCandidateInit = { candidate: sig.candidate }
    if (sig.sdpMid !== null) init.sdpMid = sig.sdpMid
    if (sig.sdpMLineIndex !== null) init.sdpMLineIndex = sig.sdpMLineIndex
    if (sig.usernameFragment !== null) init.usernameFragment = sig.usernameFragment
    if (!this.#pc.remoteDescription) {
      if (this.#pendingCandidates.length < MAX_PENDING_CANDIDATES) this.#pendingCandidates.push(init)
      else this.counters.failedCandidates++
      return
    }
    await this.#addCandidate(init)
  }

  async #addCandidate(init: RTCIceCandidateInit): Promise<void> {
    try {
      await this.#pc.addIceCandidate(init)
    } catch (err) {
      // Expected for candidates of an offer we ignored or of a superseded ICE generation; a bad
      // candidate must not take the connection down, so count it and carry on.
      this.counters.failedCandidates++
      void err
    }
  }

  async #flushCandidates(): Promise<void> {
    const pending = this.#pendingCandidates
    this.#pendingCandidates = []
    for (const c of pending) await this.#addCandidate(c)
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
