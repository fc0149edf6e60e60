/**
 * SignalBus: how the mesh finds the other peers of a room and exchanges
 * signalling with them, independent of the discovery mechanism.
 *
 * Two implementations:
 * - WebSocket signalling (browsers; y-webrtc's subscribe/publish protocol
 *   through a relay), adapted from the signalling client.
 * - Hyperswarm (Node peers and relays; `src/node/swarm-bus.ts`), one Noise-encrypted
 *   connection per remote peer on the room's discovery key.
 *
 * A bus carries discovery and WebRTC signalling only; audio and room state go
 * over the WebRTC peer connections it helps set up, so browsers and Node peers
 * share one code path. A bus does not authenticate payloads: anyone who knows
 * the discovery key can join it, so the app seals what it sends with the room
 * key and opens what it receives before trusting it.
 *
 * Contract every implementation keeps:
 * - Peer ids are opaque, non-empty strings chosen by each peer (`selfId`).
 *   A bus never reports itself as a peer.
 * - 'peer-joined' fires once per peer id before any 'message' from it, and is
 *   matched by exactly one 'peer-left'. A peer that comes back (a new
 *   incarnation of the same id) is reported as 'peer-left' then 'peer-joined'.
 * - `publish` reaches every peer currently joined (best effort; no replay for
 *   later joiners). `send` reaches one joined peer; it returns false and drops
 *   the message when that peer is not joined (peers leave racily: not misuse).
 * - Message bodies arrive as sent: a string stays a string, bytes stay bytes.
 *   Whether a message was published or sent directly is not reported.
 * - `destroy()` is idempotent, emits 'peer-left' for every joined peer, removes
 *   all listeners and leaves no timers, sockets or DHT nodes behind.
 */
import { CodedError } from '../base/errors.ts'

/** What a bus carries: text (JSON signalling) or bytes (sealed payloads). */
export type BusMessage = Uint8Array | string

/** Events of a {@link SignalBus}. */
export interface SignalBusEvents {
  'peer-joined': (peerId: string) => void
  'peer-left': (peerId: string) => void
  message: (from: string, msg: BusMessage) => void
}

/** Discovery and signalling for one room topic. See the module comment for the contract. */
export interface SignalBus {
  /** This peer's id as announced to the others. */
  readonly selfId: string
  /** Peers joined right now (a live view; copy it to keep a snapshot). */
  readonly peers: ReadonlySet<string>
  /** Send to every joined peer. */
  publish(msg: BusMessage): void
  /** Send to one joined peer; false if it is not joined (the message is dropped). */
  send(peerId: string, msg: BusMessage): boolean
  on<K extends keyof SignalBusEvents>(name: K, fn: SignalBusEvents[K]): () => void
  off<K extends keyof SignalBusEvents>(name: K, fn: SignalBusEvents[K]): void
  /** Leave the topic and release everything; idempotent. */
  destroy(): Promise<void>
}

/** Misuse of a bus (bad options, a message over the size cap) throws this, with a stable `code`. */
export class BusError extends CodedError {}
