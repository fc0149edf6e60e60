/**
 * The /relay handshake, every step of a connection before it is welcomed:
 *
 *   hello {room, key} -> challenge {nonce, relay: the host we were reached as}
 *   auth {sig: Ed25519 over authMessage(room, nonce, host)} -> the room opens -> welcome
 *
 * The signature binds the key to this room, this connection's nonce and this
 * relay, so it cannot be replayed anywhere else (src/net/relay-protocol.ts).
 * Anything out of order, a bad signature, or no welcome within authTimeoutMs:
 * refused and closed 4005. Capacity (maxRooms, maxPeersPerRoom): refused and
 * closed 4004. A key banned in the room state the relay holds: refused
 * (`banned`) and closed 4008, before it is sent anything of the room. The same
 * key again replaces its older connection.
 *
 * A relay with an identity names its key in the challenge (members vouch for
 * it, vouch.ts). A cascade (another relay) is admitted by the epoch gate only
 * with a vouch for its key; its welcome carries this relay's signature over
 * the cascade's hello nonce and this relay's own vouch, so the dialling relay
 * can check who it reached before it sends anything of the room.
 */
import { randomBytes } from 'node:crypto'
import { CodedError } from '../../src/base/errors.ts'
import { fromBase64url, keyId, publicKeyFromId, toBase64url, verifySignature, type Identity } from '../../src/identity/index.ts'
import { authMessage, RELAY_PROTOCOL_VERSION, RelayCloseCode, type ClientMessage, type RelayProof } from '../../src/net/relay-protocol.ts'
import type { Logger } from '../log.ts'
import { refuse, type Conn } from './conn.ts'
import type { RoomRegistry } from './registry.ts'
import { peerSlot, type RelayRoom } from './room.ts'
import { relayProof } from './vouch.ts'

export const HANDSHAKE_REJECT_REASONS = ['bad-version', 'auth-failed', 'auth-timeout', 'rooms-full', 'room-full', 'unexpected'] as const
export type HandshakeRejectReason = (typeof HANDSHAKE_REJECT_REASONS)[number]

export interface HandshakeOptions {
  registry: RoomRegistry
  maxPeersPerRoom: number
  authTimeoutMs: number
  log: Logger
  rejected(reason: HandshakeRejectReason): void
  /** A connection was welcomed into its room. */
  joined(conn: Conn): void
  /** This relay's own key (named in challenges, signing cascades' welcomes). */
  identity?: Identity
}

type Hello = Extract<ClientMessage, { type: 'hello' }>
type Auth = Extract<ClientMessage, { type: 'auth' }>

export class Handshake {
  readonly #opts: HandshakeOptions
  readonly #relayKey: string | undefined

  constructor(opts: HandshakeOptions) {
    this.#opts = opts
    this.#relayKey = opts.identity ? keyId(opts.identity.publicKey) : undefined
  }

