/**
 * What the relay checks in a room connection's sync messages before the Yjs
 * sync (src/net/sync.ts) sees them, beyond the update gate (gate.ts):
 *
 * - Presence (awareness). A message is at most `maxAwarenessBytes` and a
 *   connection sends at most `awarenessPerSecond` (burst `awarenessBurst`),
 *   so one client cannot make the relay re-encode a large state once per peer
 *   many times a second. Every client id a message names must be this
 *   connection's own: the first id a participant's connection names is bound
 *   to its authenticated key for as long as it is connected; naming another
 *   client's id (to overwrite or remove its presence) is refused. A cascade
 *   link (another relay) forwards many clients: it may name any id no local
 *   participant holds (local participants take precedence), in messages up to
 *   CASCADE_AWARENESS_FACTOR times the size, without the per-message rate (its
 *   socket's frame budget still applies).
 * - Sync step 1. A connection sends at most `step1Burst` of them, refilled at
 *   `step1PerSecond`; answers are cached per doc version (cleared on every
 *   doc change) by what the state vector asks for, so a 3-byte step 1 from a
 *   new joiner, or a thousand of them, costs one encoding of the doc.
 *
 * - Held connections (`wrap(..., held)`): one admitted before the room had an
 *   epoch here proved nothing (epoch-gate.ts), so it is sent nothing of the
 *   room but this relay's own step 1 (a state vector, which asks for its log:
 *   that is how an empty relay learns it). Its step 1 is kept, not answered,
 *   and `serve` answers it once the connection proved membership, with the
 *   presence known then: the normal sync, late.
 *
 * Refusals are dropped, never thrown, and counted by reason.
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { BaseLink, type Link } from '../../src/net/link.ts'
import { decodeSyncMessage, DEFAULT_MAX_SYNC_MESSAGE_BYTES, encodeStep2Messages, MSG_AWARENESS, MSG_SYNC_STEP1, type SyncStats } from '../../src/net/sync.ts'
import { TokenBucket } from '../ws-endpoint.ts'

export const SYNC_GUARD_REASONS = ['awareness-too-large', 'awareness-rate', 'awareness-not-own', 'awareness-malformed', 'step1-rate', 'step1-malformed'] as const
export type SyncGuardReason = (typeof SYNC_GUARD_REASONS)[number]

/** A cascade link's presence messages may be this many times larger (it forwards a whole room's). */
export const CASCADE_AWARENESS_FACTOR = 16
/** Answers to distinct state vectors kept per doc version (a fresh joiner's empty one is the hot one). */
const STEP2_CACHE = 2

export interface SyncGuardLimits {
  /** Bytes of one presence message. */
  maxAwarenessBytes: number
  /** Presence messages per second per connection, and how many at once. */
  awarenessPerSecond: number
  awarenessBurst: number
  /** Sync step 1 messages per connection at once, and refilled per second. */
  step1Burst: number
  step1PerSecond: number
  /** Client ids one cascade link may name. */
  maxCascadeClients: number
}

export const DEFAULT_SYNC_GUARD_LIMITS: SyncGuardLimits = {
  maxAwarenessBytes: 4096,
  awarenessPerSecond: 10,
  awarenessBurst: 20,
  step1Burst: 4,
  step1PerSecond: 0.1,
  maxCascadeClients: 10_000,
}

export interface SyncGuardOptions {
  doc: Y.Doc
  /** Defaults: DEFAULT_SYNC_GUARD_LIMITS. */
  limits?: Partial<SyncGuardLimits>
  /** Shared sync counters (the relay's): answered step 1s count as messages in and out there. */
  stats: SyncStats
  /** Cap on one sync message (answers over it are not sent). Default: the sync's. */
  maxMessageBytes?: number
  now: () => number
  rejected(reason: SyncGuardReason): void
}

/** The peer as the guard sees it. */
export interface GuardedPeer {
  readonly key: string
  readonly cascade?: boolean
}

interface PeerState {
  peer: GuardedPeer
  awareness: TokenBucket
  step1: TokenBucket
  link: Link
  filtered: FilteredLink | null
  /** Sent nothing but step 1 until `serve` (see the module comment). */
  held: boolean
  /** A held connection's latest step 1 (its state vector), answered at `serve`. */
  asked: Uint8Array | null
}

