/**
 * The relay wire protocol: one WebSocket per participant per room, at `/relay`
 * on a relay's HTTP server. Shared by the relay (relay/rooms/) and the client
 * (relay-client.ts).
 *
 * Text frames carry control messages: one JSON object each, tagged by `type`.
 * Binary frames carry the room's Yjs sync (sync.ts messages), after `welcome`.
 *
 *   client -> relay  {type:'hello', v:1, room, key}        room: discovery key (64 hex), key: participant id
 *                    (+ cascade: true, nonce from another relay: it only subscribes, and
 *                    gets only this relay's local publishers; see docs/relay.md)
 *                    (+ syncOnly: true: the room log and nothing else, no media; it neither replaces
 *                    nor is replaced by the same key's other connection, so `stoop mod` run with the
 *                    key of a member in the room does not cut that member off)
 *   relay -> client  {type:'challenge', nonce, relay, key?}  nonce: 32 random bytes (base64url); relay: the Host it was reached as;
 *                    key: the relay's own identity key id (a relay that cascades has one)
 *   client -> relay  {type:'auth', sig, member?, vouch?}    sig: Ed25519 over authMessage(room, nonce, relay);
 *                    member: the same challenge signed with the room's current membership key
 *                    (memberMessage; docs/room-rules.md §8): the relay admits only members of the
 *                    room's current epoch once its log has one;
 *                    vouch: vouchMessage(room, challenge.key) signed with that key: this member
 *                    vouches for the relay, which may then cascade the room with other relays.
 *                    From a cascade (another relay), `member` is that relay's vouch instead: the
 *                    relay admits it only with a vouch of the current epoch for its key
 *   relay -> client  {type:'prove', nonce}                  the room entered a new epoch: prove membership again
 *   client -> relay  {type:'member', sig, vouch?}           memberMessage(room, nonce, relay) signed with the new epoch's key
 *                    (a cascade: its vouch of the new epoch), and the vouch as in `auth`
 *   relay -> client  {type:'handoff', entries}              to a member of an older epoch, before it is closed with
 *                    EpochReplaced: the epoch and seal entries (and the authority behind them) it needs
 *                    to open its box of the current epoch, if it has one; nothing else of the room
 *   relay -> client  {type:'welcome', publishers, subscribers?, relay?}  authenticated; publishers the relay forwards in this room now,
 *                    and how many it forwards to (standbys not counted): a joiner that sees either
 *                    knows the room is on a relay and joins it there, building no mesh first.
 *                    relay (to a cascade only): {sig: relayProofMessage(room, hello.nonce,
 *                    challenge.key, challenge.relay) signed with the relay's key, vouch?: its members' vouch}: the
 *                    dialling relay sends nothing of the room before both check out
 *   relay -> cascade {type:'vouch', sig}                    this relay holds a vouch of a newer epoch now (sent to a
 *                    cascade that proved the current epoch)
 *   client -> relay  {type:'publish', sdp}                  an SDP offer with one sendonly Opus section
 *   relay -> client  {type:'published', sdp}                the answer
 *   client -> relay  {type:'unpublish'}
 *   relay -> client  {type:'unpublished', reason}           the relay stopped forwarding this client's audio
 *   client -> relay  {type:'subscribe', standby?: true} | {type:'unsubscribe'}
 *                    (standby: set the connection up but forward nothing, a failover
 *                    reserve; a later plain subscribe starts forwarding at once)
 *   relay -> client  {type:'subscribed'} | {type:'unsubscribed'}
 *   relay -> client  {type:'offer', sdp}                    (re)negotiation of the subscriber connection
 *   client -> relay  {type:'answer', sdp}
 *   relay -> client  {type:'publishers', ids}               the set of forwarded publishers changed
 *   relay -> client  {type:'refused', op, reason, message}  a request was refused (`op`: the request's type)
 *   relay -> client  {type:'bye', reason}                   the relay is going away: move elsewhere
 *   both             {type:'ping'} / {type:'pong'}
 *
 * Authentication: the signed message binds the participant key to the room, to
 * a fresh relay nonce and to the relay's host, so a signature cannot be replayed
 * to another room, another connection or another relay (a malicious relay that
 * passes another relay's challenge through is caught by the client's host check).
 *
 * Vouches (relay/rooms/vouch.ts): relays hold no secret, so a member vouches for
 * the relay it uses, and relays cascade a room only with relays vouched for in
 * its current epoch. A vouch names one relay key and is signed with one epoch's
 * membership key; the relay proves the key with its own signature (its cascade
 * `auth`, or the `relay.sig` of its welcome, bound to the dialler's nonce).
 *
 * Sync starts when the client starts it: the relay attaches its side of the Yjs
 * sync when the first binary frame arrives, so a client that attaches late
 * loses nothing and a client that never syncs costs the relay nothing.
 *
 * Invariants of `decodeRelayMessage`: the size cap is checked before parsing;
 * nesting depth is bounded; it never throws (bad input -> `{error: reason}`
 * with a stable reason, used as a metric label).
 */