  /** Arms the deadline of a new connection. */
  start(conn: Conn): void {
    conn.authTimer = setTimeout(() => {
      if (conn.phase === 'open' || conn.closing) return
      this.#opts.rejected('auth-timeout')
      conn.close(RelayCloseCode.Unauthenticated, 'auth-timeout')
    }, this.#opts.authTimeoutMs)
    conn.authTimer.unref()
  }

  /** Disarms the deadline (welcomed, or closing). */
  stop(conn: Conn): void {
    clearTimeout(conn.authTimer)
    conn.authTimer = undefined
  }

  /** A control message of a connection not yet welcomed. */
  async step(conn: Conn, msg: ClientMessage): Promise<void> {
    if (conn.phase === 'hello' && msg.type === 'hello') return this.#hello(conn, msg)
    if (conn.phase === 'auth' && msg.type === 'auth') return this.#auth(conn, msg)
    this.#opts.rejected('unexpected')
    refuse(conn, 'hello', 'too-early', `"${msg.type}" is not allowed before authentication`)
    conn.close(RelayCloseCode.Unauthenticated, 'unexpected')
  }

  #hello(conn: Conn, msg: Hello): void {
    if (msg.v !== RELAY_PROTOCOL_VERSION) {
      this.#opts.rejected('bad-version')
      refuse(conn, 'hello', 'bad-version', `this relay speaks protocol ${RELAY_PROTOCOL_VERSION}`)
      return conn.close(RelayCloseCode.Unauthenticated, 'bad-version')
    }
    conn.key = msg.key
    conn.cascade = msg.cascade === true
    conn.syncOnly = msg.syncOnly === true
    conn.discovery = msg.room
    conn.nonce = toBase64url(randomBytes(32))
    conn.relayKey = this.#relayKey
    conn.helloNonce = msg.nonce
    conn.phase = 'auth'
    conn.send({ type: 'challenge', nonce: conn.nonce, relay: conn.host, ...(this.#relayKey ? { key: this.#relayKey } : {}) })
  }

  async #auth(conn: Conn, msg: Auth): Promise<void> {
    const pub = publicKeyFromId(conn.key)
    const sig = fromBase64url(msg.sig)
    const ok = pub !== null && sig !== null && (await verifySignature(pub, authMessage(conn.discovery, conn.nonce, conn.host), sig))
    if (conn.closing) return
    if (!ok) {
      this.#opts.rejected('auth-failed')
      refuse(conn, 'auth', 'bad-signature', 'the signature does not match the key for this challenge')
      return conn.close(RelayCloseCode.Unauthenticated, 'auth-failed')
    }
    conn.phase = 'joining'
    conn.member = msg.member
    conn.vouch = msg.vouch
    const room = await this.#open(conn)
    if (!room) return
    if (conn.closing) return this.#opts.registry.unloadWhenIdle(room)
    return this.#join(conn, room)
  }

  /** The connection's room; null when it cannot be opened (the connection is then refused and closed). */
  async #open(conn: Conn): Promise<RelayRoom | null> {
    try {
      return await this.#opts.registry.open(conn.discovery)
    } catch (err) {
      if (err instanceof CodedError && err.code === 'rooms-full') {
        this.#opts.rejected('rooms-full')
        refuse(conn, 'auth', 'rooms-full', err.message)
        conn.close(RelayCloseCode.Full, 'rooms-full')
        return null
      }
      this.#opts.log.error('opening a room failed', { room: conn.discovery.slice(0, 12), err: String(err) })
      refuse(conn, 'auth', 'internal', 'the relay could not open this room')
      conn.close(RelayCloseCode.Full, 'internal')
      return null
    }
  }

  async #join(conn: Conn, room: RelayRoom): Promise<void> {
    const { registry, maxPeersPerRoom } = this.#opts
    const proof = await this.#proof(conn)
    // Entries that arrived before this connection (a ban among them) may still be verifying.
    await room.replica?.whenSettled()
    // Its membership proof is verified now (async) and judged below, where nothing waits.
    const member = await room.epochs.check(conn, room.state, conn.member)
    if (conn.closing) return registry.unloadWhenIdle(room)
    const old = room.peers.get(peerSlot(conn))
    if (!old && room.peers.size >= maxPeersPerRoom) {
      this.#opts.rejected('room-full')
      refuse(conn, 'auth', 'room-full', `this relay serves at most ${maxPeersPerRoom} connections per room`)
      conn.close(RelayCloseCode.Full, 'room-full')
      return registry.unloadWhenIdle(room)
    }
    if (old) {
      refuse(old, 'hello', 'replaced', 'the same key connected again')
      old.close(RelayCloseCode.Replaced, 'replaced')
      await room.leave(old)
      // It may have gone while the old connection left: joining now would leave a ghost in the room.
      if (conn.closing) return registry.unloadWhenIdle(room)
    }
    // Checked last, with no wait before joining: a ban verified from here on cuts the connection.
    const admitted = room.admit(conn.key)
    if (!admitted.ok) {
      refuse(conn, 'auth', admitted.reason, admitted.message)
      conn.close(RelayCloseCode.Banned, 'banned')
      return registry.unloadWhenIdle(room)
    }
    // ... and membership of the current epoch (refused and closed by the gate; an old epoch gets its handoff).
    if (room.epochs.admit(conn, room.state, member, conn.vouch) !== 'ok') return registry.unloadWhenIdle(room)
    this.stop(conn)
    conn.room = room
    conn.phase = 'open'
    registry.join(room, conn)
    this.#opts.joined(conn)
    this.#opts.log.debug('relay peer joined', { room: conn.discovery.slice(0, 12), key: conn.key })
    // Listeners tell a joiner the room is on a relay, so it joins here without building a mesh first
    // (other relays' cascade links subscribe wherever the room is loaded: they do not count).
    const fwd = room.forwarderStats
    const cascades = [...room.peers.values()].filter((p) => p.cascade).length
    const vouch = room.epochs.vouchFor(conn, room.state)
    const relay: RelayProof | null = proof === null ? null : { sig: proof, ...(vouch ? { vouch } : {}) }
    // One admitted without proof (no epoch here yet) is told nothing of the room (room-sync.ts).
    const held = room.epochs.holds(conn)
    conn.send({ type: 'welcome', publishers: held ? [] : room.publishers, subscribers: fwd && !held ? Math.max(0, fwd.subscribers - fwd.standby - cascades) : 0, ...(relay ? { relay } : {}) })
  }

  /** For a cascade that sent a nonce, this relay's signature over it (null: not a cascade, or no identity to sign with). */
  async #proof(conn: Conn): Promise<string | null> {
    const { identity } = this.#opts
    if (!conn.cascade || conn.helloNonce === undefined || !identity || !this.#relayKey) return null
    return relayProof(identity, conn.discovery, conn.helloNonce, this.#relayKey, conn.host)
  }
}
