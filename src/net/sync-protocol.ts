/**
 * The sync wire format, kept apart from attachSync (sync.ts) so the bytes can be
 * read in one place: one Link message each, a message-type byte, then one lib0
 * `varUint8Array` payload, nothing after it.
 *
 *   0 step1      payload: the sender's state vector
 *   1 step2      payload: an update with everything the receiver's step1 lacked
 *   2 update     payload: an incremental document update
 *   3 awareness  payload: a y-protocols awareness update
 *
 * Also the reasons a received message is dropped and the counters they go to.
 * Decoding never throws: untrusted bytes become a reason.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { encodeAwarenessUpdate, type Awareness } from 'y-protocols/awareness'
import { encodeStateAsUpdates } from './sync-split.ts'

export const MSG_SYNC_STEP1 = 0
export const MSG_SYNC_STEP2 = 1
export const MSG_UPDATE = 2
export const MSG_AWARENESS = 3

/** Default cap for one sync message: 1 MiB (a larger doc goes as several). */
export const DEFAULT_MAX_SYNC_MESSAGE_BYTES = 1 << 20
/** A message's type byte and payload length prefix, at most. */
export const MESSAGE_OVERHEAD = 8

/** Gate for a remote update: true to apply it; a Promise when the answer takes time (it applies once resolved). */
export type UpdateGate = (update: Uint8Array) => boolean | Promise<boolean>

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
  /** More arrived while an async gate was deciding than the backlog holds. */
  | 'overloaded'

export const SYNC_REJECT_REASONS: readonly SyncRejectReason[] = [
  'oversize',
  'malformed',
  'unknown-type',
  'gate',
  'apply-error',
  'awareness-invalid',
  'overloaded',
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

/** Step 2 as one message: what a peer with `stateVector` lacks. Throws if `stateVector` is malformed. */
export function encodeStep2(doc: Y.Doc, stateVector: Uint8Array): Uint8Array {
  return encodeSyncMessage({ type: 'step2', update: Y.encodeStateAsUpdate(doc, stateVector) })
}

/**
 * Step 2 as messages of at most `maxMessageBytes` (a single struct larger than
 * that excepted): updates, then the step2. Throws if `stateVector` is malformed.
 */
export function encodeStep2Messages(doc: Y.Doc, stateVector: Uint8Array, maxMessageBytes = DEFAULT_MAX_SYNC_MESSAGE_BYTES): Uint8Array[] {
  const updates = encodeStateAsUpdates(doc, Y.decodeStateVector(stateVector), { maxBytes: maxMessageBytes - MESSAGE_OVERHEAD })
  return updates.map((update, i) => encodeSyncMessage({ type: i === updates.length - 1 ? 'step2' : 'update', update }))
}

export function encodeUpdate(update: Uint8Array): Uint8Array {
  return encodeSyncMessage({ type: 'update', update })
}

/** Awareness states (or removals) of `clients`, as known to `awareness`. */
export function encodeAwareness(awareness: Awareness, clients: number[]): Uint8Array {
  return encodeSyncMessage({ type: 'awareness', update: encodeAwarenessUpdate(awareness, clients) })
}
