/**
 * One /relay connection as the endpoint and the handshake see it: its socket
 * state (ws-endpoint.ts), where it is in the handshake, and once welcomed its
 * room and its room sync.
 */
import { BaseLink } from '../../src/net/link.ts'
import type { RefuseReason, RelayMessage, RelayOp } from '../../src/net/relay-protocol.ts'
import type { WsConn } from '../ws-endpoint.ts'
import type { RelayRoom, RoomPeer } from './room.ts'

/** hello -> auth -> joining (opening the room) -> open (welcomed). A closing connection has `closing` set. */
export type Phase = 'hello' | 'auth' | 'joining' | 'open'

export interface Conn extends WsConn, RoomPeer {
  cascade: boolean
  syncOnly: boolean
  phase: Phase
  key: string
  discovery: string
  nonce: string
  /** The host named in the challenge (and signed by the client). */
  host: string
  /** The membership proof sent with `auth` (epoch-gate.ts); from a cascade, its vouch. */
  member?: string | undefined
  /** A member's vouch for this relay sent with `auth` (vouch.ts). */
  vouch?: string | undefined
  /** This relay's key as its challenge named it (none when the relay has no identity). */
  relayKey?: string | undefined
  /** A cascade's hello nonce, which this relay signs in its welcome. */
  helloNonce?: string | undefined
  room: RelayRoom | null
  link: ServerLink | null
  authTimer: NodeJS.Timeout | undefined
  /** Control requests run one at a time per connection, in order. */
  queue: Promise<void>
}

/** A connection before its hello; what it sends and how it closes go through the endpoint. */
export function newConn(
  base: WsConn,
  host: string,
  endpoint: { send(conn: Conn, msg: RelayMessage): void; shut(conn: Conn, code: number, reason: string): void },
): Conn {
  const conn: Conn = {
    ...base,
    cascade: false,
    syncOnly: false,
    phase: 'hello',
    key: '',
    discovery: '',
    nonce: '',
    host,
    room: null,
    link: null,
    authTimer: undefined,
    queue: Promise.resolve(),
    send: (msg) => endpoint.send(conn, msg),
    close: (code, reason) => endpoint.shut(conn, code, reason),
  }
  return conn
}

/** Binary room sync of one connection, as a Link. */
export class ServerLink extends BaseLink {
  constructor(private readonly out: (data: Uint8Array) => void) {
    super()
  }
  protected _send(data: Uint8Array): void {
    this.out(data)
  }
  protected _teardown(): void {}
  receive(data: Uint8Array): void {
    this._receive(data)
  }
}

export function refuse(peer: RoomPeer, op: RelayOp, reason: RefuseReason, message: string): void {
  peer.send({ type: 'refused', op, reason, message })
}
