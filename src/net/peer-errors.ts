/**
 * Error codes of `Peer`. Misuse throws a `PeerError` at once; transport failures arrive once,
 * through `destroy(err)`, as the `error` event and the argument of `close`.
 */
import { CodedError } from '../base/errors.ts'

export const PEER_ERRORS = {
  /** Method called after `destroy()`. */
  DESTROYED: 'destroyed',
  /** `send()` before the data channel opened or after it closed. */
  CHANNEL_NOT_OPEN: 'channel-not-open',
  /** `send()` of more than `MAX_MESSAGE_BYTES`. */
  MESSAGE_TOO_LARGE: 'message-too-large',
  /** `send()` of something other than a Uint8Array. */
  BAD_MESSAGE: 'bad-message',
  /** `addTrack()` of a track already sent on this peer. */
  TRACK_EXISTS: 'track-exists',
  /** `removeTrack()` of a track not sent on this peer. */
  UNKNOWN_TRACK: 'unknown-track',
  /** Invalid constructor options. */
  BAD_OPTIONS: 'bad-options',
  /** ICE restarts did not bring the connection back. */
  CONNECTION_LOST: 'connection-lost',
  /** Never connected within `connectTimeoutMs`. */
  CONNECT_TIMEOUT: 'connect-timeout',
  /** Creating or applying an offer/answer failed. */
  NEGOTIATION_FAILED: 'negotiation-failed',
  /** The remote side closed the connection (its data channel closed). */
  REMOTE_CLOSED: 'remote-closed',
  /** `destroy(err)` called by the owner with an error that was not a PeerError (kept as `cause`). */
  ABORTED: 'aborted',
} as const

export type PeerErrorCode = (typeof PEER_ERRORS)[keyof typeof PEER_ERRORS]

export class PeerError extends CodedError<PeerErrorCode> {
  constructor(code: PeerErrorCode, message?: string, options?: { cause?: unknown }) {
    super(code, message ?? code, options)
  }
}
