/**
 * Who is in the room and what it is called (docs/room-rules.md §4 profile and
 * meta rows): profiles, participants, and the title and topic.
 */
import type { EntryIndex, Of, Profile } from '../entry-index.ts'
import type { Authority } from './authority.ts'
import { privilegeReason, type Bans } from './bans.ts'
import { byTimeThenId } from './collections.ts'
import type { Ledger } from './ledger.ts'

/**
 * §4 profile row: the index keeps each author's winning profile (highest seq,
 * then highest id); a banned key's entries are void, so it has none.
 */
export function profilesOf(index: EntryIndex, bans: Bans, ledger: Ledger): Map<string, Profile> {
  const profiles = new Map(index.bestProfile)
  for (const key of bans.banned.keys()) {
    if (!bans.isBanned(key) || !profiles.delete(key)) continue
    for (const p of index.profilesByAuthor.get(key) ?? []) ledger.reject(p, 'banned')
  }
  return profiles
}

/**
 * §4 meta row: title and topic are the genesis's unless a valid meta (owner or
 * moderator, a privileged entry) is later in (time, id) order. The index groups
 * metas by (author, auth), so each authority is checked once.
 */
export function metaOf(
  groups: EntryIndex['metaGroups'], genesis: Of<'genesis'>, authority: Authority, bans: Bans, ledger: Ledger,
): { title: string; topic: string } {
  let meta: { time: number; id: string; title: string; topic: string } = genesis
  for (const g of groups.values()) {
    const why = privilegeReason(g.best, authority, bans)
    if (why) for (const m of g.entries) ledger.reject(m, why)
    else if (byTimeThenId(g.best, meta) > 0) meta = g.best
  }
  return meta
}

/** Keys that authored at least one valid entry; decided last, once every rejection is known. */
export function participantsOf(byAuthor: EntryIndex['byAuthor'], ledger: Ledger): string[] {
  const participants: string[] = []
  for (const [key, list] of byAuthor) if (ledger.rejectedOf(key) < list.length) participants.push(key)
  return participants
}
