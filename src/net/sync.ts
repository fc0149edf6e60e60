/**
 * Yjs document and awareness sync over one {@link Link}.
 *
 * Wire format (one Link message each): a message-type byte, then one
 * lib0 `varUint8Array` payload, nothing after it.
 *
 *   0 step1      payload: the sender's state vector
 *   1 step2      payload: an update with everything the receiver's step1 lacked
 *   2 update     payload: an incremental document update
 *   3 awareness  payload: a y-protocols awareness update
 *
 * Protocol (as y-protocols/sync): on attach each side sends step1 and its
 * awareness; a step1 is answered with step2; from then on local document
 * changes and awareness changes flow as they happen. After both step2s the
 * two documents hold the same updates; Yjs makes them converge.
 *
 * Invariants:
 * - Bytes from the link are untrusted. Every message is size-capped before
 *   decoding, decoded inside try/catch, checked structurally (`Y.decodeUpdate`)
 *   and passed through the injected `acceptUpdate` gate before it touches the
 *   document. A refused message is counted in `stats.rejected[reason]` and
 *   dropped; nothing here throws because of remote input. JavaScript cannot
 *   pre-empt a synchronous decode, so the size cap is the time budget: the
 *   decoders used here are linear in their input. `Y.mergeUpdates*` is never
 *   called (yjs issue 687: it hangs on a crafted 27-byte input).
 * - Updates whose transaction origin is this attachment's origin came from this
 *   link and are not echoed back. Every other update is sent, including ones
 *   that arrived over other links: forwarding makes any connected graph of
 *   peers converge, and Yjs drops what a replica already has.
 * - Awareness is owner-served: by default only this client's own state is sent
 *   (each peer hears each other peer directly in a mesh). A hub (the relay)
 *   sets `forwardAwareness` to pass on every state it knows. A remote message
 *   never changes this client's own awareness entry.
 * - Detach (explicit, on link 'close' or on doc 'destroy') removes every
 *   listener attach added and drops the awareness states that arrived over this
 *   link. With forwarding, a state also heard over another link may vanish until
 *   its owner's next heartbeat (at most 15 s).
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates, type Awareness } from 'y-protocols/awareness'
import type { Link } from './link.ts'

export const MSG_SYNC_STEP1 = 0
export const MSG_SYNC_STEP2 = 1
export const MSG_UPDATE = 2
export const MSG_AWARENESS = 3

/** Default cap for one sync message: 1 MiB (a whole room doc must fit in one step2). */
export const DEFAULT_MAX_SYNC_MESSAGE_BYTES = 1 << 20

/** A decoded sync message. */
export type SyncMessage =
  | { type: 'step1'; stateVector: Uint8Array }
  | { type: 'step2'; update: Uint8Array }
  | { type: 'update'; update: Uint8Array }
  | { type: 'awareness'; update: Uint8Array }

const TYPE_BYTE: Record<SyncMessage['type'], number> = {
  step1: MSG_SYNC_STEP1,
  step2: MSG_SYNC_STEP2,
  update: MSG_UPDATE,
  awareness: MSG_AWARENESS,
}

/** Why an incoming message was dropped. */
export type SyncRejectReason =
  /** Longer than `maxMessageBytes`; not decoded at all. */
  | 'oversize'
  /** Framing, state vector, update or awareness bytes do not parse. */
  | 'malformed'
  /** Unknown message-type byte. */
  | 'unknown-type'
  /** `acceptUpdate` returned false or threw. */
  | 'gate'
  /** Yjs threw while applying an update that parsed and passed the gate. */
  | 'apply-error'
  /** An awareness entry that is not an object or null, or that `acceptAwareness` refused. */
  | 'awareness-invalid'

export const SYNC_REJECT_REASONS: readonly SyncRejectReason[] = [
  'oversize',
  'malformed',
  'unknown-type',
  'gate',
  'apply-error',
  'awareness-invalid',
]

/** Counters for one attachment, or shared by several (pass the same object in). */
export interface SyncStats {
  messagesIn: number
  bytesIn: number
  messagesOut: number
  bytesOut: number
  /** Outgoing messages dropped: larger than `maxMessageBytes`, or the link refused them. */
  droppedOutgoing: number
  rejected: Record<SyncRejectReason, number>
}

export function createSyncStats(): SyncStats {
  const rejected = {} as Record<SyncRejectReason, number>
  for (const reason of SYNC_REJECT_REASONS) rejected[reason] = 0
  return { messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0, droppedOutgoing: 0, rejected }
}

// ---------------------------------------------------------------------------
// Pure protocol functions

export function encodeSyncMessage(msg: SyncMessage): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeUint8(encoder, TYPE_BYTE[msg.type])
  encoding.writeVarUint8Array(encoder, msg.type === 'step1' ? msg.stateVector : msg.update)
  return encoding.toUint8Array(encoder)
}

