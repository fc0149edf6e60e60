/**
 * The relay's gate for remote Yjs updates to a room doc it stores.
 *
 * Every update goes through the UpdateVerifier every replica runs
 * (src/room/verify-update.ts): the room guard's shape checks (size cap,
 * append-only, binary `log` elements, no bytes after the update), then every
 * element it adds must decode as an entry of the room whose id hashes to this
 * room's discovery key, at least one must be new, and every new one must carry
 * a valid signature, all before the update is applied. The relay learns a
 * room's id from the first such entry (entries carry it in the clear; the
 * discovery key is a one-way hash of it, so nobody who knows only the
 * discovery key can write an entry that passes).
 *
 * The doc-size caps count what an update adds to the doc (entry bytes), never
 * the update's own size: `maxDocBytes` per room, and `budget` shared by every
 * room of the relay. Bytes of updates still verifying are reserved, so updates
 * racing from several connections cannot overshoot the caps together.
 *
 * Two bounds keep a flood from shutting the room's authority out:
 * - New copies of entries the doc holds (every joiner seeds one genesis copy;
 *   anyone served the log can append more) take at most a quarter of
 *   `maxDocBytes` ('copies-full' past it).
 * - Past `maxDocBytes`, an eighth more is kept for updates whose new entries
 *   are all the room's authority: a genesis, or entries by the owner or a
 *   moderator in the state the relay holds. A full room still takes its
 *   owner's ban, and a new room its genesis.
 *
 * Signed-but-unauthorized entries (a listener's forged ban) pass: they are
 * valid entries, stored and ignored by every reader, as on any replica.
 */
import type * as Y from 'yjs'
import { decodeEntry, deriveDiscoveryKey, guardUpdate, type Entry, type GuardLimits } from '../../src/room/index.ts'
import { UPDATE_REFUSALS, UpdateVerifier, type Inspection, type UpdateRefusal } from '../../src/room/verify-update.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'

export type RoomGateReason = UpdateRefusal
export const ROOM_GATE_REASONS: readonly RoomGateReason[] = UPDATE_REFUSALS

/** Why an update was refused: the gate's reasons, or a size cap (this room's, its copies', the relay's). */
export type UpdateRejection = RoomGateReason | 'doc-full' | 'copies-full' | 'relay-full'

/** Share of `maxDocBytes` new copies of known entries may take. */
export const COPY_SHARE = 1 / 4
/** Share of `maxDocBytes` kept, past it, for the room's authority. */
export const AUTHORITY_RESERVE_SHARE = 1 / 8

/** Entry bytes held by every room of a relay, against one cap. */
export interface DocBudget {
  used: number
  readonly max: number
}

export type RoomGateResult = { ok: true; roomId: string | null; entries: number } | { ok: false; reason: RoomGateReason }

/**
 * The shape and room checks alone (no doc, no signatures), for `update` to the
 * room named by `discovery`. `roomId` is the room's id once known.
 */
export function checkRoomUpdate(update: Uint8Array, discovery: string, roomId: string | null, limits?: GuardLimits): RoomGateResult {
  const guard = guardUpdate(update, limits)
  if (!guard.ok) return { ok: false, reason: guard.reason }
  let known = roomId
  for (const item of guard.items) {
    const entry = decodeEntry((item.content as Y.ContentBinary).content)
    if (!entry) return { ok: false, reason: 'malformed-entry' }
    if (known === null) {
      if (!belongsTo(entry.roomId, discovery)) return { ok: false, reason: 'foreign-room' }
      known = entry.roomId
    } else if (entry.roomId !== known) return { ok: false, reason: 'foreign-room' }
  }
  return { ok: true, roomId: known, entries: guard.items.length }
}

/** Whether `roomId` hashes to the discovery key `discovery` (hex). */
export function belongsTo(roomId: string, discovery: string): boolean {
  try {
    return discoveryHex(deriveDiscoveryKey(roomId)) === discovery
  } catch {
    // Not a room id at all.
    return false
  }
}

export interface RoomGateOptions {
  doc: Y.Doc
  discovery: string
  maxDocBytes: number
  /** Shared by every room of the relay. */
  budget?: DocBudget
  /** Whether `key` is the owner or a moderator in the room state now (for the reserve). */
  authority?: (key: string) => boolean
}

export type Admission = { ok: true; roomId: string | null } | { ok: false; reason: UpdateRejection }

