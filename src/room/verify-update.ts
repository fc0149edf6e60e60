/**
 * Verifies an untrusted Yjs update to a room doc BEFORE it is applied: the one
 * gate every replica runs on what arrives from the network (the client's sync
 * guard and the relay's room gate both use this class).
 *
 * An update may be applied when, in this order (cheap checks first):
 *   1. its shape passes the room guard (`guardUpdate`: size cap, append-only,
 *      binary elements of the root `log` only, no bytes after the update);
 *   2. every element it adds (a struct this doc does not hold yet) decodes as
 *      an entry of this room ('malformed-entry', 'foreign-room');
 *   3. it adds something ('no-new-entry': an update that only repeats structs
 *      the doc holds, or an empty one, brings nothing and is refused);
 *   4. the signature of every entry new to the doc verifies ('bad-signature';
 *      for a redeem, the link grant's and the holder's too).
 * A refused update is refused whole: nothing of it reaches the doc.
 *
 * New copies of entries the doc already holds (the same bytes appended again
 * under another Yjs client) are not refused: every joiner seeds its doc with
 * the genesis from its invite link before syncing, so honest logs hold one
 * copy per member, and each copy is the first struct of its client's chain:
 * refusing it would strand every later entry of that client (Yjs keeps them
 * pending until it arrives). They are reported (`copyBytes`) so that a store
 * can bound them.
 *
 * `bytes` of an accepted update is the size of the entries it adds to the
 * doc: what a doc-size cap should count (never the size of the update, which
 * an attacker pads for free).
 *
 * Entries verified here are remembered (`isVerified`), so the RoomReplica that
 * reads the doc does not verify them again; nor decode nor hash them again
 * (`decoded`: what an accepted update's elements decoded to, by Yjs item id,
 * checked byte for byte against what the doc integrated; kept until the doc
 * holds those ids). A 20,000-entry log used to be decoded twice and hashed
 * three times on its way in.
 *
 * Invariants: never throws on remote input; the room id, once bound, never
 * changes; an update that adds no struct is accepted (as a no-op) only with
 * `refuseNothingNew: false` (a client's sync step 2 may legitimately bring
 * nothing new, and refusing it would leave the sync unfinished).
 */
import * as Y from 'yjs'
import { guardUpdate, type GuardLimits, type GuardReason } from './guard.ts'
import { blobId } from './codec.ts'
import { decodeEntry, type Entry } from './entry.ts'
import { addedItems, logOf, verifyEntry } from './replica.ts'

export type UpdateRefusal = GuardReason | 'malformed-entry' | 'foreign-room' | 'no-new-entry' | 'bad-signature'

export const UPDATE_REFUSALS: readonly UpdateRefusal[] = [
  'too-large',
  'undecodable',
  'trailing-bytes',
  'bad-origin',
  'has-deletes',
  'foreign-type',
  'bad-content',
  'entry-too-large',
  'too-many-entries',
  'malformed-entry',
  'foreign-room',
  'no-new-entry',
  'bad-signature',
]

export interface UpdateVerifierOptions {
  /** The doc updates are meant for: what it holds is not new. */
  doc: Y.Doc
  /** The room id, when known (a client always knows it). */
  roomId?: string | null
  /** Without a room id: whether an entry naming `roomId` may bind it (the relay: it hashes to the discovery key). */
  admits?: (roomId: string) => boolean
  limits?: GuardLimits
  /** Refuse an update that adds no struct at all. Default true. */
  refuseNothingNew?: boolean
}

/** What an update would add, before signatures are checked. */
export interface Inspection {
  ok: true
  /** The room id the update's entries name (null when it adds none and none is known). */
  roomId: string | null
  /** Entries new to the doc, once each. */
  fresh: Entry[]
  /** Bytes of every element the update adds to the doc (new entries and new copies of known ones). */
  bytes: number
  /** Of those, the bytes of new copies of entries already in the doc (or twice in the update). */
  copyBytes: number
  /** Structs the doc does not hold yet. */
  added: number
}

export type UpdateVerdict = Inspection | { ok: false; reason: UpdateRefusal }

/** An element of an update and what it decoded to. */
interface Decoded {
  client: number
  clock: number
  entry: Entry
}

/** Decodings of accepted updates kept for the doc's readers at most (past it they decode again: slower, same result). */
const MAX_ARRIVING = 50_000

export class UpdateVerifier {
  readonly #opts: UpdateVerifierOptions
  readonly #log: Y.Array<Uint8Array>
  /** Ids of the entries in the doc (any copy). */
  readonly #known = new Set<string>()
  /** Ids verified here, for the replica. */
  readonly #verified = new Set<string>()
  /** Each inspection's decoded elements, until it is checked (or dropped). */
  readonly #decodings = new WeakMap<Inspection, Decoded[]>()
  /** Decoded elements of accepted updates the doc does not hold yet: client -> clock -> entry. */
  #arriving = new Map<number, Map<number, Entry>>()
  #arrivingCount = 0
  #roomId: string | null
  #destroyed = false

