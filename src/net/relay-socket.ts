/**
 * RelaySocket: the client end of one relay WebSocket (see relay-protocol.ts):
 * hello, challenge, signed auth, then typed control messages and a {@link Link}
 * for the room's Yjs sync on binary frames. Media lives elsewhere
 * (relay-client.ts with browser/wrtc peer connections; benches use werift).
 *
 * Works in browsers and Node: the WebSocket class and timers are passed in.
 *
 * Invariants:
 * - `connect()` resolves once the relay said `welcome`, or rejects with a
 *   RelayError (`relay-unreachable`, `relay-refused`, `auth-failed`, `timeout`).
 * - Every failure after that goes through one `destroy(err)`: idempotent,
 *   closes the socket and the link, clears timers, emits `close` exactly once.
 * - Malformed control frames from the relay are counted and dropped; so are
 *   binary frames before `welcome`.
 * - The link (relay-link.ts) notes when a sync step 2 has gone out (`link.pushed`), so a
 *   publish request can be ordered after this client's room log has reached the
 *   relay (the relay decides who is a speaker from the log it holds).
 * - A member vouches for the relay whose challenge names its key, with every
 *   proof of membership it sends (`auth`, `member`): that relay may then
 *   cascade the room (docs/relay.md). A cascade (another relay) sends its
 *   room's vouch as its proof instead, and keeps what the dialled relay proved
 *   in its welcome (`relayProof`) for the caller to check.
 */
import { keyId, toBase64url, type Identity } from '../identity/index.ts'
import { proveMembership, type MembershipKey } from '../room/index.ts'
import { TypedEmitter } from '../base/emitter.ts'
import {
  authMessage,
  memberMessage,
  vouchMessage,
  decodeRelayMessage,
  discoveryHex,
  encodeRelayMessage,
  hostOf,
  isRelayDecodeError,
  RELAY_PROTOCOL_VERSION,
  type ClientMessage,
  type RelayDecodeReason,
  type RelayMessage,
} from './relay-protocol.ts'
import { realTimers, type Timers } from '../base/timers.ts'
import { RELAY_ERRORS, RelayError } from './relay-errors.ts'
import { RelayLink } from './relay-link.ts'
import type { RelayWebSocket, RelayWebSocketClass } from './websocket-like.ts'

export { RELAY_ERRORS, RelayError, type RelayErrorCode } from './relay-errors.ts'
export { RelayLink } from './relay-link.ts'
export type { RelayWebSocket, RelayWebSocketClass } from './websocket-like.ts'

export type RelayTimers = Timers

export interface RelaySocketOptions {
  WebSocket: RelayWebSocketClass
  /** Reject `connect()` after this long. Default 10 s. */
  connectTimeoutMs?: number
  /** Send an application ping this often; give up when a whole interval after a ping stays silent. Default 15 s; 0 disables. */
  pingIntervalMs?: number
  timers?: RelayTimers
}

export interface ConnectOptions {
  /** From another relay: subscribe only (docs/relay.md). */
  cascade?: boolean
  /** The room log only, no media (relay-protocol.ts): the key's media connection, if any, is kept. */
  syncOnly?: boolean
  /** The membership key of the room's epoch as we know it now (asked at the challenge and at every `prove`). */
  member?: () => MembershipKey | null
  /** A cascade's fresh nonce (base64url), which the dialled relay signs in its welcome. */
  nonce?: string
  /** A cascade's proof: its room's vouch for this relay (base64url), asked at the challenge and at every `prove`. */
  vouch?: () => string | null
}

/** What a dialled relay proved in a cascade's welcome: its key (from the challenge) and its `relay` field. */
export interface RelayProofSeen {
  key: string
  sig: string
  vouch?: string
}

export interface RelaySocketEvents {
  message: (msg: RelayMessage) => void
  /** Last event; `err` is null after a plain `destroy()`. */
  close: (err: RelayError | null) => void
}

const OPEN = 1

export class RelaySocket extends TypedEmitter<RelaySocketEvents> {
  /** Malformed control frames from the relay, by reason; binary frames before welcome. */
  readonly rejected: Record<RelayDecodeReason | 'early-binary', number> = {
    'too-large': 0,
    'too-deep': 0,
    'bad-json': 0,
    'not-object': 0,
    'unknown-type': 0,
    'bad-field': 0,
    'early-binary': 0,
  }
  #ws: RelayWebSocket | null = null
  #link: RelayLink | null = null
  #timers: RelayTimers
  #destroyed = false
  #welcomed = false
  #pingTimer: unknown = null
  #heard = true
  #welcome: Extract<RelayMessage, { type: 'welcome' }> | null = null
  /** The relay's identity key, when its challenge named one. */
  #relayKey: string | null = null