import { parseJsonObject } from './json-guard.ts'

/** Protocol version sent in `hello`. */
export const RELAY_PROTOCOL_VERSION = 1
/** Largest control frame (an SDP offer is at most 64 KiB, see relay/sfu). */
export const MAX_RELAY_CONTROL_BYTES = 72 * 1024
/** Largest SDP carried. */
export const MAX_RELAY_SDP_BYTES = 64 * 1024
/** Largest binary (sync) frame: one whole-room step 2 must fit. */
export const MAX_RELAY_SYNC_BYTES = 1 << 20
const MAX_REASON_CHARS = 200
const MAX_IDS = 1000
const DISCOVERY_HEX = /^[0-9a-f]{64}$/
const KEY_ID = /^[A-Za-z0-9_-]{43}$/
const B64URL = /^[A-Za-z0-9_-]+$/
const HOST = /^[A-Za-z0-9.:[\]_-]{1,255}$/

export type ClientMessage =
  | { type: 'hello'; v: number; room: string; key: string; cascade?: true; nonce?: string; syncOnly?: true }
  | { type: 'auth'; sig: string; member?: string; vouch?: string }
  | { type: 'member'; sig: string; vouch?: string }
  | { type: 'publish'; sdp: string }
  | { type: 'unpublish' }
  | { type: 'subscribe'; standby?: true }
  | { type: 'unsubscribe' }
  | { type: 'answer'; sdp: string }
  | { type: 'ping' }
  | { type: 'pong' }

/** Requests the relay can refuse. */
export type RelayOp = 'hello' | 'auth' | 'publish' | 'subscribe' | 'answer'

/**
 * Why a request was refused. Stable strings.
 * - not-speaker: the key is not on stage in the room state the relay holds (no secret needed: see docs/relay.md)
 * - no-room-state: the relay has no valid genesis for this room yet (sync the doc first)
 * - bad-offer / bad-answer: the description was refused by the forwarder
 * - already-publishing / not-subscribed / too-early: protocol order
 * - room-full / rooms-full / server-full: capacity limits
 * - banned: a moderator banned this key in the room log the relay holds; the relay refuses it
 *   everything (connection, sync, presence, subscribe, publish) and closes with `Banned`
 */
export type RefuseReason =
  | 'not-speaker'
  | 'no-room-state'
  | 'bad-offer'
  | 'bad-answer'
  | 'already-publishing'
  | 'not-subscribed'
  | 'too-early'
  | 'room-full'
  | 'rooms-full'
  | 'server-full'
  | 'bad-signature'
  | 'bad-version'
  | 'replaced'
  | 'internal'
  | 'banned'
  | 'epoch-replaced'
  | 'not-member'

export type RelayMessage =
  | { type: 'challenge'; nonce: string; relay: string; key?: string }
  | { type: 'welcome'; publishers: string[]; subscribers?: number; relay?: RelayProof }
  | { type: 'vouch'; sig: string }
  | { type: 'published'; sdp: string }
  | { type: 'unpublished'; reason: string }
  | { type: 'subscribed' }
  | { type: 'unsubscribed' }
  | { type: 'offer'; sdp: string }
  | { type: 'publishers'; ids: string[] }
  | { type: 'refused'; op: RelayOp; reason: RefuseReason; message: string }
  | { type: 'bye'; reason: string }
  | { type: 'prove'; nonce: string }
  | { type: 'handoff'; entries: string[] }
  | { type: 'ping' }
  | { type: 'pong' }

/** A dialled relay's proof in a cascade's welcome (see the protocol above). */
export interface RelayProof {
  sig: string
  vouch?: string
}

export type RelayDecodeReason = 'too-large' | 'too-deep' | 'bad-json' | 'not-object' | 'unknown-type' | 'bad-field'
export const RELAY_DECODE_REASONS: readonly RelayDecodeReason[] = ['too-large', 'too-deep', 'bad-json', 'not-object', 'unknown-type', 'bad-field']
export interface RelayDecodeError {
  error: RelayDecodeReason
}