  constructor(opts: UpdateVerifierOptions) {
    this.#opts = opts
    this.#roomId = opts.roomId ?? null
    this.#log = logOf(opts.doc)
    for (const bytes of this.#log.toArray()) if (bytes instanceof Uint8Array) this.#known.add(blobId(bytes))
    this.#log.observe(this.#observer)
    opts.doc.on('afterTransaction', this.#arrived)
  }

  get roomId(): string | null {
    return this.#roomId
  }

  /** Whether entry `id` passed the signature check here (the replica need not check it again). */
  readonly isVerified = (id: string): boolean => this.#verified.has(id)

  /**
   * The entry an accepted update's element decoded to, if `item` (integrated into the doc) is
   * that element, byte for byte; else undefined (the caller decodes it). Says nothing of its
   * signature: ask `isVerified`.
   */
  readonly decoded = (item: Y.Item): Entry | undefined => {
    const entry = this.#arriving.get(item.id.client)?.get(item.id.clock)
    const content = item.content
    return entry && content instanceof Y.ContentBinary && sameBytes(entry.bytes, content.content) ? entry : undefined
  }

  /** Steps 1-3 (synchronous, no signature checked). */
  inspect(update: Uint8Array): UpdateVerdict {
    const guarded = guardUpdate(update, this.#opts.limits)
    if (!guarded.ok) return { ok: false, reason: guarded.reason }
    const store = this.#opts.doc.store
    let roomId = this.#roomId
    let bytes = 0
    let copyBytes = 0
    let added = 0
    const fresh = new Map<string, Entry>()
    const decodings: Decoded[] = []
    for (const item of guarded.items) {
      if (item.id.clock < Y.getState(store, item.id.client)) continue
      const content = (item.content as Y.ContentBinary).content
      const entry = decodeEntry(content)
      if (!entry) return { ok: false, reason: 'malformed-entry' }
      if (roomId === null && this.#opts.admits?.(entry.roomId)) roomId = entry.roomId
      if (entry.roomId !== roomId) return { ok: false, reason: 'foreign-room' }
      added++
      bytes += content.byteLength
      decodings.push({ client: item.id.client, clock: item.id.clock, entry })
      if (this.#known.has(entry.id) || fresh.has(entry.id)) copyBytes += content.byteLength
      else fresh.set(entry.id, entry)
    }
    if (added === 0 && this.#opts.refuseNothingNew !== false) return { ok: false, reason: 'no-new-entry' }
    const inspection: Inspection = { ok: true, roomId, fresh: [...fresh.values()], bytes, copyBytes, added }
    this.#decodings.set(inspection, decodings)
    return inspection
  }

  /** All four steps. On success the new entries are remembered as verified and the room id is bound. */
  async verify(update: Uint8Array): Promise<UpdateVerdict> {
    const inspected = this.inspect(update)
    if (!inspected.ok) return inspected
    return this.check(inspected)
  }

  /** Step 4 for an inspection made by `inspect` (a caller may check its own limits in between). */
  async check(inspected: Inspection): Promise<UpdateVerdict> {
    if (!(await verifyAll(inspected.fresh))) return { ok: false, reason: 'bad-signature' }
    if (this.#destroyed) return inspected
    for (const e of inspected.fresh) this.#verified.add(e.id)
    if (this.#roomId === null && inspected.roomId !== null) this.#roomId = inspected.roomId
    this.#expect(inspected)
    return inspected
  }

  /**
   * Takes an inspection on trust (bytes this replica stored itself): binds its room id, but
   * marks nothing verified, so the replica checks its signatures as usual.
   */
  trust(inspected: Inspection): void {
    if (this.#roomId === null && inspected.roomId !== null) this.#roomId = inspected.roomId
    this.#expect(inspected)
  }

  /** Stops observing the doc. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#log.unobserve(this.#observer)
    this.#opts.doc.off('afterTransaction', this.#arrived)
    this.#arriving.clear()
  }

  /** Keeps an accepted inspection's decodings for the doc's readers, until the doc holds them. */
  #expect(inspected: Inspection): void {
    const decodings = this.#decodings.get(inspected)
    this.#decodings.delete(inspected)
    if (!decodings || this.#destroyed) return
    if (this.#arrivingCount + decodings.length > MAX_ARRIVING) {
      this.#arriving = new Map()
      this.#arrivingCount = 0
    }
    for (const { client, clock, entry } of decodings) {
      let byClock = this.#arriving.get(client)
      if (!byClock) this.#arriving.set(client, (byClock = new Map()))
      if (!byClock.has(clock)) this.#arrivingCount++
      byClock.set(clock, entry)
    }
  }

  readonly #observer = (event: Y.YArrayEvent<Uint8Array>): void => {
    for (const item of addedItems(event.transaction, this.#log)) {
      const entry = this.decoded(item)
      if (entry) this.#known.add(entry.id)
      else for (const x of item.content.getContent() as unknown[]) if (x instanceof Uint8Array) this.#known.add(blobId(x))
    }
  }

  /**
   * After every transaction (its observers have read them): forgets the decodings of every id the
   * doc holds now, whoever's update brought it (an update verified twice, on two links, is
   * integrated once: the second one's decodings go here too).
   */
  readonly #arrived = (): void => {
    if (this.#arrivingCount === 0) return
    const store = this.#opts.doc.store
    for (const [client, byClock] of this.#arriving) {
      const state = Y.getState(store, client)
      for (const clock of byClock.keys()) {
        if (clock >= state) continue
        byClock.delete(clock)
        this.#arrivingCount--
      }
      if (byClock.size === 0) this.#arriving.delete(client)
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Verifies in growing batches (8, 16, ... 512 at once): a flood of bad signatures
 * costs the first small batch, an honest log of thousands keeps the crypto threads busy.
 */
async function verifyAll(entries: readonly Entry[]): Promise<boolean> {
  let batch = 8
  for (let i = 0; i < entries.length; i += batch, batch = Math.min(batch * 2, 512)) {
    let oks: boolean[]
    try {
      oks = await Promise.all(entries.slice(i, i + batch).map(verifyEntry))
    } catch {
      // verifyEntry does not reject; an engine failure counts as a bad signature.
      return false
    }
    if (oks.includes(false)) return false
  }
  return true
}
