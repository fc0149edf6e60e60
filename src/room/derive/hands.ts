/**
 * Raised hands (docs/room-rules.md §4 raise/lower, §3 "Bans"). The index keeps
 * each author's open raises (a lower counts when its author also wrote the
 * raise it names, whatever became of that raise), so this only applies bans.
 */
import type { EntryIndex, Of } from '../entry-index.ts'
import type { Bans } from './bans.ts'
import { byTimeThenId } from './collections.ts'
import type { Ledger } from './ledger.ts'
import type { Seat } from './stage.ts'

export interface Hand {
  key: string
  raiseId: string
  since: number
}

export interface Hands {
  /** Raised hands of listeners in (raise time, raise id) order. */
  hands: Hand[]
  handOf: Map<string, Hand>
  /** Every valid, un-lowered raise per key, sorted (a client lowers all of them). */
  openRaises: Map<string, string[]>
}

/**
 * §4 raise/lower and §3 bans: a banned key's raises and lowers are void; a
 * lower naming an unknown raise is an 'unknown-reference', one naming someone
 * else's raise 'no-authority'; a ban spends raises dated up to it, even after
 * an unban, and a kick (§10) those dated up to its end. A hand is a listener's earliest open raise (nobody on stage has
 * one, nor anybody once the room has ended), in (raise time, raise id) order.
 */
export function handsOf(index: EntryIndex, bans: Bans, seatOf: ReadonlyMap<string, Seat>, ended: boolean, ledger: Ledger): Hands {
  for (const key of bans.banned.keys()) for (const l of index.lowersByAuthor.get(key) ?? []) ledger.reject(l, 'banned')
  for (const list of index.unresolvedLowers.values()) for (const l of list) if (!bans.isBanned(l.author)) ledger.reject(l, 'unknown-reference')
  for (const l of index.foreignLowers) if (!bans.isBanned(l.author)) ledger.reject(l, 'no-authority')
  for (const key of bans.closedKeys()) {
    const banned = bans.isBanned(key)
    for (const r of index.raisesByAuthor.get(key) ?? []) {
      const why = banned ? 'banned' : bans.spentBy(r)
      if (why) ledger.reject(r, why)
    }
  }
  const openRaises = new Map<string, string[]>()
  const best: Of<'raise'>[] = []
  for (const [key, open] of index.openRaises) {
    if (bans.isBanned(key)) continue
    let first: Of<'raise'> | null = null
    let ids: string[] | null = null
    for (const r of open.values()) {
      if (ledger.reasons.has(r.id)) continue
      ;(ids ??= []).push(r.id)
      if (!first || byTimeThenId(r, first) < 0) first = r
    }
    if (!ids) continue
    if (ids.length > 1) ids.sort()
    openRaises.set(key, ids)
    if (first && !ended && !seatOf.has(key)) best.push(first)
  }
  const hands = best.sort(byTimeThenId).map((r): Hand => ({ key: r.author, raiseId: r.id, since: r.time }))
  const handOf = new Map<string, Hand>()
  for (const h of hands) handOf.set(h.key, h)
  return { hands, handOf, openRaises }
}