export class SyncGuard {
  readonly #opts: SyncGuardOptions
  readonly #limits: SyncGuardLimits
  readonly #maxMessageBytes: number
  readonly #peers = new Map<GuardedPeer, PeerState>()
  /** Client id -> the key it is bound to, and whether that key is a cascade link. */
  readonly #claims = new Map<number, { key: string; cascade: boolean }>()
  readonly #claimed = new Map<string, Set<number>>()
  readonly #answers = new Map<string, readonly Uint8Array[]>()
  /** Step-2 answers encoded (the rest came from the cache). */
  encoded = 0
  /** Messages not sent to held connections. */
  withheld = 0

  constructor(opts: SyncGuardOptions) {
    this.#opts = opts
    this.#limits = { ...DEFAULT_SYNC_GUARD_LIMITS, ...opts.limits }
    this.#maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_SYNC_MESSAGE_BYTES
    opts.doc.on('update', this.#clearAnswers)
  }

  /** A link for attachSync: `link` with `peer`'s step 1s answered here and its presence checked; `held`: see the module comment. */
  wrap(peer: GuardedPeer, link: Link, held = false): Link {
    const { now } = this.#opts
    const limits = this.#limits
    this.#peers.get(peer)?.filtered?.unhook()
    const state: PeerState = {
      peer,
      awareness: new TokenBucket(limits.awarenessPerSecond, limits.awarenessBurst, now),
      step1: new TokenBucket(limits.step1PerSecond, limits.step1Burst, now),
      link,
      filtered: null,
      held,
      asked: null,
    }
    this.#peers.set(peer, state)
    state.filtered = new FilteredLink(link, (bytes) => this.#pass(state, bytes), (bytes) => this.#out(state, bytes))
    return state.filtered
  }

  /** `peer` proved membership: it is sent the room from now on, starting with the answer to its step 1 and `presence`. */
  serve(peer: GuardedPeer, presence: Uint8Array | null): void {
    const state = this.#peers.get(peer)
    if (!state?.held) return
    state.held = false
    const answer = state.asked && this.#step2(state.asked)
    state.asked = null
    for (const message of [...(answer ?? []), ...(presence ? [presence] : [])]) this.#send(state, message)
  }

  /** Whether a message of the sync goes out to `state`'s peer: while held, only this relay's step 1. */
  #out(state: PeerState, bytes: Uint8Array): boolean {
    if (!state.held || bytes[0] === MSG_SYNC_STEP1) return true
    this.withheld++
    return false
  }

  #send(state: PeerState, message: Uint8Array): void {
    const { stats } = this.#opts
    state.link.send(message)
    stats.messagesOut++
    stats.bytesOut += message.byteLength
  }

