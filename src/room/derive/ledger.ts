/**
 * The rejections decided so far while deriving a state (docs/room-rules.md §6).
 *
 * Every step records the entries it rejects here, in the order the layers run.
 * Later steps read earlier verdicts only through `refReason`, and only for
 * target kinds decided in an earlier step, so no verdict depends on the order
 * of entries within a bucket.
 */
import type { Entry, EntryKind } from '../entry.ts'
import { emptyRejectCounts, type RejectReason } from '../errors.ts'

export class Ledger {
  /** Rejected entries by reason, including counts decided before the derivation. */
  readonly counts: Record<RejectReason, number> = emptyRejectCounts()
  /** Reason per rejected entry id. */
  readonly reasons = new Map<string, RejectReason>()
  /** Rejected admitted entries per author (decides who is a participant). */
  private readonly perAuthor = new Map<string, number>()
  private readonly byId: ReadonlyMap<string, Entry>

  constructor(byId: ReadonlyMap<string, Entry>, base?: Partial<Record<RejectReason, number>>) {
    this.byId = byId
    if (base) for (const [r, n] of Object.entries(base)) this.counts[r as RejectReason] += n ?? 0
  }

  /** Records a rejection; `admitted` is false for entries the index never admitted (other room, future). */
  reject(e: Entry, reason: RejectReason, admitted = true): void {
    this.reasons.set(e.id, reason)
    this.counts[reason]++
    if (admitted) this.perAuthor.set(e.author, (this.perAuthor.get(e.author) ?? 0) + 1)
  }

  /** How many of an author's admitted entries were rejected. */
  rejectedOf(author: string): number {
    return this.perAuthor.get(author) ?? 0
  }

  /**
   * Why a reference to an invite, ban or seat that is not valid fails. A void
   * target of the expected kind passes its authority failure on (the cascade);
   * anything else, including an entry of another kind, is an unknown reference.
   * Only target kinds decided in an earlier layer are consulted, so the answer
   * never depends on the order of entries within a bucket (an accept naming
   * another accept must not see that accept's reason only if it came first).
   */
  refReason(id: string, kinds: readonly EntryKind[]): RejectReason {
    const t = this.byId.get(id)
    if (!t || !kinds.includes(t.kind)) return 'unknown-reference'
    const r = this.reasons.get(id)
    return r === 'revoked' || r === 'no-authority' ? r : 'unknown-reference'
  }
}