  constructor(private readonly opts: RelaySocketOptions) {
    super()
    this.#timers = opts.timers ?? realTimers
  }

  get destroyed(): boolean {
    return this.#destroyed
  }

  /** The room sync link (after connect). */
  get link(): RelayLink {
    if (!this.#link) throw new RelayError(RELAY_ERRORS.BAD_STATE, 'not connected')
    return this.#link
  }

  /** Publishers the relay said it forwards at welcome. */
  get initialPublishers(): readonly string[] {
    return this.#welcome?.publishers ?? []
  }

  /** Subscribers the relay said it forwards to at welcome (0 from a relay that does not say). */
  get initialSubscribers(): number {
    return this.#welcome?.subscribers ?? 0
  }

  /** The dialled relay's proof in its welcome (a cascade's, checked by the caller); null when it gave none. */
  get relayProof(): RelayProofSeen | null {
    const proof = this.#welcome?.relay
    return proof && this.#relayKey ? { key: this.#relayKey, ...proof } : null
  }

  get bufferedAmount(): number {
    return this.#ws?.bufferedAmount ?? 0
  }

  /** Opens the socket and authenticates `identity` for the room with `discoveryKey`. */
  connect(url: string, discoveryKey: Uint8Array, identity: Identity, opts: ConnectOptions = {}): Promise<void> {
    if (this.#destroyed) return Promise.reject(new RelayError(RELAY_ERRORS.DESTROYED, 'destroyed'))
    if (this.#ws) return Promise.reject(new RelayError(RELAY_ERRORS.BAD_STATE, 'connect() called twice'))
    const room = discoveryHex(discoveryKey)
    const expectedHost = hostOf(url)
    const ws = (this.#ws = new this.opts.WebSocket(url))
    ws.binaryType = 'arraybuffer'
    return new Promise<void>((resolve, reject) => {
      let settled = false
      const timeoutMs = this.opts.connectTimeoutMs ?? 10_000
      const timer = this.#timers.setTimeout(() => fail(new RelayError(RELAY_ERRORS.TIMEOUT, `no welcome from the relay after ${timeoutMs} ms`)), timeoutMs)
      const fail = (err: RelayError) => {
        if (settled) return
        settled = true
        this.#timers.clearTimeout(timer)
        reject(err)
        this.destroy(err)
      }
      const cascade = opts.cascade ? { cascade: true as const, ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}) } : {}
      ws.onopen = () => this.#sendControl({ type: 'hello', v: RELAY_PROTOCOL_VERSION, room, key: keyId(identity.publicKey), ...cascade, ...(opts.syncOnly ? { syncOnly: true as const } : {}) })
      ws.onerror = () => {
        if (!this.#welcomed) fail(new RelayError(RELAY_ERRORS.UNREACHABLE, `cannot reach the relay at ${url}`))
      }
      ws.onclose = (ev) => {
        if (!this.#welcomed) fail(new RelayError(RELAY_ERRORS.UNREACHABLE, `the relay closed the connection (${ev.code} ${ev.reason})`, { reason: ev.reason }))
        else this.destroy(new RelayError(RELAY_ERRORS.CLOSED, `the relay connection closed (${ev.code} ${ev.reason})`, { reason: ev.reason }))
      }
      ws.onmessage = (ev) => {
        this.#heard = true
        const data = ev.data
        if (typeof data !== 'string') return this.#onBinary(data)
        const msg = decodeRelayMessage(data)
        if (isRelayDecodeError(msg)) {
          this.rejected[msg.error]++
          return
        }
        if (!this.#welcomed) {
          if (msg.type === 'challenge') {
            if (msg.relay.toLowerCase() !== expectedHost) {
              fail(new RelayError(RELAY_ERRORS.AUTH_FAILED, `the relay's challenge names ${msg.relay}, not ${expectedHost}`))
              return
            }
            this.#relayKey = msg.key ?? null
            const proofs = this.#proofs(opts, room, msg.nonce, msg.relay)
            identity.sign(authMessage(room, msg.nonce, msg.relay)).then(
              (sig) => this.#sendControl({ type: 'auth', sig: toBase64url(sig), ...proofs }),
              (err: unknown) => fail(new RelayError(RELAY_ERRORS.AUTH_FAILED, 'signing the challenge failed', { cause: err })),
            )
          } else if (msg.type === 'welcome') {
            this.#welcomed = true
            this.#welcome = msg
            this.#link = new RelayLink(
              (bytes) => this.#sendRaw(bytes),
              () => undefined,
            )
            settled = true
            this.#timers.clearTimeout(timer)
            this.#startPing()
            resolve()
          } else if (msg.type === 'refused') {
            const code = msg.reason === 'bad-signature' ? RELAY_ERRORS.AUTH_FAILED : RELAY_ERRORS.REFUSED
            fail(new RelayError(code, `the relay refused the connection: ${msg.message}`, { reason: msg.reason }))
          } else if (msg.type === 'bye') {
            fail(new RelayError(RELAY_ERRORS.BYE, `the relay is going away (${msg.reason})`, { reason: msg.reason }))
          } else if (msg.type === 'handoff') {
            this.emit('message', msg)
          }
          return
        }
        this.#onControl(msg, () => this.#proofs(opts, room, msg.type === 'prove' ? msg.nonce : '', expectedHost))
      }
    })
  }

  /** A control message after welcome (`proofs`: what to answer a `prove` with). */
  #onControl(msg: RelayMessage, proofs: () => { member?: string; vouch?: string }): void {
    if (msg.type === 'prove') {
      const { member, vouch } = proofs()
      if (member) this.#sendControl({ type: 'member', sig: member, ...(vouch ? { vouch } : {}) })
      return
    }
    if (msg.type === 'ping') return void this.#sendControl({ type: 'pong' })
    if (msg.type === 'pong') return
    if (msg.type === 'bye') return this.destroy(new RelayError(RELAY_ERRORS.BYE, `the relay is going away (${msg.reason})`, { reason: msg.reason }))
    this.emit('message', msg)
  }

  /** A sync frame: for the link once welcomed; before that, counted and dropped. */
  #onBinary(data: unknown): void {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null
    if (!bytes || !this.#link) {
      this.rejected['early-binary']++
      return
    }
    this.#link.receive(bytes)
  }

  /**
   * Our membership proof for a challenge, when we know the room's epoch key, and our vouch for
   * the relay when its challenge named its key; a cascade's proof is its room's vouch (see relay-protocol.ts).
   */
  #proofs(opts: ConnectOptions, room: string, nonce: string, relay: string): { member?: string; vouch?: string } {
    if (opts.cascade) {
      const vouch = opts.vouch?.()
      return vouch ? { member: vouch } : {}
    }
    const key = opts.member?.()
    if (!key) return {}
    const member = toBase64url(proveMembership(key, memberMessage(room, nonce, relay)))
    return this.#relayKey ? { member, vouch: toBase64url(proveMembership(key, vouchMessage(room, this.#relayKey))) } : { member }
  }

