/**
 * Mute and record (docs/room-rules.md §10), and the layer-4 step that puts
 * chat, mutes, kicks and recording together for computeState.
 *
 * Mute: a privileged entry; moderators cannot mute the owner (as with moves).
 * A subject's latest valid mute (by (time, id)) holds until the subject
 * writes a profile with `muted: false` that names the mute as seen (§3a) and
 * is dated at least MUTE_HOLD_MS after it; such a profile counts from its own
 * date on (a replica whose clock has not reached it keeps the speaker muted,
 * and computes again then: `recheckAt`), so dating it ahead within the skew
 * does not shorten the hold, and dating it back makes it 'backdated'.
 *
 * Record: a privileged on/off switch. The latest valid one decides (causally
 * last, then the latest (time, id)); none counts at or after the end.
 */
import type { EntryIndex, Of } from '../entry-index.ts'
import { MUTE_HOLD_MS } from '../moderation-rules.ts'
import type { Authority } from './authority.ts'
import { privilegeReason, type Bans } from './bans.ts'
import type { Causality } from './causality.ts'
import { chatOf, type ChatMessage } from './chat.ts'
import { byTimeThenId } from './collections.ts'
import { kickedAt, type Kick } from './kicks.ts'
import type { Ledger } from './ledger.ts'
import type { PendingInvite } from './stage.ts'

/** A speaker muted by a moderator: who, when (the mute's time), and the mute's id. */
export interface Mute {
  by: string
  at: number
  id: string
}

/** A recording announced in the log: who records, since when, and the entry that started it. */
export interface Recording {
  by: string
  since: number
  id: string
}

/** §10 mute: the mutes that hold at `now`, by subject (sorted by key), and when a pending unmute counts. */
export function mutesOf(
  mutes: readonly Of<'mute'>[], index: EntryIndex, authority: Authority, bans: Bans, causality: Causality, now: number, ledger: Ledger,
): { muted: Map<string, Mute>; unmuteAt: number | null } {
  const latest = new Map<string, Of<'mute'>>()
  for (const m of mutes) {
    const why = privilegeReason(m, authority, bans) ?? (m.subject === m.author || (m.subject === authority.owner && !authority.isOwners(m)) ? 'no-authority' : null)
    if (why) ledger.reject(m, why)
    else {
      const cur = latest.get(m.subject)
      if (!cur || byTimeThenId(m, cur) > 0) latest.set(m.subject, m)
    }
  }
  const muted = new Map<string, Mute>()
  let unmuteAt: number | null = null
  for (const key of [...latest.keys()].sort()) {
    const m = latest.get(key)!
    let cleared = false
    for (const p of index.profilesByAuthor.get(key) ?? []) {
      if (p.muted || p.time < m.time + MUTE_HOLD_MS || !causality.precedes(m.id, p.id)) continue
      if (p.time <= now) cleared = true
      else if (unmuteAt === null || p.time < unmuteAt) unmuteAt = p.time
    }
    if (!cleared) muted.set(key, { by: m.author, at: m.time, id: m.id })
  }
  return { muted, unmuteAt }
}

/** The valid record entries, in (time, id) order. */
function validRecords(records: readonly Of<'record'>[], authority: Authority, bans: Bans, endedAt: number, ledger: Ledger): Of<'record'>[] {
  const valid: Of<'record'>[] = []
  for (const r of records) {
    const why = privilegeReason(r, authority, bans) ?? (r.time >= endedAt ? 'room-ended' : null)
    if (why) ledger.reject(r, why)
    else valid.push(r)
  }
  return valid.sort(byTimeThenId)
}

/** §10 record: the recording now (null when off or the room ended). */
function recordingOf(valid: readonly Of<'record'>[], causality: Causality, ended: boolean): Recording | null {
  const last = valid.filter((r) => !valid.some((o) => o !== r && causality.precedes(r.id, o.id))).at(-1)
  return last && last.on && !ended ? { by: last.author, since: last.time, id: last.id } : null
}

/** §10 record: pending invites written while a recording was on (by the records dated up to them) say so. */
function markRecorded(invites: readonly PendingInvite[], valid: readonly Of<'record'>[]): PendingInvite[] {
  return invites.map((i) => {
    let on = false
    for (const r of valid) if (r.time <= i.time) on = r.on
    return on ? { ...i, recording: true as const } : i
  })
}

export interface Moderation {
  chat: ChatMessage[]
  muted: Map<string, Mute>
  kicked: Map<string, Kick>
  recording: Recording | null
  invites: PendingInvite[]
  /** When the state changes with the clock alone: a kick ends, an unmute's date comes. */
  recheckAt: number | null
}

export interface ModerationInput {
  index: EntryIndex
  /** Valid kicks (derive/kicks.ts). */
  kicks: readonly Of<'kick'>[]
  invites: readonly PendingInvite[]
  endedAt: number
  now: number
}

/** §10, layer 4: chat, mutes, kicks in force, the recording, and what the pending invites say about it. */
export function moderationOf(input: ModerationInput, authority: Authority, bans: Bans, causality: Causality, ledger: Ledger): Moderation {
  const { index, kicks, endedAt, now } = input
  const b = index.buckets
  const chat = chatOf({ chats: b.chat, hides: b.hide, kicks, byId: index.byId, endedAt }, authority, bans, causality, ledger)
  const { muted, unmuteAt } = mutesOf(b.mute, index, authority, bans, causality, now, ledger)
  const { kicked, endsAt } = kickedAt(kicks, now)
  const records = validRecords(b.record, authority, bans, endedAt, ledger)
  const recording = recordingOf(records, causality, endedAt !== Infinity)
  const times = [unmuteAt, endsAt].filter((t): t is number => t !== null)
  return { chat, muted, kicked, recording, invites: markRecorded(input.invites, records), recheckAt: times.length > 0 ? Math.min(...times) : null }
}
