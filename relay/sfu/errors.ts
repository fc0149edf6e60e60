/**
 * Misuse errors of the SFU forwarder. Each carries a stable `code`; callers
 * (the relay's signalling layer) map codes to replies without parsing text.
 */

export const SfuErrorCode = {
  /** A peer with this id already has this role. */
  DUPLICATE_PEER: 'SFU_DUPLICATE_PEER',
  /** No publisher / subscriber with this id. */
  UNKNOWN_PEER: 'SFU_UNKNOWN_PEER',
  /** The id cannot be used as an SDP msid token. */
  BAD_ID: 'SFU_BAD_ID',
  /** A description is malformed, too large, or (publisher offers) not one audio section with Opus. */
  BAD_DESCRIPTION: 'SFU_BAD_DESCRIPTION',
  /** An answer arrived while the forwarder had no offer outstanding. */
  NO_PENDING_OFFER: 'SFU_NO_PENDING_OFFER',
  /** The forwarder was closed. */
  CLOSED: 'SFU_CLOSED',
} as const

export type SfuErrorCode = (typeof SfuErrorCode)[keyof typeof SfuErrorCode]

export class SfuError extends Error {
  readonly code: SfuErrorCode

  constructor(code: SfuErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options)
    this.name = 'SfuError'
    this.code = code
  }
}