  /** Sends a control message; false when the socket is not open. */
  send(msg: ClientMessage): boolean {
    if (this.#destroyed) return false
    return this.#sendControl(msg)
  }

  /** Closes everything. Idempotent. With `err`, listeners get it in `close`. */
  destroy(err?: RelayError | null): void {
    if (this.#destroyed) return
    this.#destroyed = true
    if (this.#pingTimer !== null) this.#timers.clearTimeout(this.#pingTimer)
    this.#pingTimer = null
    const ws = this.#ws
    if (ws) {
      ws.onopen = null
      ws.onmessage = null
      // Closing a socket that is still CONNECTING makes Node's `ws` emit 'error' later; with no
      // listener that would crash the process. The socket is abandoned: the error means nothing.
      ws.onerror = ignoreAbandonedError
      ws.onclose = null
      try {
        ws.close(1000, 'bye')
      } catch (cause) {
        // A socket still CONNECTING throws in some implementations; it is abandoned either way.
        void cause
      }
    }
    this.#link?.close(err ?? undefined)
    this.emit('close', err ?? null)
    this.removeAllListeners()
  }

  #sendControl(msg: ClientMessage): boolean {
    const ws = this.#ws
    if (!ws || ws.readyState !== OPEN) return false
    ws.send(encodeRelayMessage(msg))
    return true
  }

  #sendRaw(bytes: Uint8Array): boolean {
    const ws = this.#ws
    if (this.#destroyed || !ws || ws.readyState !== OPEN) return false
    ws.send(bytes)
    return true
  }

  #startPing(): void {
    const every = this.opts.pingIntervalMs ?? 15_000
    if (every <= 0) return
    const tick = () => {
      this.#pingTimer = null
      if (this.#destroyed) return
      if (!this.#heard) return this.destroy(new RelayError(RELAY_ERRORS.TIMEOUT, `the relay was silent for ${2 * every} ms`))
      this.#heard = false
      this.#sendControl({ type: 'ping' })
      this.#pingTimer = this.#timers.setTimeout(tick, every)
    }
    this.#pingTimer = this.#timers.setTimeout(tick, every)
  }
}

/** The 'error' a socket abandoned while connecting still emits (see destroy()). */
function ignoreAbandonedError(): void {}
