/**
 * The epoch handoff over the mesh's signalling (docs/room-rules.md §8, "A member who was
 * away"): the relay answers a member of an older epoch with the handoff; in a room that never
 * used a relay nobody did, since members leave the old epoch's topic when they move, so a
 * member coming back with an old link found nobody and waited for ever.
 *
 * - `EpochResponder`: a member that moved to a new epoch keeps the old epoch's bus (its topic,
 *   sealed with the old secret it already had) for `lifetimeMs` (10 minutes after the rotation
 *   at most) and answers whoever turns up there with the handoff (src/room/epoch-handoff.ts: the
 *   epoch chain, the current epoch's seals and the authority behind them; no content). A peer
 *   that joins the old topic is answered; one that was there at the move and is not on the
 *   new topic `SETTLE_MS` later (it did not follow) is answered too. So that a room of many
 *   does not answer each newcomer many times, the members that moved and are online (on both
 *   topics) rank themselves per newcomer by a hash of both ids: rank r answers after
 *   r x RANK_STEP_MS unless the newcomer left the old topic meanwhile (it moved), and ranks
 *   from MAX_RANK on do not answer. A token bucket bounds what one responder sends (a stranger
 *   rejoining under fresh ids cannot make it flood).
 * - `receiveHandoffs`: the newcomer's side. Handoff messages on its bus are taken off it (the
 *   mesh never sees them), put together per sender and handed to its EpochKeeper, which
 *   checks every entry, opens its box and moves on, or says "This link was replaced". One is
 *   checked at a time; others arriving meanwhile are dropped.
 *
 * Wire: one JSON text per chunk, `{"t":"stoop/handoff/v1","i":index,"n":count,"e":[base64url entry...]}`,
 * at most CHUNK_CHARS long (the signalling caps a sealed message at 64 KiB). Messages that do
 * not parse as a chunk are not handoffs and go on to the mesh.
 *
 * Invariants: `destroy()` is idempotent, clears every timer and destroys the old bus; parsing
 * never throws.
 */
import { realTimers, type Timers } from '../base/timers.ts'
import { fromBase64url, toBase64url } from '../identity/index.ts'
import type { BusMessage, SignalBus } from '../net/bus.ts'
import type { SwitchBus } from '../net/switch-bus.ts'

/** How long after a rotation members keep answering on the old epoch's topic. */
export const HANDOFF_RESPOND_MS = 10 * 60_000
/** Peers on the old topic at the move that are not on the new one this much later are answered too. */
export const SETTLE_MS = 10_000
/** Delay per rank between responders (a newcomer that moved leaves the old topic within it). */
export const RANK_STEP_MS = 500
/** Responders ranked from here on do not answer. */
export const MAX_RANK = 4
/** Handoffs one responder sends at once, and the interval at which it may send one more. */
const BURST = 6
const REFILL_MS = 2_000

const TAG = 'stoop/handoff/v1'
/** Characters of one chunk (the sealed message must stay under the signalling's 64 KiB). */
const CHUNK_CHARS = 30_000
const MAX_CHUNKS = 16
/** An entry is at most 2 KiB (relay-protocol.ts): its base64url, with some room. */
const MAX_ENTRY_CHARS = 2_800
/** Senders whose chunks are being put together at once. */
const MAX_PARTIAL = 8

export interface HandoffChunk {
  i: number
  n: number
  entries: Uint8Array[]
}

/** `entries` as handoff messages, each under CHUNK_CHARS (empty when there are too many to send). */
export function encodeHandoff(entries: readonly Uint8Array[]): string[] {
  const groups: string[][] = [[]]
  let chars = 0
  for (const e of entries) {
    const b = toBase64url(e)
    if (chars + b.length + 3 > CHUNK_CHARS - 64 && groups.at(-1)!.length > 0) {
      groups.push([])
      chars = 0
    }
    groups.at(-1)!.push(b)
    chars += b.length + 3
  }
  if (groups.length > MAX_CHUNKS) return []
  return groups.map((e, i) => JSON.stringify({ t: TAG, i, n: groups.length, e }))
}

/** A handoff chunk, or null when `msg` is not one (then it is for the mesh). Never throws. */
export function parseHandoff(msg: BusMessage): HandoffChunk | null {
  if (typeof msg !== 'string' || msg.length > CHUNK_CHARS || !msg.startsWith(`{"t":"${TAG}"`)) return null
  let d: unknown
  try {
    d = JSON.parse(msg)
  } catch {
    // Not JSON after all: not a handoff.
    return null
  }
  const o = d as { i?: unknown; n?: unknown; e?: unknown }
  const { i, n, e } = o
  if (!Number.isSafeInteger(i) || !Number.isSafeInteger(n) || (n as number) < 1 || (n as number) > MAX_CHUNKS || (i as number) < 0 || (i as number) >= (n as number)) return null
  if (!Array.isArray(e) || !e.every((x) => typeof x === 'string' && x.length <= MAX_ENTRY_CHARS)) return null
  const entries = (e as string[]).map(fromBase64url)
  if (entries.some((b) => b === null)) return null
  return { i: i as number, n: n as number, entries: entries as Uint8Array[] }
}

/** What `receiveHandoffs` did with the handoffs it took off the bus. */
export interface HandoffCounts {
  /** Complete handoffs given to the keeper. */
  received: number
  /** Out of order (a chunk not following the last one of its sender), or arriving while one was being checked. */
  dropped: number
  /** Checking one failed (the keeper threw). */
  failed: number
}

