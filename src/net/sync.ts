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
 * Logs of any size: what a step1 lacked is sent as updates each under the
 * message cap, in causal order (sync-split.ts), the last of them as the step2;
 * a link is ordered, so step2 arriving means all of it arrived, and a peer
 * that sends one step2 reads the same. A local or forwarded transaction over
 * the cap is cut the same way.
 *
 * Invariants:
 * - Bytes from the link are untrusted. Every message is size-capped before
 *   decoding, decoded inside try/catch, checked structurally (`Y.decodeUpdate`)
 *   and passed through the injected `acceptUpdate` gate before it touches the
 *   document. The gate may answer later (a Promise: signatures are checked
 *   asynchronously); meanwhile the link's later messages wait, in order, up to
 *   BACKLOG_MESSAGES_FACTOR whole messages ('overloaded' past that). A refused message is counted in `stats.rejected[reason]` and
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
import { encodeStateAsUpdates } from './sync-split.ts'

export const MSG_SYNC_STEP1 = 0
export const MSG_SYNC_STEP2 = 1
export const MSG_UPDATE = 2
export const MSG_AWARENESS = 3

/** Default cap for one sync message: 1 MiB (a larger doc goes as several). */
export const DEFAULT_MAX_SYNC_MESSAGE_BYTES = 1 << 20
/** A message's type byte and payload length prefix, at most. */
const MESSAGE_OVERHEAD = 8

/** While an async gate decides, a link may queue this many times `maxMessageBytes` more. */
export const BACKLOG_MESSAGES_FACTOR = 4

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

// ---------------------------------------------------------------------------
// Attaching a doc to a link

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

/**
 * Reads messages in order: one whose gate answers later holds the next ones back until it has.
 * A remote sends a large step 2 all at once, more than the backlog holds: what overflowed is
 * asked for again with a step 1 once the backlog is read (the answer is what this doc still lacks).
 */
function orderedReader(ctx: SyncContext, maxBytes: number, stats: SyncStats, finish: (r: ReadResult) => void, detached: () => boolean, resync: () => void): Backlog {
  const read = (bytes: Uint8Array): void => {
    const decoded = decodeSyncMessage(bytes, maxBytes)
    if (!decoded.ok) {
      stats.rejected[decoded.reason]++
      return
    }
    const result = readSyncMessage(decoded.message, ctx)
    // Once detached, a late verdict only counts: no reply, no onSynced.
    if (result instanceof Promise) backlog.wait(result.then((r) => (detached() ? undefined : finish(r))))
    else finish(result)
  }
  let lost = false
  const overflow = (): void => {
    stats.rejected.overloaded++
    lost = true
  }
  const idle = (): void => {
    if (!lost || detached()) return
    lost = false
    resync()
  }
  const backlog = new Backlog(read, maxBytes * BACKLOG_MESSAGES_FACTOR, overflow, idle)
  return backlog
}

/** In-order reading around async gates: while one decides, later messages wait here (bounded in bytes). */
class Backlog {
  #queue: Uint8Array[] = []
  #bytes = 0
  #waiting = false
  #cleared = false

  constructor(
    private readonly read: (bytes: Uint8Array) => void,
    private readonly maxBytes: number,
    private readonly overflow: () => void,
    /** Everything queued has been read. */
    private readonly idle: () => void,
  ) {}

  push(bytes: Uint8Array): void {
    if (!this.#waiting) return this.read(bytes)
    if (this.#bytes + bytes.byteLength > this.maxBytes) return this.overflow()
    this.#queue.push(bytes)
    this.#bytes += bytes.byteLength
  }

  /** Holds every later message until `pending` settles (it never rejects). */
  wait(pending: Promise<void>): void {
    this.#waiting = true
    void pending.then(() => this.#drain())
  }

  clear(): void {
    this.#cleared = true
    this.#queue = []
    this.#bytes = 0
  }

  #drain(): void {
    this.#waiting = false
    while (!this.#waiting && !this.#cleared && this.#queue.length > 0) {
      const next = this.#queue.shift()!
      this.#bytes -= next.byteLength
      this.read(next)
    }
    if (!this.#waiting && !this.#cleared) this.idle()
  }
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
