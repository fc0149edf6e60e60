/**
 * RoomReplica: the live, validated view of one room doc.
 *
 * It observes the doc's `log` array, decodes and verifies each new element
 * exactly once (WebCrypto Ed25519, batched per Yjs transaction, results cached
 * by entry id), then recomputes the effective state with the pure
 * `computeState` and emits a `change` event with a diff.
 *
 * Invariants:
 *   - The log is read as a SET: the same bytes appended twice (or by two
 *     peers) count once, extra copies are counted as 'duplicate'.
 *   - Nothing is ever deleted from the doc by this code; the replica only reads.
 *   - State is a function of the verified entry set and `now` alone, so
 *     replicas that hold the same entries agree whatever the arrival order.
 *   - No timers: call `recompute()` when the clock moves past `state.recheckAt`.
 */
import * as Y from 'yjs'
import { verifySignature } from '../identity/index.ts'
import { blobId } from './codec.ts'
import { decodeEntry, type Entry } from './entry.ts'
import { redeemProofMessage } from './link-grant.ts'
import { emptyRejectCounts, type RejectReason } from './errors.ts'
import { computeFromIndex, computeState, DEFAULT_SKEW_MS, type RoomState } from './state.ts'
import { EntryIndex } from './entry-index.ts'
import { diffStates, isEmptyDiff, type RoomDiff } from './diff.ts'
import { LOG_NAME } from './guard.ts'

export interface ReplicaOptions {
  roomId: string
  /** Clock in ms (injected; defaults to Date.now). */
  now?: () => number
  skewMs?: number
  /**
   * Entries whose signatures the caller already checked, not checked again: an UpdateVerifier
   * (what it decoded is not decoded again either), or its `isVerified`.
   */
  verified?: ((id: string) => boolean) | VerifiedSource
}

/** What the gate in front of a doc (an UpdateVerifier) knows of the entries it let in. */
export interface VerifiedSource {
  /** Whether entry `id` passed the signature check there. */
  isVerified(id: string): boolean
  /** The entry `item`'s element decoded to there, if it did (its signature: `isVerified`). */
  decoded(item: Y.Item): Entry | undefined
}

export type ChangeListener = (diff: RoomDiff, state: RoomState) => void

type Status = Entry | RejectReason | 'pending'

/** The log array of a room doc. */
export function logOf(doc: Y.Doc): Y.Array<Uint8Array> {
  return doc.getArray<Uint8Array>(LOG_NAME)
}

export class RoomReplica {
  readonly doc: Y.Doc
  readonly roomId: string
  readonly log: Y.Array<Uint8Array>
  private readonly now: () => number
  private readonly skewMs: number
  private readonly preVerified: ((id: string) => boolean) | undefined
  private readonly preDecoded: ((item: Y.Item) => Entry | undefined) | undefined
  private readonly status = new Map<string, Status>()
  private readonly verified: Entry[] = []
  /** The incrementally kept entry index (read-only for callers; benches time computeFromIndex on it). */
  readonly index: EntryIndex
  /** Rejections decided before computeState (malformed, bad-signature, duplicate, wrong-room). */
  private readonly pre = emptyRejectCounts()
  private current: RoomState
  private pending = 0
  private waiters: Array<() => void> = []
  private listeners = new Set<ChangeListener>()
  private destroyed = false
  private readonly observer: (e: Y.YArrayEvent<Uint8Array>) => void

  constructor(doc: Y.Doc, opts: ReplicaOptions) {
    this.doc = doc
    this.roomId = opts.roomId
    this.now = opts.now ?? Date.now
    this.skewMs = opts.skewMs ?? DEFAULT_SKEW_MS
    const verified = opts.verified
    this.preVerified = typeof verified === 'function' ? verified : verified && ((id) => verified.isVerified(id))
    this.preDecoded = typeof verified === 'object' ? (item) => verified.decoded(item) : undefined
    this.log = logOf(doc)
    this.index = new EntryIndex(this.roomId, this.now() + this.skewMs)
    this.current = computeState([], { roomId: this.roomId, now: this.now(), skewMs: this.skewMs })
    this.observer = (event) => {
      const added: unknown[] = []
      const decoded: Entry[] = []
      for (const item of addedItems(event.transaction, this.log)) {
        const entry = this.preDecoded?.(item)
        if (entry) decoded.push(entry)
        else for (const x of item.content.getContent() as unknown[]) added.push(x)
      }
      if (added.length + decoded.length > 0) this.ingest(added, decoded)
    }
    this.log.observe(this.observer)
    this.ingest(this.log.toArray())
  }

  /** The current effective state (replaced, never mutated, on change). */
  get state(): RoomState {
    return this.current
  }

  /** Rejected entries by reason. */
  get rejected(): Record<RejectReason, number> {
    return this.current.rejected
  }

  /** Entries that passed signature verification, in arrival order. */
  get entries(): readonly Entry[] {
    return this.verified
  }

  /** Resolves once the initial log content is verified and applied. */
  ready(): Promise<void> {
    return this.whenSettled()
  }

