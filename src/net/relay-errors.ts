/**
 * The errors of the relay client (relay-socket.ts, relay-client.ts): a typed code,
 * and the relay's own reason string when it gave one. Kept apart from
 * relay-socket.ts so that file reads as the connection itself; both re-export them.
 */
import { CodedError } from '../base/errors.ts'

export const RELAY_ERRORS = {
  /** The socket did not open, or closed before `welcome`. */
  UNREACHABLE: 'relay-unreachable',
  /** The relay refused the connection (full, bad version...); `reason` says which. */
  REFUSED: 'relay-refused',
  /** The relay refused our signature, or its challenge named another host. */
  AUTH_FAILED: 'auth-failed',
  /** No answer in time. */
  TIMEOUT: 'timeout',
  /** The socket closed after `welcome`. */
  CLOSED: 'relay-closed',
  /** The relay said `bye` (shutting down): move to another relay or the mesh. */
  BYE: 'relay-bye',
  /** The relay refused a publish (e.g. `not-speaker`). */
  PUBLISH_REFUSED: 'publish-refused',
  /** A media connection to the relay failed. */
  MEDIA_FAILED: 'media-failed',
  /** Misuse: called after destroy. */
  DESTROYED: 'destroyed',
  /** Misuse: wrong order (publish twice, connect twice...). */
  BAD_STATE: 'bad-state',
} as const
export type RelayErrorCode = (typeof RELAY_ERRORS)[keyof typeof RELAY_ERRORS]

export class RelayError extends CodedError<RelayErrorCode> {
  /** The relay's reason string, when it gave one (`not-speaker`, `shutdown`...). */
  readonly reason: string | undefined
  constructor(code: RelayErrorCode, message: string, options?: { reason?: string; cause?: unknown }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.reason = options?.reason
  }
}