/** WebSocket close codes of the relay endpoint (application range). */
export const RelayCloseCode = {
  /** A frame exceeded its cap. */
  TooLarge: 4001,
  /** Too many frames per second. */
  RateLimited: 4003,
  /** Relay, or this room, at capacity. */
  Full: 4004,
  /** Authentication failed or timed out, or a frame came in the wrong state. */
  Unauthenticated: 4005,
  /** The same key connected to the same room again; the older socket is closed. */
  Replaced: 4006,
  /** A media connection of this client failed on the relay's side; reconnect. */
  MediaFailed: 4007,
  /** The key is banned in the room log the relay holds (at the handshake, or when the ban arrives): do not reconnect. */
  Banned: 4008,
  /** No proof of membership of the room's current epoch (an old link, or none): do not reconnect with it. */
  NotMember: 4009,
  /** The relay is shutting down (after `bye`). */
  GoingAway: 1001,
} as const

/** Domain-separated bytes a client signs to prove its key. */
export function authMessage(room: string, nonce: string, relay: string): Uint8Array {
  return new TextEncoder().encode(`stoop/relay-auth/v1\n${room}\n${nonce}\n${relay}`)
}

/** Domain-separated bytes signed with an epoch's membership key (a different key from the participant's). */
export function memberMessage(room: string, nonce: string, relay: string): Uint8Array {
  return new TextEncoder().encode(`stoop/relay-member/v1\n${room}\n${nonce}\n${relay}`)
}

/**
 * Domain-separated bytes a member signs with the epoch's membership key to vouch for the relay
 * whose identity key is `relayKey` (the key its challenge names). Any relay of the room that holds
 * such a vouch of the current epoch may cascade with the others (docs/relay.md, "Cascading").
 */
export function vouchMessage(room: string, relayKey: string): Uint8Array {
  return new TextEncoder().encode(`stoop/relay-vouch/v1\n${room}\n${relayKey}`)
}

/**
 * Domain-separated bytes a dialled relay signs with its identity key in a cascade's welcome: it
 * holds `relayKey`, now (the dialler's `nonce`), at the host it was dialled as (`relay`, its
 * challenge's), so a relay that passes another relay's proof through is caught like a client's
 * host check catches one that passes a challenge through.
 */
export function relayProofMessage(room: string, nonce: string, relayKey: string, relay: string): Uint8Array {
  return new TextEncoder().encode(`stoop/relay-cascade/v1\n${room}\n${nonce}\n${relayKey}\n${relay}`)
}

/** Most entries in one handoff frame (each at most 2 KiB, base64url). */
export const MAX_HANDOFF_ENTRIES = 24

/** The 64-hex discovery key a relay room is named by. */
export function discoveryHex(discoveryKey: Uint8Array): string {
  let s = ''
  for (const b of discoveryKey) s += b.toString(16).padStart(2, '0')
  return s
}

export function isDiscoveryHex(s: unknown): s is string {
  return typeof s === 'string' && DISCOVERY_HEX.test(s)
}



const isSdp = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_RELAY_SDP_BYTES
const isText = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_REASON_CHARS
const isIds = (v: unknown): v is string[] => Array.isArray(v) && v.length <= MAX_IDS && v.every((x) => typeof x === 'string' && KEY_ID.test(x))
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isB64 = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max && B64URL.test(v)
const isOptB64 = (v: unknown, max: number): v is string | undefined => v === undefined || isB64(v, max)

/** A welcome's `relay` field; null when malformed. */
function relayProofOf(v: unknown): RelayProof | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null
  const o = v as Record<string, unknown>
  if (!isB64(o.sig, 128) || !isOptB64(o.vouch, 128)) return null
  return { sig: o.sig, ...(o.vouch !== undefined ? { vouch: o.vouch } : {}) }
}

export function isRelayDecodeError(r: object): r is RelayDecodeError {
  return 'error' in r && !('type' in r)
}

