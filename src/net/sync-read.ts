/**
 * Reading one received sync message into the doc and awareness: `readSyncMessage`,
 * the step kept apart from attachSync (sync.ts) because it is where untrusted bytes
 * meet the document.
 *
 * Invariants:
 * - Every update is checked structurally (`Y.decodeUpdate`) and passed through the
 *   injected `acceptUpdate` gate before it touches the document. The gate may answer
 *   later (a Promise: signatures are checked asynchronously); sync-backlog.ts holds the
 *   link's later messages meanwhile. A refused message yields a reason to count;
 *   nothing here throws (nor rejects) because of remote input. JavaScript cannot
 *   pre-empt a synchronous decode, so the size cap (checked before decoding) is the
 *   time budget: the decoders used here are linear in their input. `Y.mergeUpdates*`
 *   is never called (yjs issue 687: it hangs on a crafted 27-byte input).
 * - Awareness is decoded strictly, and a remote message never changes this client's
 *   own awareness entry.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { applyAwarenessUpdate, type Awareness } from 'y-protocols/awareness'
import { encodeStep2Messages, type SyncMessage, type SyncRejectReason, type UpdateGate } from './sync-protocol.ts'

/** What {@link readSyncMessage} applies to. */
export interface SyncContext {
  doc: Y.Doc
  awareness: Awareness | null
  /** Transaction / awareness origin for what is applied. */
  origin: unknown
  /** Gate for remote updates (the room guard); false drops the update. */
  acceptUpdate?: UpdateGate
  /** Gate for remote awareness states; false drops the whole awareness message. */
  acceptAwareness?: (clientId: number, state: Record<string, unknown>) => boolean
  /** Cap on one reply message. Default {@link DEFAULT_MAX_SYNC_MESSAGE_BYTES}. */
  maxMessageBytes?: number
}

/** Outcome of reading one message: replies to send in order, a rejection to count, or that step 2 arrived. */
export interface ReadResult {
  replies?: Uint8Array[]
  rejected?: SyncRejectReason
  synced?: boolean
}

/** Apply one decoded message to `ctx`. Never throws (nor rejects, when the gate answers later). */
export function readSyncMessage(message: SyncMessage, ctx: SyncContext): ReadResult | Promise<ReadResult> {
  switch (message.type) {
    case 'step1':
      try {
        return { replies: encodeStep2Messages(ctx.doc, message.stateVector, ctx.maxMessageBytes) }
      } catch {
        // Yjs throws on a malformed state vector; the caller counts the reason.
        return { rejected: 'malformed' }
      }
    case 'step2':
    case 'update': {
      // A step1 that lacked nothing is answered with an empty update: no entry to gate or apply.
      if (message.type === 'step2' && message.update.byteLength === 2 && message.update[0] === 0 && message.update[1] === 0) return { synced: true }
      const done = (rejected: SyncRejectReason | undefined): ReadResult =>
        rejected !== undefined ? { rejected } : message.type === 'step2' ? { synced: true } : {}
      const rejected = applyRemoteUpdate(ctx, message.update)
      return rejected instanceof Promise ? rejected.then(done) : done(rejected)
    }
    case 'awareness': {
      const rejected = applyRemoteAwareness(ctx, message.update)
      return rejected === undefined ? {} : { rejected }
    }
  }
}

type Rejection = SyncRejectReason | undefined

function applyRemoteUpdate(ctx: SyncContext, update: Uint8Array): Rejection | Promise<Rejection> {
  try {
    Y.decodeUpdate(update) // structural check first: a malformed tail must not leave half an update applied
  } catch {
    return 'malformed'
  }
  if (ctx.acceptUpdate === undefined) return applyNow(ctx, update)
  let verdict: boolean | Promise<boolean>
  try {
    verdict = ctx.acceptUpdate(update)
  } catch {
    // A gate that throws refuses.
    return 'gate'
  }
  if (!(verdict instanceof Promise)) return verdict ? applyNow(ctx, update) : 'gate'
  // A gate that rejects refuses. A verified update still applies if the link closed meanwhile:
  // it is valid, and a writer that left at once (a one-shot CLI) must not lose it.
  return verdict.then((ok) => (!ok ? 'gate' : ctx.doc.isDestroyed ? undefined : applyNow(ctx, update)), () => 'gate' as const)
}

function applyNow(ctx: SyncContext, update: Uint8Array): Rejection {
  try {
    Y.applyUpdate(ctx.doc, update, ctx.origin)
  } catch {
    return 'apply-error'
  }
  return undefined
}

interface AwarenessEntry {
  clientId: number
  clock: number
  state: Record<string, unknown> | null
}

function applyRemoteAwareness(ctx: SyncContext, update: Uint8Array): SyncRejectReason | undefined {
  const awareness = ctx.awareness
  if (awareness === null) return undefined // this side does not track presence
  let entries: AwarenessEntry[]
  try {
    entries = decodeAwarenessEntries(update)
  } catch {
    return 'malformed'
  }
  const kept: AwarenessEntry[] = []
  for (const entry of entries) {
    if (entry.clientId === awareness.clientID) continue // our own entry echoed, or someone overwriting it
    if (entry.state !== null && ctx.acceptAwareness !== undefined) {
      try {
        if (!ctx.acceptAwareness(entry.clientId, entry.state)) return 'awareness-invalid'
      } catch {
        return 'awareness-invalid'
      }
    }
    kept.push(entry)
  }
  if (kept.length === 0) return undefined
  try {
    applyAwarenessUpdate(awareness, encodeAwarenessEntries(kept), ctx.origin)
  } catch {
    return 'apply-error'
  }
  return undefined
}

/** Decode a y-protocols awareness update strictly. Throws on anything malformed. */
function decodeAwarenessEntries(update: Uint8Array): AwarenessEntry[] {
  const decoder = decoding.createDecoder(update)
  const count = decoding.readVarUint(decoder)
  // Each entry takes at least 3 bytes: a claimed count beyond that is a lie.
  if (count > update.byteLength) throw new Error('awareness count exceeds input')
  const entries: AwarenessEntry[] = []
  for (let i = 0; i < count; i++) {
    const clientId = decoding.readVarUint(decoder)
    const clock = decoding.readVarUint(decoder)
    const state: unknown = JSON.parse(decoding.readVarString(decoder))
    if (state !== null && (typeof state !== 'object' || Array.isArray(state))) {
      throw new Error('awareness state must be an object or null')
    }
    entries.push({ clientId, clock, state: state as Record<string, unknown> | null })
  }
  if (decoding.hasContent(decoder)) throw new Error('trailing bytes after awareness update')
  return entries
}

function encodeAwarenessEntries(entries: AwarenessEntry[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, entries.length)
  for (const { clientId, clock, state } of entries) {
    encoding.writeVarUint(encoder, clientId)
    encoding.writeVarUint(encoder, clock)
    encoding.writeVarString(encoder, JSON.stringify(state))
  }
  return encoding.toUint8Array(encoder)
}
