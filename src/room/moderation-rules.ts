/**
 * The numbers of the chat and moderation rules (docs/room-rules.md §10), for
 * the derivation and for clients (a composer's cap, an unmute button's wait).
 */
export { MAX_CHAT_CHARS, MAX_CHAT_BYTES } from './entry-moderation.ts'

/** Rate per author: at most CHAT_BURST messages in any CHAT_WINDOW_MS, by entry time. */
export const CHAT_BURST = 5
export const CHAT_WINDOW_MS = 10_000

/** A speaker muted by a moderator may unmute itself this long after the mute's time. */
export const MUTE_HOLD_MS = 10_000

/** The longest a kick lasts, whatever its `until` says (longer: ban). */
export const MAX_KICK_MS = 7 * 24 * 60 * 60_000

/** When a kick ends: its `until`, at most MAX_KICK_MS after the kick. */
export function kickEnd(k: { time: number; until: number }): number {
  return Math.min(k.until, k.time + MAX_KICK_MS)
}
