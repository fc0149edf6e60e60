import { CodedError } from '../base/errors.ts'
import type { RoomProblem } from './types.ts'

/** Why a room could not be opened, as the UI shows it (RoomProblem codes). */
export type SessionError = CodedError<RoomProblem['code']>

export function sessionError(code: RoomProblem['code'], message: string, cause?: unknown): SessionError {
  return new CodedError(code, message, cause === undefined ? undefined : { cause })
}
