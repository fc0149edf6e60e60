/**
 * The outside of a Peer (peer.ts): what it is built from, the events it emits and
 * what it counts, kept apart from peer.ts so the negotiation there reads on its own.
 */
import type { PeerError } from './peer-errors.ts'
import type { PeerSignal } from './peer-signal.ts'
import type { OpusParams } from './opus.ts'
import type { Timers } from '../base/timers.ts'

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
