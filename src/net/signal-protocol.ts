/**
 * The signalling wire protocol, shared by the relay's `/signal` endpoint and the client.
 *
 * It is y-webrtc's signalling protocol, unchanged, so stock y-webrtc clients and servers
 * interoperate with ours. Every frame is one JSON object tagged by `type`:
 *
 *   client -> server  {type:'subscribe',   topics: string[]}
 *   client -> server  {type:'unsubscribe', topics: string[]}
 *   both directions   {type:'publish', topic: string, data?: any, ...}
 *                     The server fans a publish out to every subscriber of `topic`,
 *                     the sender included if subscribed, adding `clients` (subscriber count).
 *                     Fields other than `type`/`topic` are forwarded untouched.
 *   client -> server  {type:'ping'}   server -> client  {type:'pong'}
 *
 * Invariants of `decodeSignalMessage`:
 * - the size cap is checked before anything is parsed;
 * - nesting depth is bounded before `JSON.parse` (so re-serialising a decoded message
 *   cannot overflow the stack);
 * - it never throws: bad input yields `{error: reason}` with a stable reason.
 */
import { parseJsonObject } from './json-guard.ts'

/** Default cap on one signalling frame, in UTF-8 bytes. */
export const MAX_SIGNAL_MESSAGE_BYTES = 64 * 1024
/** Longest topic accepted (a hex discovery key is 64; y-webrtc room names are free text). */
export const MAX_TOPIC_LENGTH = 256
/** Deepest JSON nesting accepted (WebRTC signal payloads are about 4 deep). */
export const MAX_SIGNAL_DEPTH = 32

export interface SubscribeMessage {
  type: 'subscribe'
  topics: string[]
}
export interface UnsubscribeMessage {
  type: 'unsubscribe'
  topics: string[]
}
export interface PublishMessage {
  type: 'publish'
  topic: string
  /** Opaque payload (for Stoop: a sealed base64url string, see room-crypto.ts). */
  data?: unknown
  /** Added by the server on fan-out: how many subscribers the topic has. */
  clients?: number
  /** Other fields are carried through untouched, as the stock server does. */
  [extra: string]: unknown
}
export interface PingMessage {
  type: 'ping'
}
export interface PongMessage {
  type: 'pong'
}

export type SignalMessage = SubscribeMessage | UnsubscribeMessage | PublishMessage | PingMessage | PongMessage
export type SignalMessageType = SignalMessage['type']

/** Why a frame was dropped. Stable strings: used as metric labels and in client stats. */
export type SignalDecodeReason = 'too-large' | 'too-deep' | 'bad-json' | 'not-object' | 'unknown-type' | 'bad-field'
export const SIGNAL_DECODE_REASONS: readonly SignalDecodeReason[] = [
  'too-large',
  'too-deep',
  'bad-json',
  'not-object',
  'unknown-type',
  'bad-field',
]

export interface SignalDecodeError {
  error: SignalDecodeReason
}

/**
 * WebSocket close codes used by the relay's signalling endpoint (4000-4999 is the
 * application range of RFC 6455). A client seeing 4001-4003 has a bug or is abusive;
 * 4004 means "try again later" and is retried with backoff like any other close.
 */
export const SignalCloseCode = {
  /** A frame exceeded the message size cap. */
  TooLarge: 4001,
  /** A subscribe would take the connection past its topic limit. */
  TooManyTopics: 4002,
  /** The connection sent faster than its token bucket allows. */
  RateLimited: 4003,
  /** The server is at its connection limit. */
  ServerFull: 4004,
} as const
export type SignalCloseCode = (typeof SignalCloseCode)[keyof typeof SignalCloseCode]

export function isSignalDecodeError(r: SignalMessage | SignalDecodeError): r is SignalDecodeError {
  return !('type' in r)
}


/** Maximum bracket nesting of a JSON text, ignoring brackets inside strings. Stops early past `limit`. */

function isTopicList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((t) => typeof t === 'string' && t.length > 0 && t.length <= MAX_TOPIC_LENGTH)
}

/**
 * Decodes one frame. Size cap first (UTF-8 bytes), then depth, then JSON, then shape.
 * Never throws.
 */
export function decodeSignalMessage(raw: string, maxBytes: number = MAX_SIGNAL_MESSAGE_BYTES): SignalMessage | SignalDecodeError {
  const parsed = parseJsonObject(raw, maxBytes, MAX_SIGNAL_DEPTH)
  if (!parsed.ok) return { error: parsed.error }
  const m = parsed.value
  switch (m.type) {
    case 'subscribe':
    case 'unsubscribe':
      if (!isTopicList(m.topics)) return { error: 'bad-field' }
      return { type: m.type, topics: m.topics }
    case 'publish':
      if (typeof m.topic !== 'string' || m.topic.length === 0 || m.topic.length > MAX_TOPIC_LENGTH) return { error: 'bad-field' }
      if (m.clients !== undefined && typeof m.clients !== 'number') return { error: 'bad-field' }
      return m as PublishMessage
    case 'ping':
    case 'pong':
      return { type: m.type }
    default:
      return { error: typeof m.type === 'string' ? 'unknown-type' : 'bad-field' }
  }
}

/** Serialises a message. Throws (RangeError) only for payloads `decodeSignalMessage` would refuse. */
export function encodeSignalMessage(msg: SignalMessage): string {
  return JSON.stringify(msg)
}
