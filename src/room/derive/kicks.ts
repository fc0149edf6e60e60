/**
 * Kicks (docs/room-rules.md §10 "kick"): a ban with an end and no rotation.
 * A kick is a privileged entry judged like a moderator's ban (layer 3): it
 * cannot target the owner or a moderator (the owner revokes a moderator
 * first). What it closes is applied through Bans (a kick spends its subject's
 * seats, raises, invites and links up to it, and what the subject writes while
 * it lasts); the chat rule is in derive/chat.ts. Whether a kick holds *now*
 * (who relays and peers keep out) is the only part that reads the clock.
 */
import type { Of } from '../entry-index.ts'
import { kickEnd } from '../moderation-rules.ts'
import type { Authority } from './authority.ts'
import { privilegeReason, type Bans } from './bans.ts'
import type { Ledger } from './ledger.ts'

/** A kick in force: who kicked, until when (ms), and the kick's id. */
export interface Kick {
  by: string
  until: number
  id: string
}

/**
 * §10 kick: a privileged entry; its subject may not be the owner, a moderator
 * or its own author ('no-authority'). Returns the valid kicks.
 */
export function kicksOf(kicks: readonly Of<'kick'>[], authority: Authority, bans: Bans, ledger: Ledger): Of<'kick'>[] {
  const valid: Of<'kick'>[] = []
  for (const k of kicks) {
    const why =
      privilegeReason(k, authority, bans) ??
      (k.subject === authority.owner || authority.isModerator(k.subject) || k.subject === k.author ? 'no-authority' : null)
    if (why) ledger.reject(k, why)
    else valid.push(k)
  }
  return valid
}

/**
 * The kicks in force at `now` (one per subject: the one that ends last, then
 * the lowest id), sorted by key, and when the first of them ends (the state
 * must be computed again then: `recheckAt`).
 */
export function kickedAt(valid: readonly Of<'kick'>[], now: number): { kicked: Map<string, Kick>; endsAt: number | null } {
  const best = new Map<string, Of<'kick'>>()
  for (const k of valid) {
    if (now >= kickEnd(k)) continue
    const cur = best.get(k.subject)
    if (!cur || kickEnd(k) > kickEnd(cur) || (kickEnd(k) === kickEnd(cur) && k.id < cur.id)) best.set(k.subject, k)
  }
  let endsAt: number | null = null
  const kicked = new Map<string, Kick>()
  for (const key of [...best.keys()].sort()) {
    const k = best.get(key)!
    kicked.set(key, { by: k.author, until: kickEnd(k), id: k.id })
    if (endsAt === null || kickEnd(k) < endsAt) endsAt = kickEnd(k)
  }
  return { kicked, endsAt }
}