/** Decodes a control frame sent by a client (relay side). Never throws. */
export function decodeClientMessage(raw: string, maxBytes = MAX_RELAY_CONTROL_BYTES): ClientMessage | RelayDecodeError {
  const parsed = parseJsonObject(raw, maxBytes, 4)
  if (!parsed.ok) return { error: parsed.error }
  const m = parsed.value
  switch (m.type) {
    case 'hello':
      if (typeof m.v !== 'number' || !isDiscoveryHex(m.room) || typeof m.key !== 'string' || !KEY_ID.test(m.key)) return { error: 'bad-field' }
      if (m.cascade !== undefined && m.cascade !== true) return { error: 'bad-field' }
      // A nonce only means something from another relay (it is what the welcome's proof signs).
      if (m.nonce !== undefined && (m.cascade !== true || !isB64(m.nonce, 64))) return { error: 'bad-field' }
      if (m.syncOnly !== undefined && (m.syncOnly !== true || m.cascade === true)) return { error: 'bad-field' }
      return { type: 'hello', v: m.v, room: m.room, key: m.key, ...(m.cascade === true ? { cascade: true as const } : {}), ...(m.nonce !== undefined ? { nonce: m.nonce } : {}), ...(m.syncOnly === true ? { syncOnly: true as const } : {}) }
    case 'auth':
      if (!isB64(m.sig, 128) || !isOptB64(m.member, 128) || !isOptB64(m.vouch, 128)) return { error: 'bad-field' }
      return { type: 'auth', sig: m.sig, ...(m.member !== undefined ? { member: m.member } : {}), ...(m.vouch !== undefined ? { vouch: m.vouch } : {}) }
    case 'member':
      if (!isB64(m.sig, 128) || !isOptB64(m.vouch, 128)) return { error: 'bad-field' }
      return { type: 'member', sig: m.sig, ...(m.vouch !== undefined ? { vouch: m.vouch } : {}) }
    case 'publish':
    case 'answer':
      return isSdp(m.sdp) ? { type: m.type, sdp: m.sdp } : { error: 'bad-field' }
    case 'subscribe':
      if (m.standby !== undefined && m.standby !== true) return { error: 'bad-field' }
      return { type: 'subscribe', ...(m.standby === true ? { standby: true as const } : {}) }
    case 'unpublish':
    case 'unsubscribe':
    case 'ping':
    case 'pong':
      return { type: m.type }
    default:
      return { error: typeof m.type === 'string' ? 'unknown-type' : 'bad-field' }
  }
}

const OPS: readonly string[] = ['hello', 'auth', 'publish', 'subscribe', 'answer']

/** Decodes a control frame sent by a relay (client side). Never throws. */
export function decodeRelayMessage(raw: string, maxBytes = MAX_RELAY_CONTROL_BYTES): RelayMessage | RelayDecodeError {
  const parsed = parseJsonObject(raw, maxBytes, 4)
  if (!parsed.ok) return { error: parsed.error }
  const m = parsed.value
  switch (m.type) {
    case 'challenge':
      if (!isB64(m.nonce, 64) || typeof m.relay !== 'string' || !HOST.test(m.relay)) return { error: 'bad-field' }
      if (m.key !== undefined && (typeof m.key !== 'string' || !KEY_ID.test(m.key))) return { error: 'bad-field' }
      return { type: 'challenge', nonce: m.nonce, relay: m.relay, ...(m.key !== undefined ? { key: m.key } : {}) }
    case 'welcome': {
      if (!isIds(m.publishers) || (m.subscribers !== undefined && !isCount(m.subscribers))) return { error: 'bad-field' }
      const relay = m.relay === undefined ? undefined : relayProofOf(m.relay)
      if (relay === null) return { error: 'bad-field' }
      return { type: 'welcome', publishers: m.publishers, ...(m.subscribers !== undefined ? { subscribers: m.subscribers } : {}), ...(relay ? { relay } : {}) }
    }
    case 'vouch':
      return isB64(m.sig, 128) ? { type: 'vouch', sig: m.sig } : { error: 'bad-field' }
    case 'published':
    case 'offer':
      return isSdp(m.sdp) ? { type: m.type, sdp: m.sdp } : { error: 'bad-field' }
    case 'publishers':
      return isIds(m.ids) ? { type: 'publishers', ids: m.ids } : { error: 'bad-field' }
    case 'prove':
      return isB64(m.nonce, 64) ? { type: 'prove', nonce: m.nonce } : { error: 'bad-field' }
    case 'handoff':
      return Array.isArray(m.entries) && m.entries.length <= MAX_HANDOFF_ENTRIES && m.entries.every((e) => isB64(e, 2800))
        ? { type: 'handoff', entries: m.entries as string[] }
        : { error: 'bad-field' }
    case 'unpublished':
    case 'bye':
      return isText(m.reason) ? { type: m.type, reason: m.reason } : { error: 'bad-field' }
    case 'refused':
      if (typeof m.op !== 'string' || !OPS.includes(m.op) || !isText(m.reason) || !isText(m.message)) return { error: 'bad-field' }
      return { type: 'refused', op: m.op as RelayOp, reason: m.reason as RefuseReason, message: m.message }
    case 'subscribed':
    case 'unsubscribed':
    case 'ping':
    case 'pong':
      return { type: m.type }
    default:
      return { error: typeof m.type === 'string' ? 'unknown-type' : 'bad-field' }
  }
}

export function encodeRelayMessage(msg: ClientMessage | RelayMessage): string {
  return JSON.stringify(msg)
}

/** The host part a client compares `challenge.relay` with: `host[:port]` of the URL it dialled, lowercased. */
export function hostOf(url: string): string {
  return new URL(url).host.toLowerCase()
}
