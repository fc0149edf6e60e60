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
 */
import * as Y from 'yjs'
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

const fail = (reason: GuardReason, message: string): GuardResult => ({ ok: false, reason, message })

/**
 * Checks one V1 update. Never throws. `ok` means: safe to apply; it only
 * appends binary elements to the `log` array (signatures are checked later by
 * the replica).
 */
export function checkRemoteUpdate(update: Uint8Array, limits: GuardLimits = {}): GuardResult {
  const lim = { ...DEFAULT_GUARD_LIMITS, ...limits }
  if (!(update instanceof Uint8Array)) return fail('undecodable', 'update is not a Uint8Array')
  if (update.length > lim.maxBytes) return fail('too-large', `update of ${update.length} bytes exceeds ${lim.maxBytes}`)
  let decoded: { structs: Array<Y.Item | Y.GC | Y.Skip>; ds: { clients: Map<number, unknown> } }
  try {
    decoded = Y.decodeUpdate(update) as typeof decoded
  } catch (err) {
    return fail('undecodable', `update does not decode: ${(err as Error)?.message ?? String(err)}`)
  }
  if (decoded.ds.clients.size > 0) return fail('has-deletes', 'update deletes items; the room log is append-only')
  if (decoded.structs.length > lim.maxStructs) return fail('too-many-entries', `update has ${decoded.structs.length} structs, limit ${lim.maxStructs}`)

  let entries = 0
  for (const s of decoded.structs) {
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
    const content = item.content
    if (content instanceof Y.ContentDeleted) return fail('has-deletes', 'update carries deleted content')
    if (!(content instanceof Y.ContentBinary)) return fail('bad-content', `log elements must be binary, got ${content?.constructor?.name ?? 'nothing'}`)
    if (content.content.length > lim.maxEntryBytes) return fail('entry-too-large', `log element of ${content.content.length} bytes exceeds ${lim.maxEntryBytes}`)
    entries++
  }
  return { ok: true, entries }
}