/** One room's gate: verification, the room id, and the entry bytes the doc took in. */
export class RoomGate {
  readonly #opts: RoomGateOptions
  readonly #verifier: UpdateVerifier
  #bytes = 0
  #copyBytes = 0
  #reserved = 0
  #destroyed = false
  /** Updates being admitted now, and who waits for none to be. */
  #pending = 0
  #waiters: Array<() => void> = []

  constructor(opts: RoomGateOptions) {
    this.#opts = opts
    this.#verifier = new UpdateVerifier({ doc: opts.doc, admits: (id) => belongsTo(id, opts.discovery) })
  }

  get roomId(): string | null {
    return this.#verifier.roomId
  }

  /** Entry bytes this room's doc holds. */
  get bytes(): number {
    return this.#bytes
  }

  /** For the room's replica: entries verified here are not verified again. */
  readonly isVerified = (id: string): boolean => this.#verifier.isVerified(id)
  /** For the room's replica: what entries admitted here decoded to is not decoded again. */
  readonly decoded = (item: Y.Item): Entry | undefined => this.#verifier.decoded(item)

  /**
   * Resolves once no update is being admitted, a macrotask after the last one (by then it has
   * been applied: the sync applies an admitted update in the microtasks that follow). A publish
   * waits for this, so the entries that seat its speaker, sent just before, count.
   */
  whenSettled(): Promise<void> {
    if (this.#pending === 0 || this.#destroyed) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** Whether `update` (from the network) may be applied; on `ok` it must be, at once. */
  async admit(update: Uint8Array): Promise<Admission> {
    this.#pending++
    try {
      return await this.#admit(update)
    } finally {
      if (--this.#pending === 0) setImmediate(() => this.#flush())
    }
  }

  async #admit(update: Uint8Array): Promise<Admission> {
    const inspected = this.#verifier.inspect(update)
    if (!inspected.ok) return inspected
    const full = this.#full(inspected)
    if (full) return { ok: false, reason: full }
    this.#reserve(inspected.bytes)
    let verdict
    try {
      verdict = await this.#verifier.check(inspected)
    } finally {
      this.#reserve(-inspected.bytes)
    }
    if (!verdict.ok) return verdict
    this.#take(inspected)
    return { ok: true, roomId: verdict.roomId }
  }

  /**
   * Stored bytes (the relay's own `--data`, written from gated docs): the same shape, room and
   * cap checks, signatures left to the replica. On `ok` they must be applied at once.
   */
  restore(update: Uint8Array): Admission {
    const inspected = this.#verifier.inspect(update)
    if (!inspected.ok) return inspected
    const full = this.#full(inspected)
    if (full) return { ok: false, reason: full }
    this.#take(inspected)
    this.#verifier.trust(inspected)
    return { ok: true, roomId: this.roomId }
  }

  /** Releases this room's share of the relay budget. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#flush()
    this.#verifier.destroy()
    if (this.#opts.budget) this.#opts.budget.used -= this.#bytes + this.#reserved
  }

  #full(inspected: Inspection): 'doc-full' | 'copies-full' | 'relay-full' | null {
    const { bytes, copyBytes } = inspected
    const max = this.#opts.maxDocBytes
    if (copyBytes > 0 && this.#copyBytes + copyBytes > max * COPY_SHARE) return 'copies-full'
    const after = this.#bytes + this.#reserved + bytes
    const authority = after > max || this.#overBudget(bytes) ? this.#byAuthority(inspected) : false
    if (after > max + (authority ? max * AUTHORITY_RESERVE_SHARE : 0)) return 'doc-full'
    if (this.#overBudget(bytes) && !authority) return 'relay-full'
    return null
  }

  #flush(): void {
    if (this.#pending > 0 && !this.#destroyed) return
    const waiters = this.#waiters
    this.#waiters = []
    for (const resolve of waiters) resolve()
  }

  #overBudget(bytes: number): boolean {
    const budget = this.#opts.budget
    return budget !== undefined && budget.used + bytes > budget.max
  }

  /** Every new entry of the update is the room's authority's: a genesis, or the owner's or a moderator's. */
  #byAuthority(inspected: Inspection): boolean {
    const { fresh } = inspected
    return fresh.length > 0 && fresh.every((e) => e.kind === 'genesis' || this.#opts.authority?.(e.author) === true)
  }

  #reserve(bytes: number): void {
    this.#reserved += bytes
    if (this.#opts.budget && !this.#destroyed) this.#opts.budget.used += bytes
  }

  #take(inspected: Inspection): void {
    this.#bytes += inspected.bytes
    this.#copyBytes += inspected.copyBytes
    if (this.#opts.budget && !this.#destroyed) this.#opts.budget.used += inspected.bytes
  }
}