  /** `peer` left (or its sync stopped): its messages are no longer read here, and its client ids are free again. */
  release(peer: GuardedPeer): void {
    this.#peers.get(peer)?.filtered?.unhook()
    this.#peers.delete(peer)
    if ([...this.#peers.keys()].some((p) => p.key === peer.key)) return
    for (const id of this.#claimed.get(peer.key) ?? []) if (this.#claims.get(id)?.key === peer.key) this.#claims.delete(id)
    this.#claimed.delete(peer.key)
  }

  destroy(): void {
    this.#opts.doc.off('update', this.#clearAnswers)
    for (const state of this.#peers.values()) state.filtered?.unhook()
    this.#peers.clear()
    this.#answers.clear()
  }

  /** Whether a message goes on to the sync. */
  #pass(state: PeerState, bytes: Uint8Array): boolean {
    const type = bytes[0]
    if (type === MSG_SYNC_STEP1) {
      this.#answerStep1(state, bytes)
      return false
    }
    if (type !== MSG_AWARENESS) return true
    const reason = this.#checkAwareness(state, bytes)
    if (reason === null) return true
    this.#opts.rejected(reason)
    return false
  }

  #checkAwareness(state: PeerState, bytes: Uint8Array): SyncGuardReason | null {
    const cascade = state.peer.cascade === true
    const max = this.#limits.maxAwarenessBytes * (cascade ? CASCADE_AWARENESS_FACTOR : 1)
    if (bytes.byteLength > max) return 'awareness-too-large'
    if (!cascade && !state.awareness.take()) return 'awareness-rate'
    const ids = clientIdsOf(bytes)
    if (ids === null) return 'awareness-malformed'
    return this.#claim(state.peer, ids) ? null : 'awareness-not-own'
  }

  /** Binds `ids` to `peer`'s key if they are free (or held by a cascade link and `peer` is local). */
  #claim(peer: GuardedPeer, ids: readonly number[]): boolean {
    const cascade = peer.cascade === true
    const mine = this.#claimed.get(peer.key) ?? new Set<number>()
    const fresh = ids.filter((id) => !mine.has(id))
    if (fresh.length === 0) return true
    if (mine.size + new Set(fresh).size > (cascade ? this.#limits.maxCascadeClients : 1)) return false
    for (const id of fresh) {
      const holder = this.#claims.get(id)
      if (holder && (cascade || !holder.cascade)) return false
    }
    for (const id of fresh) {
      const holder = this.#claims.get(id)
      if (holder) this.#claimed.get(holder.key)?.delete(id)
      this.#claims.set(id, { key: peer.key, cascade })
      mine.add(id)
    }
    this.#claimed.set(peer.key, mine)
    return true
  }

  #answerStep1(state: PeerState, bytes: Uint8Array): void {
    const { stats } = this.#opts
    const maxMessageBytes = this.#maxMessageBytes
    stats.messagesIn++
    stats.bytesIn += bytes.byteLength
    if (!state.step1.take()) return this.#opts.rejected('step1-rate')
    const decoded = decodeSyncMessage(bytes, maxMessageBytes)
    const sv = decoded.ok && decoded.message.type === 'step1' ? decoded.message.stateVector : null
    const answer = sv && this.#step2(sv)
    if (!answer) return this.#opts.rejected('step1-malformed')
    if (state.held) {
      state.asked = sv
      return
    }
    for (const message of answer) this.#send(state, message)
  }

  /** The step 2 messages answering `sv`, cached per doc version; undefined when `sv` is malformed. */
  #step2(sv: Uint8Array): readonly Uint8Array[] | undefined {
    let key: string
    try {
      key = askKey(this.#opts.doc, Y.decodeStateVector(sv))
    } catch {
      // A state vector that does not decode: the caller counts it.
      return undefined
    }
    const cached = this.#answers.get(key)
    if (cached !== undefined) return cached
    let answer: Uint8Array[]
    try {
      answer = encodeStep2Messages(this.#opts.doc, sv, this.#maxMessageBytes)
    } catch {
      // Yjs refused the state vector after all.
      return undefined
    }
    this.encoded++
    if (this.#answers.size >= STEP2_CACHE) this.#answers.delete(this.#answers.keys().next().value!)
    this.#answers.set(key, answer)
    return answer
  }

  readonly #clearAnswers = (): void => this.#answers.clear()
}

/**
 * What a state vector asks of `doc`: per client the doc holds, the clock it
 * has up to (clipped to the doc's; 0 and unknown clients ask for everything or
 * nothing alike). Two vectors with the same key get the same step 2.
 */
function askKey(doc: Y.Doc, sv: Map<number, number>): string {
  const parts: string[] = []
  for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(doc))) {
    const has = Math.min(sv.get(client) ?? 0, clock)
    if (has > 0) parts.push(`${client}:${has}`)
  }
  return parts.sort().join(',')
}

/** The client ids an awareness message names; null when it does not parse. */
function clientIdsOf(bytes: Uint8Array): number[] | null {
  try {
    const outer = decoding.createDecoder(bytes)
    decoding.readUint8(outer)
    const update = decoding.readVarUint8Array(outer)
    if (decoding.hasContent(outer)) return null
    const dec = decoding.createDecoder(update)
    const count = decoding.readVarUint(dec)
    if (count > update.byteLength) return null
    const ids: number[] = []
    for (let i = 0; i < count; i++) {
      ids.push(decoding.readVarUint(dec))
      decoding.readVarUint(dec)
      decoding.readVarString(dec)
    }
    return decoding.hasContent(dec) ? null : ids
  } catch {
    // lib0 throws on truncated input; the caller counts it.
    return null
  }
}

/** `inner` with messages filtered both ways; closes pass through. */
class FilteredLink extends BaseLink {
  readonly #inner: Link
  readonly #offs: Array<() => void>
  readonly #out: (bytes: Uint8Array) => boolean

  constructor(inner: Link, pass: (bytes: Uint8Array) => boolean, out: (bytes: Uint8Array) => boolean) {
    super()
    this.#inner = inner
    this.#out = out
    this.#offs = [
      inner.on('message', (bytes) => {
        if (pass(bytes)) this._receive(bytes)
      }),
      inner.on('close', (reason) => this.close(reason)),
    ]
    if (inner.closed) this.close()
  }

  /** Stops reading `inner` (without closing it): the sync on this link was detached. */
  unhook(): void {
    for (const off of this.#offs) off()
  }

  protected _send(data: Uint8Array): void {
    if (this.#out(data)) this.#inner.send(data)
  }

  protected _teardown(reason?: Error): void {
    this.unhook()
    this.#inner.close(reason)
  }
}
