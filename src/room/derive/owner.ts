/**
 * Layer 1 (docs/room-rules.md §3, §10 "transfer"): who owns the room.
 *
 * The genesis names the first owner, whose authority is the genesis id. A
 * `transfer` written by the owner under its authority hands the room to its
 * subject, whose authority is then that transfer's id; the chain is followed
 * from the genesis, so it reads nothing but transfers and the causal graph
 * (no moderator set, no bans: those are layer 2 and later, and depend on it).
 *
 * A past owner's entries under its old authority count only while it owned
 * the room: they must be in the causal past of the transfer that ended its
 * tenure (the owner's client names its own latest entry, so everything it did
 * as owner is there). "Had not seen" counts against the owner (§3a): an entry
 * the transfer had not seen was written after it, or hidden from it, and does
 * not count. A transfer that names nothing (or a partial view, where what it
 * names may be missing) has only its date to go by.
 *
 * Of rival transfers under one authority (an owner forking its own chain;
 * honest clients never do), the first in causal order counts, then the one
 * the room saw first (everyone's entries that have seen it are a strict
 * superset of those that have seen the other: the forking owner is the one
 * party not trusted here), then the lowest (time, id) (§3a `firstClaim`);
 * the rest are 'used'.
 */
import type { Entry } from '../entry.ts'
import type { Of } from '../entry-index.ts'
import type { OwnerClaim, Root, Signed } from './authority.ts'
import { firstClaim, type Causality } from './causality.ts'
import { push } from './collections.ts'
import type { Ledger } from './ledger.ts'

/** One owner's time: its key, the authority it signed with, and the transfer that ended it (null: the owner now). */
export interface Tenure {
  key: string
  auth: string
  end: Of<'transfer'> | null
}

export class OwnerChain implements Root {
  readonly owner: string
  readonly genesisId: string
  readonly auth: string
  /** From the genesis to the owner now. */
  readonly tenures: readonly Tenure[]
  private readonly byAuth = new Map<string, Tenure>()
  private readonly causality: Causality
  private readonly partial: boolean

  constructor(genesisId: string, tenures: readonly Tenure[], causality: Causality, partial: boolean) {
    this.genesisId = genesisId
    this.tenures = tenures
    this.causality = causality
    this.partial = partial
    for (const t of tenures) this.byAuth.set(t.auth, t)
    const now = tenures.at(-1)!
    this.owner = now.key
    this.auth = now.auth
  }

  claim(e: Signed): OwnerClaim {
    const t = this.byAuth.get(e.auth)
    if (!t) return 'none'
    if (t.key !== e.author) return 'invalid'
    return t.end === null || this.within(e, t.end) ? 'valid' : 'invalid'
  }

  private within(e: Signed, end: Of<'transfer'>): boolean {
    if (e.id !== undefined && (e.id === end.id || this.causality.precedes(e.id, end.id))) return true
    return (end.prev.length === 0 || this.partial) && e.time !== undefined && e.time <= end.time
  }
}

/**
 * §10 transfer: follows the owner from the genesis through valid transfers.
 * A transfer under an owner's authority by anyone but that owner, or to the
 * owner itself, is 'no-authority'; one under an authority that is no owner's
 * (a stale one of a past owner included: it names its tenure, not the chain's
 * end) is 'no-authority', or an 'unknown-reference' when nothing has that id.
 */
export function ownerChain(
  genesis: Of<'genesis'>, transfers: readonly Of<'transfer'>[], byId: ReadonlyMap<string, Entry>, causality: Causality, ledger: Ledger, partial = false,
): OwnerChain {
  const byAuth = new Map<string, Of<'transfer'>[]>()
  for (const t of transfers) push(byAuth, t.auth, t)
  const tenures: Tenure[] = []
  let key = genesis.author
  let auth = genesis.id
  for (;;) {
    const valid: Of<'transfer'>[] = []
    for (const t of byAuth.get(auth) ?? []) {
      if (t.author !== key || t.subject === key) ledger.reject(t, 'no-authority')
      else valid.push(t)
    }
    byAuth.delete(auth)
    const next = valid.length > 1 ? firstClaim(valid, null, causality, ledger) : valid[0]
    tenures.push({ key, auth, end: next ?? null })
    if (!next) break
    key = next.subject
    auth = next.id
  }
  for (const list of byAuth.values()) for (const t of list) ledger.reject(t, byId.has(t.auth) ? 'no-authority' : 'unknown-reference')
  return new OwnerChain(genesis.id, tenures, causality, partial)
}
