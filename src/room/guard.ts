/**
 * Guard for remote Yjs updates, run BEFORE `Y.applyUpdate` on anything that
 * came from the network.
 *
 * Yjs itself authenticates nothing: any peer can delete any item or write
 * any shared type. The room model only ever appends signed binary entries to
 * the root array `log`, so an honest update has exactly that shape:
 *   - an empty delete set (we never delete; a deletion would let one peer
 *     erase another's signed entries on every replica that applies it),
 *   - only Items whose parent is the root `log` (directly, or inferred from an
 *     origin in the same update or already in the doc), no map keys,
 *   - only ContentBinary, each at most `maxEntryBytes`.
 * Anything else is rejected whole. The size cap is checked before decoding,
 * decoding (`Y.decodeUpdate`, V1) is wrapped in try/catch, and we never call
 * `Y.mergeUpdates*` on untrusted bytes (yjs issue 687: a crafted 27-byte input
 * makes the V2 merge loop forever). V1 decoding is bounded by the input: every
 * struct consumes at least one byte and reads past the end throw.
 * Bytes after the delete set are refused ('trailing-bytes'): Yjs ignores them,
 * so they would ride along on an accepted update (and be counted, forwarded,
 * stored as its size) for free.
 *
 * Signatures are not checked here (this is synchronous): `verify-update.ts`
 * runs this first, then decodes and verifies every new entry before the update
 * may be applied.
 */
import * as Y from 'yjs'
import type * as decoding from 'lib0/decoding'
import { MAX_ENTRY_BYTES } from './entry.ts'

export const LOG_NAME = 'log'

export type GuardReason =
  | 'too-large'
  | 'undecodable'
  | 'has-deletes'
  | 'foreign-type'
  | 'bad-content'
  | 'entry-too-large'
  | 'too-many-entries'
  | 'trailing-bytes'
  | 'bad-origin'

export interface GuardLimits {
  /** Max update size in bytes (checked before decoding). Default 4 MiB. */
  maxBytes?: number
  /** Max size of one log element. Default MAX_ENTRY_BYTES. */
  maxEntryBytes?: number
  /** Max number of structs in one update. Default 100,000. */
  maxStructs?: number
}

export type GuardResult =
  | { ok: true; entries: number }
  | { ok: false; reason: GuardReason; message: string }

export const DEFAULT_GUARD_LIMITS: Required<GuardLimits> = {
  maxBytes: 4 * 1024 * 1024,
  maxEntryBytes: MAX_ENTRY_BYTES,
  maxStructs: 100_000,
}

const fail = (reason: GuardReason, message: string): { ok: false; reason: GuardReason; message: string } => ({ ok: false, reason, message })

/** The log elements of an update that passed the guard: one Item per element, in update order. */
export type GuardedUpdate = { ok: true; items: Y.Item[] } | { ok: false; reason: GuardReason; message: string }

/**
 * Checks one V1 update. Never throws. `ok` means: safe to apply as far as its
 * shape goes; it only appends binary elements to the `log` array (signatures
 * are checked by `verify-update.ts` before applying, and by the replica).
 */
export function checkRemoteUpdate(update: Uint8Array, limits: GuardLimits = {}): GuardResult {
  const r = guardUpdate(update, limits)
  return r.ok ? { ok: true, entries: r.items.length } : r
}

/** `checkRemoteUpdate`, returning the log elements it found (for the entry checks that follow). */
export function guardUpdate(update: Uint8Array, limits: GuardLimits = {}): GuardedUpdate {
  const lim = { ...DEFAULT_GUARD_LIMITS, ...limits }
  if (!(update instanceof Uint8Array)) return fail('undecodable', 'update is not a Uint8Array')
  if (update.length > lim.maxBytes) return fail('too-large', `update of ${update.length} bytes exceeds ${lim.maxBytes}`)
  let decoded: DecodedWhole
  try {
    decoded = decodeWhole(update)
  } catch (err) {
    return fail('undecodable', `update does not decode: ${(err as Error)?.message ?? String(err)}`)
  }
  if (decoded.trailing > 0) return fail('trailing-bytes', `${decoded.trailing} bytes follow the update`)
  if (decoded.ds.clients.size > 0) return fail('has-deletes', 'update deletes items; the room log is append-only')
  if (decoded.structs.length > lim.maxStructs) return fail('too-many-entries', `update has ${decoded.structs.length} structs, limit ${lim.maxStructs}`)
  return checkStructs(decoded.structs, lim.maxEntryBytes)
}

function checkStructs(structs: Array<Y.Item | Y.GC | Y.Skip>, maxEntryBytes: number): GuardedUpdate {
  const items: Y.Item[] = []
  for (const s of structs) {
    if (s instanceof Y.Skip) continue
    if (s instanceof Y.GC) return fail('has-deletes', 'update carries garbage-collected (deleted) structs')
    const item = s as Y.Item
    // An explicit parent must be the root `log`. A parent inferred from an origin
    // points either into this update (whose items all pass this same check, or
    // the whole update is rejected) or into the local doc, which by this very
    // guard only ever holds `log` items. Map keys (parentSub) never belong to `log`.
    // In a decoded (not integrated) update, `parent` is the root name, an ID, or null.
    const parent = item.parent as unknown
    const explicitOk = parent === LOG_NAME
    const inferred = parent === null && (item.origin !== null || item.rightOrigin !== null)
    if ((!explicitOk && !inferred) || item.parentSub !== null) return fail('foreign-type', 'update writes outside the room log')
    // An element was written next to what existed then: never next to a later element of its own author.
    if (namesLaterOwn(item, item.origin) || namesLaterOwn(item, item.rightOrigin)) return fail('bad-origin', 'an element names a later element of its own author')
    const content = item.content
    if (content instanceof Y.ContentDeleted) return fail('has-deletes', 'update carries deleted content')
    if (!(content instanceof Y.ContentBinary)) return fail('bad-content', `log elements must be binary, got ${content?.constructor?.name ?? 'nothing'}`)
    if (content.content.length > maxEntryBytes) return fail('entry-too-large', `log element of ${content.content.length} bytes exceeds ${maxEntryBytes}`)
    items.push(item)
  }
  return { ok: true, items }
}

function namesLaterOwn(item: Y.Item, ref: Y.ID | null): boolean {
  return ref !== null && ref.client === item.id.client && ref.clock >= item.id.clock
}

interface DecodedWhole {
  structs: Array<Y.Item | Y.GC | Y.Skip>
  ds: { clients: Map<number, unknown> }
  /** Bytes left after the delete set. */
  trailing: number
}

/** The rest decoder of the last ProbeDecoder made; read right after the synchronous decode that made it. */
let probed: decoding.Decoder | null = null

/** Yjs' V1 update decoder, remembering where its input is, so the bytes left after the update can be counted. */
class ProbeDecoder extends Y.UpdateDecoderV1 {
  constructor(decoder: decoding.Decoder) {
    super(decoder)
    probed = decoder
  }
}

/** `Y.decodeUpdate` (which is `decodeUpdateV2` with the V1 decoder), plus the count of unread bytes. Throws on bad input. */
function decodeWhole(update: Uint8Array): DecodedWhole {
  probed = null
  const out = Y.decodeUpdateV2(update, ProbeDecoder) as Omit<DecodedWhole, 'trailing'>
  const rest = probed as decoding.Decoder | null
  probed = null
  return { ...out, trailing: rest ? update.length - rest.pos : 0 }
}