export type DecodeResult = { ok: true; message: SyncMessage } | { ok: false; reason: SyncRejectReason }

/** Decode one message from untrusted bytes. Never throws. */
export function decodeSyncMessage(bytes: Uint8Array, maxBytes = DEFAULT_MAX_SYNC_MESSAGE_BYTES): DecodeResult {
  if (bytes.byteLength > maxBytes) return { ok: false, reason: 'oversize' }
  try {
    const decoder = decoding.createDecoder(bytes)
    const type = decoding.readUint8(decoder)
    if (type > MSG_AWARENESS) return { ok: false, reason: 'unknown-type' }
    const payload = decoding.readVarUint8Array(decoder)
    if (decoding.hasContent(decoder)) return { ok: false, reason: 'malformed' }
    switch (type) {
      case MSG_SYNC_STEP1:
        return { ok: true, message: { type: 'step1', stateVector: payload } }
      case MSG_SYNC_STEP2:
        return { ok: true, message: { type: 'step2', update: payload } }
      case MSG_UPDATE:
        return { ok: true, message: { type: 'update', update: payload } }
      default:
        return { ok: true, message: { type: 'awareness', update: payload } }
    }
  } catch {
    // lib0 throws on truncated input; the caller counts the reason.
    return { ok: false, reason: 'malformed' }
  }
}

/** Step 1: this doc's state vector. */
export function encodeStep1(doc: Y.Doc): Uint8Array {
  return encodeSyncMessage({ type: 'step1', stateVector: Y.encodeStateVector(doc) })
}

/** Step 2: what a peer with `stateVector` lacks. Throws if `stateVector` is malformed. */
export function encodeStep2(doc: Y.Doc, stateVector: Uint8Array): Uint8Array {
  return encodeSyncMessage({ type: 'step2', update: Y.encodeStateAsUpdate(doc, stateVector) })
}

export function encodeUpdate(update: Uint8Array): Uint8Array {
  return encodeSyncMessage({ type: 'update', update })
}

/** Awareness states (or removals) of `clients`, as known to `awareness`. */
export function encodeAwareness(awareness: Awareness, clients: number[]): Uint8Array {
  return encodeSyncMessage({ type: 'awareness', update: encodeAwarenessUpdate(awareness, clients) })
}

/** What {@link readSyncMessage} applies to. */
export interface SyncContext {
  doc: Y.Doc
  awareness: Awareness | null
  /** Transaction / awareness origin for what is applied. */
  origin: unknown
  /** Gate for remote updates (the room guard); false drops the update. */
  acceptUpdate?: (update: Uint8Array) => boolean
  /** Gate for remote awareness states; false drops the whole awareness message. */
  acceptAwareness?: (clientId: number, state: Record<string, unknown>) => boolean
}

/** Outcome of reading one message: a reply to send, a rejection to count, or that step 2 arrived. */
export interface ReadResult {
  reply?: Uint8Array
  rejected?: SyncRejectReason
  synced?: boolean
}

/** Apply one decoded message to `ctx`. Never throws. */
export function readSyncMessage(message: SyncMessage, ctx: SyncContext): ReadResult {
  switch (message.type) {
    case 'step1':
      try {
        return { reply: encodeStep2(ctx.doc, message.stateVector) }
      } catch {
        // Yjs throws on a malformed state vector; the caller counts the reason.
        return { rejected: 'malformed' }
      }
    case 'step2':
    case 'update': {
      const rejected = applyRemoteUpdate(ctx, message.update)
      if (rejected !== undefined) return { rejected }
      return message.type === 'step2' ? { synced: true } : {}
    }
    case 'awareness': {
      const rejected = applyRemoteAwareness(ctx, message.update)
      return rejected === undefined ? {} : { rejected }
    }
  }
}