  /** Resolves once no verification is pending (new arrivals later start a new wait). */
  whenSettled(): Promise<void> {
    if (this.pending === 0) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  on(_event: 'change', fn: ChangeListener): () => void {
    this.listeners.add(fn)
    return () => this.off('change', fn)
  }

  off(_event: 'change', fn: ChangeListener): void {
    this.listeners.delete(fn)
  }

  /** Re-evaluates the state with the current clock (e.g. once `state.recheckAt` has passed). */
  recompute(): void {
    if (this.destroyed) return
    const next = computeFromIndex(this.index, { roomId: this.roomId, now: this.now(), skewMs: this.skewMs, baseRejected: this.pre })
    const prev = this.current
    this.current = next
    const diff = diffStates(prev, next)
    if (isEmptyDiff(diff)) return
    for (const fn of [...this.listeners]) fn(diff, next)
  }

  /** Stops observing the doc. Idempotent. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.log.unobserve(this.observer)
    this.listeners.clear()
    this.flushWaiters()
  }

  /** A verified entry by id. */
  get(id: string): Entry | undefined {
    const s = this.status.get(id)
    return typeof s === 'object' ? s : undefined
  }

  /** The reason an entry id was rejected, if any (after settling). */
  reasonOf(id: string): RejectReason | undefined {
    const s = this.status.get(id)
    if (typeof s === 'string') return s === 'pending' ? undefined : s
    return this.current.reasons.get(id)
  }

  /** `items`: elements of the log; `decoded`: more of them, as the gate in front of the doc decoded them. */
  private ingest(items: unknown[], decoded: readonly Entry[] = []): void {
    const batch: Entry[] = []
    const take = (id: string, e: Entry | null): void => {
      if (this.status.has(id)) {
        this.pre.duplicate++
      } else if (!e) {
        this.status.set(id, 'malformed')
        this.pre.malformed++
      } else if (e.roomId !== this.roomId) {
        this.status.set(id, 'wrong-room')
        this.pre['wrong-room']++
      } else {
        this.status.set(id, 'pending')
        batch.push(e)
      }
    }
    for (const item of items) {
      if (!(item instanceof Uint8Array)) {
        this.pre.malformed++
        continue
      }
      const id = blobId(item)
      take(id, this.status.has(id) ? null : decodeEntry(item, id))
    }
    for (const e of decoded) take(e.id, e)
    if (batch.length === 0) {
      this.recompute()
      return
    }
    this.pending++
    void Promise.all(batch.map((e) => this.preVerified?.(e.id) === true || verifyEntry(e))).then(
      (oks) => this.settle(batch, oks),
      // verifyEntry never rejects; if the engine does, count the batch as unverifiable.
      () => this.settle(batch, batch.map(() => false)),
    )
  }

  private settle(batch: Entry[], oks: boolean[]): void {
    this.pending--
    if (!this.destroyed) {
      for (let i = 0; i < batch.length; i++) {
        const e = batch[i]!
        if (oks[i]) {
          this.status.set(e.id, e)
          this.verified.push(e)
          this.index.add(e)
        } else {
          this.status.set(e.id, 'bad-signature')
          this.pre['bad-signature']++
        }
      }
      this.recompute()
    }
    if (this.pending === 0) this.flushWaiters()
  }

  private flushWaiters(): void {
    const w = this.waiters
    this.waiters = []
    for (const fn of w) fn()
  }
}

/**
 * The Yjs items `tr` added to `type` (not deleted since), read from the struct store between
 * the transaction's state vectors. Not `event.changes`: that walks the whole array and
 * concatenates every run of inserts into a new array per item: O(n^2) copies and garbage for a
 * transaction of n entries (a 1 MiB sync part holds ~6,700), and O(log) work per transaction.
 * Order: by Yjs client, then clock (a replica reads the log as a set).
 */
export function addedItems(tr: Y.Transaction, type: Y.Array<Uint8Array>): Y.Item[] {
  const out: Y.Item[] = []
  const clients = tr.doc.store.clients
  for (const [client, after] of tr.afterState) {
    const before = tr.beforeState.get(client) ?? 0
    const structs = clients.get(client)
    if (after <= before || !structs) continue
    for (let i = Y.findIndexSS(structs, before); i < structs.length; i++) {
      const s = structs[i]!
      if (s.id.clock >= after) break
      if (s instanceof Y.Item && s.parent === type && !s.deleted) out.push(s)
    }
  }
  return out
}

/** Verifies an entry's signature and, for a redeem, the link grant's issuer signature and the holder proof. */
export async function verifyEntry(e: Entry): Promise<boolean> {
  const own = verifySignature(e.authorKey, e.signed, e.sig)
  if (e.kind !== 'redeem') return own
  const oks = await Promise.all([
    own,
    verifySignature(e.link.issuerKey, e.link.signed, e.link.sig),
    verifySignature(e.link.holder, redeemProofMessage(e.roomId, e.authorKey), e.proof),
  ])
  return oks[0] && oks[1] && oks[2]
}
