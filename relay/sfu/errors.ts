/**
 * Misuse errors of the SFU forwarder. Each carries a stable `code`; callers
 * (the relay's signalling layer) map codes to replies without parsing text.
 */
import { CodedError } from '../../src/base/errors.ts'

export const SfuErrorCode = {
  /** A peer with this id already has this role. */
  DUPLICATE_PEER: 'sfu-duplicate-peer',
  /** No publisher / subscriber with this id. */
  UNKNOWN_PEER: 'sfu-unknown-peer',
  /** The id cannot be used as an SDP msid token. */
  BAD_ID: 'sfu-bad-id',
  /** A description is malformed, too large, or (publisher offers) not one audio section with Opus. */
  BAD_DESCRIPTION: 'sfu-bad-description',
  /** An answer arrived while the forwarder had no offer outstanding. */
  NO_PENDING_OFFER: 'sfu-no-pending-offer',
  /** The forwarder was closed. */
  CLOSED: 'sfu-closed',
} as const

export type SfuErrorCode = (typeof SfuErrorCode)[keyof typeof SfuErrorCode]

export class SfuError extends CodedError<SfuErrorCode> {}
