/**
 * EntryIndex: the verified entry SET of a room, grouped for `computeState`.
 *
 * Built once from an array (pure `computeState`) or kept up to date entry by
 * entry (RoomReplica), so a recompute does not re-bucket 10k entries. It also
 * keeps the aggregates that depend on nothing but the author (the winning
 * profile per author, open raises per author, entry counts per author, metas
 * grouped by authority): computeState only has to subtract banned authors and
 * check one authority per meta group. Every aggregate is a function of the
 * entry set alone (insertion order does not matter).
 *
 * Entries dated beyond the horizon (now + skew) wait in `future` and are
 * admitted by `admit(horizon)`; the replica's clock is assumed not to go back
 * (an entry once admitted stays admitted). An admitted entry that names in
 * `prev` an entry not here yet waits in `held` as an 'unknown-reference' until
 * it arrives; one dated before an entry it names is held as 'backdated' for
 * good (docs/room-rules.md §3a). Only the rest take part ("placed").
 */
import type { Entry, EntryKind } from './entry.ts'
import { KIND, MAX_PREV } from './entry.ts'
import { CausalGraph } from './causal-graph.ts'
import { textParts } from './entry-text.ts'
import { push } from './derive/collections.ts'

export type Of<K extends EntryKind> = Extract<Entry, { kind: K }>
export type Buckets = { [K in EntryKind]: Of<K>[] }

export interface Profile {
  /** '' until revealText (reveal.ts) opens `nameSealed`; plain in entries before version 3. */
  name: string
  /** The name sealed under an epoch's secret (absent in entries before version 3). */
  nameSealed?: Uint8Array
  muted: boolean
  seq: number
  id: string
}

const KIND_LIST = Object.keys(KIND) as EntryKind[]

export class EntryIndex {
  readonly roomId: string
  /** Every distinct entry seen, whatever its fate. */
  readonly byId = new Map<string, Entry>()
  /** Admitted entries (right room, not in the future) by kind. Profiles are in `bestProfile` instead. */
  readonly buckets: Buckets
  readonly wrongRoom: Entry[] = []
  future: Entry[] = []
  /** Admitted entries that do not take part: naming an unknown entry in `prev` (for now), or dated before one they name. */
  readonly held = new Map<string, 'unknown-reference' | 'backdated'>()
  /** Who names whom as seen, for every entry of the room. */
  readonly graph = new CausalGraph()
  duplicates = 0
  /** Winning profile per author: highest seq, then highest id. */
  readonly bestProfile = new Map<string, Profile>()
  readonly profilesByAuthor = new Map<string, Of<'profile'>[]>()
  /** Entries taking part, per author. */
  readonly byAuthor = new Map<string, Entry[]>()
  /** Hands: raises by author, and per author the raises no same-author lower points at. */
  readonly raisesByAuthor = new Map<string, Of<'raise'>[]>()
  readonly openRaises = new Map<string, Map<string, Of<'raise'>>>()
  readonly lowersByAuthor = new Map<string, Of<'lower'>[]>()
  /** Lowers whose raise is unknown (yet), and lowers pointing at someone else's raise. */
  readonly unresolvedLowers = new Map<string, Of<'lower'>[]>()
  readonly foreignLowers: Of<'lower'>[] = []
  /** Meta entries grouped by (author, auth): one authority check per group. */
  readonly metaGroups = new Map<string, { entries: Of<'meta'>[]; best: Of<'meta'> }>()
  private readonly raiseById = new Map<string, Of<'raise'>>()
  private readonly loweredBy = new Map<string, Set<string>>()
  /** Per entry, how many of its `prev` are not here; per missing id, the entries waiting for it. */
  private readonly missingPrev = new Map<string, number>()
  private readonly awaiting = new Map<string, Entry[]>()
  private horizon: number
  /** Take entries part even when what they name is missing: for a partial view (an epoch handoff, §8), never for the room. */
  private readonly partial: boolean

  constructor(roomId: string, horizon: number, opts: { partial?: boolean } = {}) {
    this.roomId = roomId
    this.horizon = horizon
    this.partial = opts.partial ?? false
    const b = {} as Record<EntryKind, Entry[]>
    for (const k of KIND_LIST) b[k] = []
    this.buckets = b as Buckets
  }

  /** Adds one entry; false when it was already there. */
  add(e: Entry): boolean {
    if (this.byId.has(e.id)) {
      this.duplicates++
      return false
    }
    this.byId.set(e.id, e)
    if (e.roomId !== this.roomId) {
      this.wrongRoom.push(e)
      return true
    }
    this.graph.add(e)
    let missing = 0
    for (const p of e.prev) {
      if (this.inRoom(p) || this.partial) continue
      push(this.awaiting, p, e)
      missing++
    }
    if (missing > 0) this.missingPrev.set(e.id, missing)
    for (const w of this.awaiting.get(e.id) ?? []) this.prevArrived(w)
    this.awaiting.delete(e.id)
    if (e.time > this.horizon) this.future.push(e)
    else this.settle(e)
    return true
  }