/**
 * Takes handoff messages off `bus` and hands each complete one to `onHandoff` (one at a time).
 * Returns the function that stops.
 */
export function receiveHandoffs(bus: SwitchBus, onHandoff: (entries: Uint8Array[]) => Promise<unknown>, counts: HandoffCounts = { received: 0, dropped: 0, failed: 0 }): () => void {
  const partial = new Map<string, { n: number; next: number; entries: Uint8Array[] }>()
  let busy = false
  const drop = (): true => {
    counts.dropped++
    return true
  }
  return bus.intercept((from, msg) => {
    const chunk = parseHandoff(msg)
    if (!chunk) return false
    const have = chunk.i === 0 ? { n: chunk.n, next: 0, entries: [] } : partial.get(from)
    partial.delete(from)
    // Chunks come in order over one sender's bus: anything else drops what was put together.
    if (!have || have.n !== chunk.n || have.next !== chunk.i) return drop()
    have.next++
    have.entries.push(...chunk.entries)
    if (chunk.i < chunk.n - 1) {
      if (partial.size >= MAX_PARTIAL) partial.delete(partial.keys().next().value!)
      partial.set(from, have)
      return true
    }
    if (busy) return drop()
    busy = true
    counts.received++
    void onHandoff(have.entries)
      .catch(() => counts.failed++)
      .finally(() => (busy = false))
    return true
  })
}

export interface EpochResponderOptions {
  /** The old epoch's bus, handed over: the responder destroys it when it ends. */
  bus: SignalBus
  /** Who is on the current epoch's topic now. */
  current: () => ReadonlySet<string>
  /** The handoff to send (entry bytes), made when it is sent. */
  handoff: () => Uint8Array[]
  lifetimeMs: number
  timers?: Timers
  now?: () => number
}

export class EpochResponder {
  /** Handoffs sent, newcomers not answered (ranked out, moved, gone), handoffs the bucket held back. */
  readonly stats = { answered: 0, skipped: 0, limited: 0 }
  readonly #o: EpochResponderOptions
  readonly #timers: Timers
  readonly #now: () => number
  readonly #pending = new Map<string, unknown>()
  readonly #offs: Array<() => void>
  #end: unknown
  #settle: unknown
  #tokens = BURST
  #refilled: number
  #destroyed = false

  constructor(opts: EpochResponderOptions) {
    this.#o = opts
    this.#timers = opts.timers ?? realTimers
    this.#now = opts.now ?? Date.now
    this.#refilled = this.#now()
    const { bus } = opts
    this.#offs = [
      bus.on('peer-joined', (id) => this.#consider(id)),
      bus.on('peer-left', (id) => this.#cancel(id)),
    ]
    const there = [...bus.peers]
    this.#settle = this.#timers.setTimeout(() => {
      for (const id of there) this.#consider(id)
    }, Math.min(SETTLE_MS, opts.lifetimeMs))
    this.#end = this.#timers.setTimeout(() => this.destroy(), opts.lifetimeMs)
  }

  get destroyed(): boolean {
    return this.#destroyed
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#timers.clearTimeout(this.#end)
    this.#timers.clearTimeout(this.#settle)
    for (const t of this.#pending.values()) this.#timers.clearTimeout(t)
    this.#pending.clear()
    for (const off of this.#offs) off()
    void this.#o.bus.destroy()
  }

  /** A peer on the old topic that may need the handoff: answered after its rank's delay. */
  #consider(id: string): void {
    if (this.#destroyed || this.#pending.has(id) || this.#o.current().has(id)) return
    const rank = this.#rank(id)
    if (rank >= MAX_RANK) {
      this.stats.skipped++
      return
    }
    this.#pending.set(id, this.#timers.setTimeout(() => this.#answer(id), rank * RANK_STEP_MS))
  }

  #cancel(id: string): void {
    this.#timers.clearTimeout(this.#pending.get(id))
    if (this.#pending.delete(id)) this.stats.skipped++
  }

  /** Our place among the members that moved and are online (on both topics), for `id`. */
  #rank(id: string): number {
    const self = this.#o.bus.selfId
    const current = this.#o.current()
    const responders = [self, ...[...this.#o.bus.peers].filter((p) => p !== self && current.has(p))]
    const score = (p: string): number => fnv1a(`${p}\n${id}`)
    const mine = score(self)
    return responders.filter((p) => p !== self && (score(p) < mine || (score(p) === mine && p < self))).length
  }

  #answer(id: string): void {
    this.#pending.delete(id)
    const { bus } = this.#o
    // It moved (or left) meanwhile: another responder's handoff reached it.
    if (this.#destroyed || !bus.peers.has(id) || this.#o.current().has(id)) {
      this.stats.skipped++
      return
    }
    if (!this.#take()) {
      this.stats.limited++
      return
    }
    for (const chunk of encodeHandoff(this.#o.handoff())) bus.send(id, chunk)
    this.stats.answered++
  }

  #take(): boolean {
    const now = this.#now()
    this.#tokens = Math.min(BURST, this.#tokens + (now - this.#refilled) / REFILL_MS)
    this.#refilled = now
    if (this.#tokens < 1) return false
    this.#tokens--
    return true
  }
}

/** FNV-1a over UTF-16 code units: a cheap, stable order of responders per newcomer (not a secret). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
  return h
}
