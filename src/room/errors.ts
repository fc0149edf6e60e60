/**
 * Errors and reason codes of the room model.
 *
 * Two channels: misuse of the actor API throws a `RoomError` with a stable
 * `code` at once; entries that fail validation are never thrown about, they
 * are ignored by every reader and counted by `RejectReason`.
 */
import { CodedError } from '../base/errors.ts'

/** Why an entry in the log does not count. Every reader computes the same reason for the same entry set. */
export type RejectReason =
  | 'malformed'
  | 'bad-signature'
  | 'wrong-room'
  | 'future-time'
  | 'backdated'
  | 'no-authority'
  | 'revoked'
  | 'unknown-reference'
  | 'expired'
  | 'used'
  | 'room-ended'
  | 'banned'
  | 'duplicate'
  | 'kicked'
  | 'rate-limited'

export const REJECT_REASONS: readonly RejectReason[] = [
  'malformed',
  'bad-signature',
  'wrong-room',
  'future-time',
  'backdated',
  'no-authority',
  'revoked',
  'unknown-reference',
  'expired',
  'used',
  'room-ended',
  'banned',
  'duplicate',
  'kicked',
  'rate-limited',
]

/** A zeroed counter per reason. */
export function emptyRejectCounts(): Record<RejectReason, number> {
  const out = {} as Record<RejectReason, number>
  for (const r of REJECT_REASONS) out[r] = 0
  return out
}

/** Stable codes thrown by the actor API when an action cannot be valid. */
export type RoomErrorCode =
  | 'not-owner'
  | 'not-moderator'
  | 'not-in-room'
  | 'room-ended'
  | 'banned'
  | 'already-on-stage'
  | 'not-on-stage'
  | 'no-invite'
  | 'hand-not-raised'
  | 'hand-already-raised'
  | 'cannot-target-owner'
  | 'cannot-target-moderator'
  | 'unknown-target'
  | 'bad-argument'
  | 'bad-grant'
  | 'expired'
  | 'not-ready'
  /** Free text cannot be sealed: this member does not hold the room's current epoch secret (yet). */
  | 'no-epoch-secret'
  /** Chat and moderation (docs/room-rules.md §10). */
  | 'kicked'
  | 'rate-limited'
  | 'too-early'
  | 'too-long'

export class RoomError extends CodedError<RoomErrorCode> {}
