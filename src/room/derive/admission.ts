/**
 * Which entries take part at all (docs/room-rules.md §1, §2, §6): the log is a
 * set, entries for other rooms or from the future stay out, and without a
 * genesis that derives the room id nothing counts.
 */
import type { EntryIndex, Of } from '../entry-index.ts'
import { deriveRoomId } from '../room-id.ts'
import { byTimeThenId } from './collections.ts'
import type { Ledger } from './ledger.ts'

/**
 * §1/§6: copies of the same bytes count once ('duplicate'); entries naming
 * another room are 'wrong-room'; entries dated beyond now + skew wait as
 * 'future-time' so that a fast clock cannot jump the queue, and count once the
 * clock passes. §3a: an entry whose `prev` names an entry not here yet waits as
 * 'unknown-reference' (its causal past, hence its place in the order, is not
 * known), and one dated before an entry it names is 'backdated'. None of these
 * is held against its author's admitted entries.
 * Returns when the earliest waiting entry becomes admissible (recheckAt).
 */
export function admitEntries(index: EntryIndex, now: number, skewMs: number, ledger: Ledger): number | null {
  index.admit(now + skewMs)
  ledger.counts.duplicate += index.duplicates
  for (const e of index.wrongRoom) ledger.reject(e, 'wrong-room', false)
  let recheckAt: number | null = null
  for (const e of index.future) {
    ledger.reject(e, 'future-time', false)
    const at = e.time - skewMs
    if (recheckAt === null || at < recheckAt) recheckAt = at
  }
  for (const [id, reason] of index.held) ledger.reject(index.byId.get(id)!, reason, false)
  return recheckAt
}

/**
 * §2 layer 1: the room id is self-certifying, so only a genesis whose (author
 * key, nonce) derives it counts ('wrong-room' otherwise) and nobody but the
 * owner can write one. A second valid genesis is a 'duplicate'; the lowest
 * (time, id) wins so every replica picks the same one.
 */
export function findGenesis(geneses: readonly Of<'genesis'>[], roomId: string, ledger: Ledger): Of<'genesis'> | null {
  let genesis: Of<'genesis'> | null = null
  const extra: Of<'genesis'>[] = []
  for (const g of geneses) {
    if (deriveRoomId(g.authorKey, g.nonce) !== roomId) {
      ledger.reject(g, 'wrong-room')
      continue
    }
    if (genesis === null) genesis = g
    else if (byTimeThenId(g, genesis) < 0) {
      extra.push(genesis)
      genesis = g
    } else extra.push(g)
  }
  for (const g of extra) ledger.reject(g, 'duplicate')
  return genesis
}

/** §2: without a valid genesis the room does not exist, so every other entry not yet rejected is an 'unknown-reference'. */
export function rejectOrphans(index: EntryIndex, ledger: Ledger): void {
  for (const e of index.byId.values()) if (!ledger.reasons.has(e.id) && e.kind !== 'genesis') ledger.reject(e, 'unknown-reference')
}
