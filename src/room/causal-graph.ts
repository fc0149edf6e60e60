/**
 * The causal graph of a room log (docs/room-rules.md §3a): which entries each
 * entry names as seen. An entry's parents are its `prev`; a version-1 entry,
 * which has no `prev`, is taken to have seen what its body names, nothing more.
 *
 * The graph holds every entry of the room whatever its fate: a rejected entry
 * is still a fact about what its author had seen. Validity is decided elsewhere.
 *
 * An entry is *resolved* when its whole causal past is known. Only resolved
 * entries may be named by an honest author: naming one whose past is
 * incomplete would let its author, who committed to the id of an entry it has
 * not published yet, slip that entry into the past of everything written after
 * (and so make it look seen by the owner before it existed).
 *
 * Every structure here is a function of the entry set, whatever the insertion order.
 */
import { bodyRefs, LEGACY_ENTRY_VERSION, type Entry } from './entry.ts'
import { push } from './derive/collections.ts'

/** The ids an entry names as seen (no repeats). */
export function causalParents(e: Entry): readonly string[] {
  return e.version === LEGACY_ENTRY_VERSION ? [...new Set(bodyRefs(e))] : e.prev
}

export class CausalGraph {
  /** Parent id -> entries naming it as seen (the parent may not have arrived). */
  private readonly kids = new Map<string, Entry[]>()
  private readonly done = new Set<string>()
  /** Entry id -> how many of its parents are not resolved yet. */
  private readonly waiting = new Map<string, number>()

  add(e: Entry): void {
    let missing = 0
    for (const p of causalParents(e)) {
      push(this.kids, p, e)
      if (!this.done.has(p)) missing++
    }
    if (missing === 0) this.resolve(e.id)
    else this.waiting.set(e.id, missing)
  }

  /** Entries naming `id` as seen. */
  children(id: string): readonly Entry[] {
    return this.kids.get(id) ?? []
  }

  isResolved(id: string): boolean {
    return this.done.has(id)
  }

  /** Ids of the resolved entries. */
  get resolved(): ReadonlySet<string> {
    return this.done
  }

  /**
   * Marks `id` resolved and, in turn, every waiting entry that was missing only
   * it. An entry resolves once, so the children listed at that moment are
   * exactly those that counted it as missing.
   */
  private resolve(id: string): void {
    const stack = [id]
    while (stack.length > 0) {
      const x = stack.pop()!
      this.done.add(x)
      for (const c of this.children(x)) {
        const n = this.waiting.get(c.id)
        if (n === undefined) continue
        if (n > 1) this.waiting.set(c.id, n - 1)
        else {
          this.waiting.delete(c.id)
          stack.push(c.id)
        }
      }
    }
  }
}
