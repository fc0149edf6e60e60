/**
 * What each room problem means to a person and what they can do about it.
 * Blocking problems replace the room screen; the others show as banners.
 */
import type { RoomProblem } from '../../app/types.ts'

export type ProblemAction = 'home' | 'retry' | 'listen-only'

export interface ProblemText {
  title: string
  body: string
  /** Extra steps, shown as a list (mic permission). */
  steps?: string[]
  actions: ProblemAction[]
  /** Blocks the room screen (full-screen view) or shows as a banner. */
  blocking: boolean
}

const CODES = new Set<RoomProblem['code']>([
  'bad-link', 'wrong-secret', 'room-ended', 'banned', 'kicked', 'link-replaced', 'room-full', 'offline', 'mic-denied', 'unreachable',
])

export function isProblemCode(code: unknown): code is RoomProblem['code'] {
  return typeof code === 'string' && CODES.has(code as RoomProblem['code'])
}

/** Turns a rejection from `openRoom` (or anything else) into a problem to show. */
export function problemFromError(err: unknown): RoomProblem {
  const code = (err as { code?: unknown } | null)?.code
  const message = err instanceof Error ? err.message : String(err)
  return { code: isProblemCode(code) ? code : 'unreachable', message }
}

export function explain(problem: RoomProblem, modeReason?: string): ProblemText {
  switch (problem.code) {
    case 'bad-link':
      return {
        title: 'This link is not a room link',
        body: problem.message || 'Part of the link may be missing. Ask for the link again and paste all of it.',
        actions: ['home'],
        blocking: true,
      }
    case 'wrong-secret':
      return {
        title: 'This link does not open this room',
        body: 'The room exists, but the key in this link does not match it. The link may be old or mistyped. Ask for a fresh invite.',
        actions: ['home'],
        blocking: true,
      }
    case 'room-ended':
      return { title: 'This room has ended', body: 'The owner ended the room. Thanks for listening.', actions: ['home'], blocking: true }
    case 'banned':
      return { title: 'You cannot join this room', body: 'A moderator removed you from this room.', actions: ['home'], blocking: true }
    case 'kicked':
      return {
        title: 'You are out of this room for now',
        body: problem.message || 'A moderator removed you from this room for a while. You can come back when the time is up.',
        actions: ['retry', 'home'],
        blocking: true,
      }
    case 'link-replaced':
      return {
        title: 'This link was replaced',
        body: 'A moderator changed this room\'s key, and this link no longer opens it. Ask a moderator for a new link.',
        actions: ['home'],
        blocking: true,
      }
    case 'room-full':
      return {
        title: 'This room is full',
        body: modeReason || problem.message || 'There is no room for more listeners right now.',
        actions: ['retry', 'home'],
        blocking: true,
      }
    case 'unreachable':
      return {
        title: 'Could not reach this room',
        body: problem.message || 'Nobody in the room could be reached. Check your connection and try again.',
        actions: ['retry', 'home'],
        blocking: true,
      }
    case 'offline':
      return {
        title: 'You are offline',
        body: 'Showing what we last knew. Changes you make are kept and sent when you reconnect.',
        actions: [],
        blocking: false,
      }
    case 'mic-denied':
      return {
        title: 'Your microphone is blocked',
        body: 'Others cannot hear you until this page may use your microphone.',
        steps: [
          'Click the lock or settings icon next to the address bar.',
          'Set Microphone to Allow for this site.',
          'Come back and press Try again.',
        ],
        actions: ['retry', 'listen-only'],
        blocking: false,
      }
  }
}
