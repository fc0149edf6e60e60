/**
 * Chat in the room screen: the composer's limit and the window of messages rendered.
 * The room model has the last word on length and rate (docs/room-rules.md §10); the
 * UI keeps its own copy of the length so the home screen's bundle does not load the model.
 */
import type { ChatLine } from '../../app/types.ts'

/** The model's MAX_CHAT_CHARS. */
export const CHAT_MAX = 500
/** Messages rendered at first; older ones come with "Show earlier messages". */
export const CHAT_PAGE = 100

/** The newest `count` lines, and how many older ones are not shown. */
export function chatWindow(lines: readonly ChatLine[], count: number): { lines: readonly ChatLine[]; earlier: number } {
  const earlier = Math.max(0, lines.length - count)
  return { lines: earlier ? lines.slice(earlier) : lines, earlier }
}

/**
 * One formatter for every line: `toLocaleTimeString` with options builds a new one per call,
 * which was most of the time a 100-line chat window took to render (bench: npm run bench -- chat).
 */
let timeFormat: Intl.DateTimeFormat | null = null

/** "19:04" (locale time of a message). */
export function chatTime(at: number): string {
  timeFormat ??= new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' })
  return timeFormat.format(at)
}

/** What the composer says about a draft: nothing, or why it cannot be sent. */
export function draftProblem(text: string): string | undefined {
  if (text.length > CHAT_MAX) return `Keep it under ${CHAT_MAX} characters (${text.length} now).`
  return undefined
}
