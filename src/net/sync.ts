/**
 * Yjs document and awareness sync over one {@link Link}: `attachSync`.
 *
 * Messages (sync-protocol.ts): step1 (a state vector), step2 (what that step1
 * lacked), update, awareness. Protocol (as y-protocols/sync): on attach each side
 * sends step1 and its awareness; a step1 is answered with step2; from then on local
 * document changes and awareness changes flow as they happen. After both step2s the
 * two documents hold the same updates; Yjs makes them converge.
 *
 * Logs of any size: what a step1 lacked is sent as updates each under the
 * message cap, in causal order (sync-split.ts), the last of them as the step2;
 * a link is ordered, so step2 arriving means all of it arrived, and a peer
 * that sends one step2 reads the same. A local or forwarded transaction over
 * the cap is cut the same way.
 *
 * Invariants:
 * - Bytes from the link are untrusted. Every message is size-capped before
 *   decoding, then read by sync-read.ts (structural check, the `acceptUpdate`
 *   gate); messages are read in order, waiting behind an async gate in
 *   sync-backlog.ts. A refused message is counted in `stats.rejected[reason]` and
 *   dropped; nothing here throws because of remote input.
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
 *
 * The wire format and the reader are exported from here too: importers need only this module.
 */
import * as Y from 'yjs'
import { removeAwarenessStates, type Awareness } from 'y-protocols/awareness'
import type { Link } from './link.ts'
import { encodeStateAsUpdates } from './sync-split.ts'
import {
  createSyncStats, DEFAULT_MAX_SYNC_MESSAGE_BYTES, encodeAwareness, encodeStep1, encodeUpdate, MESSAGE_OVERHEAD, type SyncStats, type UpdateGate,
} from './sync-protocol.ts'
import type { ReadResult, SyncContext } from './sync-read.ts'
import { orderedReader } from './sync-backlog.ts'

export {
  MSG_SYNC_STEP1, MSG_SYNC_STEP2, MSG_UPDATE, MSG_AWARENESS, DEFAULT_MAX_SYNC_MESSAGE_BYTES, SYNC_REJECT_REASONS,
  createSyncStats, encodeSyncMessage, decodeSyncMessage, encodeStep1, encodeStep2, encodeStep2Messages, encodeUpdate, encodeAwareness,
  type UpdateGate, type SyncMessage, type SyncRejectReason, type SyncStats, type DecodeResult,
} from './sync-protocol.ts'
export { readSyncMessage, type SyncContext, type ReadResult } from './sync-read.ts'
export { BACKLOG_MESSAGES_FACTOR } from './sync-backlog.ts'

export interface AttachSyncOptions {
  /** Origin of remote changes applied to the doc and awareness. Default: the link. */
  origin?: unknown
  /** Gate for remote updates (plug the room guard in here); it may answer with a Promise. */
  acceptUpdate?: UpdateGate
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
  const ctx: SyncContext = { doc, awareness, origin, acceptUpdate: options.acceptUpdate, acceptAwareness: options.acceptAwareness, maxMessageBytes: maxBytes }
  /** Client ids whose awareness arrived over this link. */
  const remoteClients = new Set<number>()
  let synced = false
  let detached = false

  const send = countedSender(link, maxBytes, stats)

  const finish = (result: ReadResult): void => {
    if (result.rejected !== undefined) stats.rejected[result.rejected]++
    for (const reply of result.replies ?? []) send(reply)
    if (result.synced === true && !synced) {
      synced = true
      options.onSynced?.()
    }
  }

  const backlog = orderedReader(ctx, maxBytes, stats, finish, () => detached, () => send(encodeStep1(doc)))

  const onMessage = (bytes: Uint8Array): void => {
    stats.messagesIn++
    stats.bytesIn += bytes.byteLength
    backlog.push(bytes)
  }

  const onDocUpdate = (update: Uint8Array, updateOrigin: unknown, _doc: Y.Doc, tr: Y.Transaction): void => {
    if (updateOrigin !== origin) for (const message of updateMessages(doc, update, tr, maxBytes)) send(message)
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
    backlog.clear()
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

/** `update` (made by `tr`) as update messages under `maxBytes`: itself when it fits, else cut from the doc. */
function updateMessages(doc: Y.Doc, update: Uint8Array, tr: Y.Transaction, maxBytes: number): Uint8Array[] {
  const message = encodeUpdate(update)
  if (message.byteLength <= maxBytes) return [message]
  return encodeStateAsUpdates(doc, tr.beforeState, { maxBytes: maxBytes - MESSAGE_OVERHEAD, deleteSet: tr.deleteSet }).map(encodeUpdate)
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