function applyRemoteUpdate(ctx: SyncContext, update: Uint8Array): SyncRejectReason | undefined {
  try {
    Y.decodeUpdate(update) // structural check first: a malformed tail must not leave half an update applied
  } catch {
    return 'malformed'
  }
  if (ctx.acceptUpdate !== undefined) {
    try {
      if (!ctx.acceptUpdate(update)) return 'gate'
    } catch {
      // A gate that throws refuses.
      return 'gate'
    }
  }
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

// ---------------------------------------------------------------------------
// Attaching a doc to a link

export interface AttachSyncOptions {
  /** Origin of remote changes applied to the doc and awareness. Default: the link. */
  origin?: unknown
  /** Gate for remote updates (plug the room guard in here). */
  acceptUpdate?: (update: Uint8Array) => boolean
  /** Gate for remote awareness states (presence schema). */
  acceptAwareness?: (clientId: number, state: Record<string, unknown>) => boolean
  /** Cap on one message, in and out. Default {@link DEFAULT_MAX_SYNC_MESSAGE_BYTES}. */
  maxMessageBytes?: number
  /** Send every awareness state this side knows, not only its own (hubs). Default false. */
  forwardAwareness?: boolean
  /** Counters to add to (share one object across links to aggregate). */
  stats?: SyncStats
  /** Called once, when the remote's step 2 has been applied. */
  onSynced?: () => void
}

/** Call to detach; also carries the attachment's counters and state. */
export interface SyncAttachment {
  (): void
  readonly stats: SyncStats
  /** The remote's step 2 has been applied. */
  readonly synced: boolean
  readonly detached: boolean
}

type AwarenessChanges = { added: number[]; updated: number[]; removed: number[] }

/**
 * Keep `doc` (and `awareness`, if given) in sync with the peer at the other end
 * of `link` until the returned function is called, the link closes or the doc
 * is destroyed.
 */
export function attachSync(
  doc: Y.Doc,
  awareness: Awareness | null,
  link: Link,
  options: AttachSyncOptions = {},
): SyncAttachment {
  const origin = options.origin ?? link
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_SYNC_MESSAGE_BYTES
  const forwardAwareness = options.forwardAwareness ?? false
  const stats = options.stats ?? createSyncStats()
  const ctx: SyncContext = { doc, awareness, origin, acceptUpdate: options.acceptUpdate, acceptAwareness: options.acceptAwareness }
  /** Client ids whose awareness arrived over this link. */
  const remoteClients = new Set<number>()
  let synced = false
  let detached = false

  const send = countedSender(link, maxBytes, stats)

  const onMessage = (bytes: Uint8Array): void => {
    stats.messagesIn++
    stats.bytesIn += bytes.byteLength
    const decoded = decodeSyncMessage(bytes, maxBytes)
    if (!decoded.ok) {
      stats.rejected[decoded.reason]++
      return
    }
    const result = readSyncMessage(decoded.message, ctx)
    if (result.rejected !== undefined) stats.rejected[result.rejected]++
    if (result.reply !== undefined) send(result.reply)
    if (result.synced === true && !synced) {
      synced = true
      options.onSynced?.()
    }
  }

  const onDocUpdate = (update: Uint8Array, updateOrigin: unknown): void => {
    if (updateOrigin !== origin) send(encodeUpdate(update))
  }

  const onAwarenessUpdate = ({ added, updated, removed }: AwarenessChanges, changeOrigin: unknown): void => {
    if (awareness === null) return
    if (changeOrigin === origin) {
      for (const id of added) remoteClients.add(id)
      for (const id of updated) remoteClients.add(id)
      for (const id of removed) remoteClients.delete(id)
      return
    }
    let changed = [...added, ...updated, ...removed]
    if (!forwardAwareness) changed = changed.filter((id) => id === awareness.clientID)
    if (changed.length > 0) send(encodeAwareness(awareness, changed))
  }

  const detach = (): void => {
    if (detached) return
    detached = true
    link.off('message', onMessage)
    link.off('close', detach)
    doc.off('update', onDocUpdate)
    doc.off('destroy', detach)
    if (awareness !== null) {
      awareness.off('update', onAwarenessUpdate)
      if (remoteClients.size > 0) removeAwarenessStates(awareness, [...remoteClients], origin)
      remoteClients.clear()
    }
  }

  if (link.closed) {
    detached = true
  } else {
    link.on('message', onMessage)
    link.on('close', detach)
    doc.on('update', onDocUpdate)
    doc.on('destroy', detach)
    if (awareness !== null) awareness.on('update', onAwarenessUpdate)

    sendOpening(doc, awareness, forwardAwareness, send)
  }

  return Object.defineProperties(detach, {
    stats: { value: stats, enumerable: true },
    synced: { get: () => synced, enumerable: true },
    detached: { get: () => detached, enumerable: true },
  }) as SyncAttachment
}

/** Sends over `link` what fits the cap; what does not, or what the link refuses, is counted, never thrown. */
function countedSender(link: Link, maxBytes: number, stats: SyncStats): (bytes: Uint8Array) => void {
  return (bytes) => {
    if (bytes.byteLength > maxBytes) {
      stats.droppedOutgoing++
      return
    }
    try {
      link.send(bytes)
    } catch {
      // The link refused it (e.g. a smaller frame cap): never thrown into a Yjs transaction.
      stats.droppedOutgoing++
      return
    }
    stats.messagesOut++
    stats.bytesOut += bytes.byteLength
  }
}

/** Sync step 1 and the presence this side speaks for (its own, or every state it knows as a hub). */
function sendOpening(doc: Y.Doc, awareness: Awareness | null, forwardAwareness: boolean, send: (bytes: Uint8Array) => void): void {
  send(encodeStep1(doc))
  if (awareness === null) return
  const known = forwardAwareness ? [...awareness.getStates().keys()] : [awareness.clientID]
  const present = known.filter((id) => awareness.getStates().has(id))
  if (present.length > 0) send(encodeAwareness(awareness, present))
}
