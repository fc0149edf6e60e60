/**
 * Who is in the room and what it is called (docs/room-rules.md §4 profile and
 * meta rows): profiles, participants, and the title and topic.
 */
import type { EntryIndex, Of, Profile } from '../entry-index.ts'
import { textParts } from '../entry-text.ts'
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

/** The entry the title and topic come from (the genesis or the winning meta), with its sealed text (§9). */
export interface MetaSource {
  id: string
  author: string
  /** Sealed title and topic; absent in entries before version 3 (their text is plain in the state's `title`/`topic`). */
  title?: Uint8Array
  topic?: Uint8Array
}

/**
 * §4 meta row: title and topic are the genesis's unless a valid meta (owner or
 * moderator, a privileged entry) is later in (time, id) order. The index groups
 * metas by (author, auth), so each authority is checked once. Sealed text
 * (§9) stays sealed here: `title` and `topic` are plain only for entries
 * before version 3, and reveal.ts opens `meta` for a member.
 */
export function metaOf(
  groups: EntryIndex['metaGroups'], genesis: Of<'genesis'>, authority: Authority, bans: Bans, ledger: Ledger,
): { title: string; topic: string; meta: MetaSource } {
  let best: Of<'genesis'> | Of<'meta'> = genesis
  for (const g of groups.values()) {
    const why = privilegeReason(g.best, authority, bans)
    if (why) for (const m of g.entries) ledger.reject(m, why)
    else if (byTimeThenId(g.best, best) > 0) best = g.best
  }
  const title = textParts(best.title)
  const topic = textParts(best.topic)
  const meta: MetaSource = { id: best.id, author: best.author, ...(title.sealed ? { title: title.sealed } : {}), ...(topic.sealed ? { topic: topic.sealed } : {}) }
  return { title: title.plain, topic: topic.plain, meta }
}

/** Keys that authored at least one valid entry; decided last, once every rejection is known. */
export function participantsOf(byAuthor: EntryIndex['byAuthor'], ledger: Ledger): string[] {
  const participants: string[] = []
  for (const [key, list] of byAuthor) if (ledger.rejectedOf(key) < list.length) participants.push(key)
  return participants
}