  /** Whether an entry takes part in the state: this room, admitted, not held. */
  isPlaced(e: Entry): boolean {
    return e.roomId === this.roomId && e.time <= this.horizon && !this.held.has(e.id)
  }

  /**
   * What an honest author names as seen (§3a): the resolved entries taking part
   * that no other such entry names, newest first, at most MAX_PREV. Past the
   * bound the oldest heads wait for the next entry to name them.
   */
  heads(): Entry[] {
    const out: Entry[] = []
    const counts = (e: Entry): boolean => this.graph.isResolved(e.id) && this.isPlaced(e)
    for (const id of this.graph.resolved) {
      const e = this.byId.get(id)!
      if (counts(e) && !this.graph.children(id).some(counts)) out.push(e)
    }
    return out.sort((a, b) => b.time - a.time || (a.id < b.id ? -1 : 1)).slice(0, MAX_PREV)
  }

  private inRoom(id: string): boolean {
    return this.byId.get(id)?.roomId === this.roomId
  }

  private prevArrived(w: Entry): void {
    const n = this.missingPrev.get(w.id)! - 1
    if (n > 0) return void this.missingPrev.set(w.id, n)
    this.missingPrev.delete(w.id)
    if (this.held.get(w.id) !== 'unknown-reference') return
    this.held.delete(w.id)
    this.settle(w)
  }

  /** An admitted entry waits for what it names, is refused for good if dated before it, and otherwise takes part. */
  private settle(e: Entry): void {
    if (this.missingPrev.has(e.id)) this.held.set(e.id, 'unknown-reference')
    else if (e.prev.some((p) => (this.byId.get(p)?.time ?? 0) > e.time)) this.held.set(e.id, 'backdated')
    else this.place(e)
  }

  /** Moves entries that are no longer in the future into the buckets. */
  admit(horizon: number): void {
    if (horizon <= this.horizon) return
    this.horizon = horizon
    if (this.future.length === 0) return
    const still: Entry[] = []
    for (const e of this.future) {
      if (e.time > horizon) still.push(e)
      else this.settle(e)
    }
    this.future = still
  }

  private place(e: Entry): void {
    push(this.byAuthor, e.author, e)
    if (e.kind === 'profile') {
      push(this.profilesByAuthor, e.author, e)
      const cur = this.bestProfile.get(e.author)
      if (!cur || e.seq > cur.seq || (e.seq === cur.seq && e.id > cur.id)) {
        const { plain: name, sealed: nameSealed } = textParts(e.name)
        this.bestProfile.set(e.author, { name, ...(nameSealed ? { nameSealed } : {}), muted: e.muted, seq: e.seq, id: e.id })
      }
      return
    }
    if (e.kind === 'raise') return this.placeRaise(e)
    if (e.kind === 'lower') return this.placeLower(e)
    if (e.kind === 'meta') return this.placeMeta(e)
    ;(this.buckets[e.kind] as Entry[]).push(e)
  }

  private placeRaise(r: Of<'raise'>): void {
    this.raiseById.set(r.id, r)
    push(this.raisesByAuthor, r.author, r)
    if (!this.loweredBy.get(r.id)?.has(r.author)) {
      let open = this.openRaises.get(r.author)
      if (!open) this.openRaises.set(r.author, (open = new Map()))
      open.set(r.id, r)
    }
    const waiting = this.unresolvedLowers.get(r.id)
    if (waiting) {
      this.unresolvedLowers.delete(r.id)
      for (const l of waiting) if (l.author !== r.author) this.foreignLowers.push(l)
    }
  }

  private placeLower(l: Of<'lower'>): void {
    push(this.lowersByAuthor, l.author, l)
    let by = this.loweredBy.get(l.raise)
    if (!by) this.loweredBy.set(l.raise, (by = new Set()))
    by.add(l.author)
    const r = this.raiseById.get(l.raise)
    if (!r) push(this.unresolvedLowers, l.raise, l)
    else if (r.author !== l.author) this.foreignLowers.push(l)
    else this.openRaises.get(r.author)?.delete(r.id)
  }

  private placeMeta(m: Of<'meta'>): void {
    const key = `${m.author} ${m.auth}`
    const g = this.metaGroups.get(key)
    if (!g) this.metaGroups.set(key, { entries: [m], best: m })
    else {
      g.entries.push(m)
      if (m.time > g.best.time || (m.time === g.best.time && m.id > g.best.id)) g.best = m
    }
  }
}

/** Builds an index from scratch (the pure path). */
export function indexEntries(entries: Iterable<Entry>, roomId: string, horizon: number, opts: { partial?: boolean } = {}): EntryIndex {
  const index = new EntryIndex(roomId, horizon, opts)
  for (const e of entries) index.add(e)
  return index
}
