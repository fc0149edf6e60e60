/**
 * Causal order between entries (docs/room-rules.md §3a), for the steps that
 * decide single use, expiry, and what a closing entry (revoke, move, leave,
 * ban) had seen. Questions walk the causal graph of the index; answers are
 * memoized for one derivation, so each walk is done once per entry asked about.
 *
 * What an entry names as seen can only be trusted one way: an author may hide
 * what it saw (name nothing), but cannot name an entry that did not exist yet
 * (ids are hashes). So "had seen" is evidence for its author, and "had not
 * seen" only counts against an author when that author is trusted for the
 * question at hand: the issuer of a pass or invite, the owner.
 */
import type { Entry } from '../entry.ts'
import type { EntryIndex } from '../entry-index.ts'
import { causalParents } from '../causal-graph.ts'
import { byTimeThenId } from './collections.ts'
import type { Ledger } from './ledger.ts'

export class Causality {
  private readonly index: EntryIndex
  private readonly pasts = new Map<string, Set<string>>()
  private readonly futures = new Map<string, Set<string>>()
  /** "key deadline" -> that key's first entry with references after the deadline (many redeems share one link). */
  private readonly firstAfter = new Map<string, Entry | null>()

  constructor(index: EntryIndex) {
    this.index = index
  }

  /** Whether entry `a` is in the causal past of entry `b` (b names a, directly or through entries it names). */
  precedes(a: string, b: string): boolean {
    return this.past(b).has(a)
  }

  /**
   * Whether `x` comes after the closing entry `c`: it names `c` as seen, or is
   * dated later. A date is the author's claim, so this is only used where a
   * later date gains its author nothing it could not have by naming `c`.
   */
  after(x: Entry, c: Entry): boolean {
    return x.time > c.time || this.precedes(c.id, x.id)
  }

  /** The entries of `key` (of anyone: null) taking part that have `id` in their causal past. */
  seenBy(id: string, key: string | null): Set<string> {
    const out = new Set<string>()
    for (const d of this.future(id)) {
      const e = this.index.byId.get(d)
      if (e && (key === null || e.author === key) && this.index.isPlaced(e)) out.add(d)
    }
    return out
  }

  /**
   * Whether the first entry with references that `key` wrote after `deadline`
   * (lowest (time, id)) had seen `id`; true when there is none yet. A
   * version-1 entry names nothing as seen, so it proves nothing either way.
   */
  seenByDeadline(id: string, key: string, deadline: number): boolean {
    const memo = `${key} ${deadline}`
    let first = this.firstAfter.get(memo)
    if (first === undefined) {
      first = null
      for (const e of this.index.byAuthor.get(key) ?? []) {
        if (e.time > deadline && e.prev.length > 0 && (!first || byTimeThenId(e, first) < 0)) first = e
      }
      this.firstAfter.set(memo, first)
    }
    return first === null || this.precedes(id, first.id)
  }

  private past(id: string): Set<string> {
    return walk(this.pasts, id, (x) => {
      const e = this.index.byId.get(x)
      return e && e.roomId === this.index.roomId ? causalParents(e) : []
    })
  }

  private future(id: string): Set<string> {
    return walk(this.futures, id, (x) => this.index.graph.children(x).map((c) => c.id))
  }
}

/** Everything reachable from `id` (itself excluded) through `next`, memoized in `memo`. */
function walk(memo: Map<string, Set<string>>, id: string, next: (id: string) => readonly string[]): Set<string> {
  let seen = memo.get(id)
  if (seen) return seen
  seen = new Set<string>()
  const stack = [id]
  while (stack.length > 0) {
    for (const n of next(stack.pop()!)) {
      if (seen.has(n)) continue
      seen.add(n)
      stack.push(n)
    }
  }
  memo.set(id, seen)
  return seen
}

/** a holds every element of b, and more. */
function strictSuperset(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size <= b.size) return false
  for (const x of b) if (!a.has(x)) return false
  return true
}

/**
 * §3a single use: of rival claims on one invite or single-use pass, the one
 * that counts is causally first (no rival in its past); between concurrent
 * claims, the one the issuer had seen first (the issuer's entries that have
 * seen it are a strict superset of those that have seen the other); only then
 * the lowest (time, id). A claim written later cannot overtake one its author
 * had seen, nor, by being backdated, one the issuer had seen before it. The
 * rest are 'used'. Each filter keeps at least one claim: causal order and
 * strict inclusion have no cycles. `claims` is not empty. `issuer` null: the
 * room's view (everyone's entries), where no issuer is trusted (§10 transfer).
 */
export function firstClaim<E extends Entry>(claims: readonly E[], issuer: string | null, causality: Causality, ledger: Ledger): E {
  let pool = claims.filter((c) => !claims.some((o) => o !== c && causality.precedes(o.id, c.id)))
  if (pool.length > 1) {
    const seen = new Map(pool.map((c) => [c.id, causality.seenBy(c.id, issuer)]))
    pool = pool.filter((c) => !pool.some((o) => o !== c && strictSuperset(seen.get(o.id)!, seen.get(c.id)!)))
  }
  const winner = pool.reduce((a, b) => (byTimeThenId(b, a) < 0 ? b : a))
  for (const c of claims) if (c !== winner) ledger.reject(c, 'used')
  return winner
}
