/**
 * Membership at the relay (docs/room-rules.md §8): once the room's log has an
 * epoch, a connection is served only while it has proved membership of the
 * current epoch, with a signature by the epoch's membership key over its
 * challenge. The relay checks it against the public half in the log; it never
 * holds a secret.
 *
 * - At the handshake (`admit`): a proof of the current epoch admits; a proof of
 *   an older epoch gets the handoff (what it needs to open its box, nothing
 *   else of the room) and is refused `epoch-replaced`; anything else is refused
 *   `not-member`. A room whose log has no epoch yet (a new room before its first
 *   sync, a room made before epochs) admits as before, and asks again as soon
 *   as an epoch arrives.
 * - When the room enters a new epoch (`onState`): every connection is sent
 *   `prove` with a fresh nonce and has `graceMs` to answer (`answer`); then it
 *   is handed off and closed (NotMember). A proof of an older epoch within the grace is
 *   asked again: the new epoch may reach a member just after the question.
 * Cascade links from other relays hold no secret and are not asked here.
 */
import { randomBytes } from 'node:crypto'
import { fromBase64url, toBase64url } from '../../src/identity/index.ts'
import { memberMessage, MAX_HANDOFF_ENTRIES, RelayCloseCode, type RelayMessage } from '../../src/net/relay-protocol.ts'
import { verifyMembership, type Epoch, type RoomState } from '../../src/room/index.ts'

/** What the gate needs of a connection (relay/rooms/conn.ts has them all). */
export interface Member {
  readonly cascade: boolean
  readonly nonce: string
  readonly host: string
  readonly discovery: string
  readonly closing: boolean
  readonly key: string
  send(msg: RelayMessage): void
  close(code: number, reason: string): void
}

export type MemberVerdict = 'ok' | 'epoch-replaced' | 'not-member'

export interface EpochGateOptions {
  graceMs: number
  /** The handoff for a member of an older epoch (entry bytes). */
  handoff(): Uint8Array[]
  counted(verdict: Exclude<MemberVerdict, 'ok'>): void
}

/** How soon a member that proved an older epoch is asked again. */
const RE_ASK_MS = 300

const NOT_MEMBER = 'no proof of membership of this room (a link that was replaced, or none)'
const REPLACED = 'this room moved to a new epoch: your link was replaced; ask a moderator for a new one'

export class EpochGate {
  readonly #o: EpochGateOptions
  /** Per connection: the epoch it proved (null: admitted before the room had one). */
  readonly #proven = new WeakMap<Member, string | null>()
  readonly #pending = new Map<Member, { nonce: string; timer: NodeJS.Timeout; again?: NodeJS.Timeout }>()

  constructor(opts: EpochGateOptions) {
    this.#o = opts
  }

  /** The handshake's verdict on `conn`'s proof (`sig`, base64url) against `state`. */
  admit(conn: Member, state: RoomState | null, sig: string | undefined): MemberVerdict {
    if (conn.cascade) return 'ok'
    const epochs = state?.epochs
    if (!epochs?.current) {
      this.#proven.set(conn, null)
      return 'ok'
    }
    const verdict = judge(epochs.chain, conn, conn.nonce, sig)
    if (verdict === 'ok') this.#proven.set(conn, epochs.current.id)
    else this.#refuse(conn, verdict, 'auth')
    return verdict
  }

  /** The room's state changed: connections that proved an older epoch (or none) prove again. */
  onState(state: RoomState, conns: Iterable<Member>): void {
    const cur = state.epochs.current
    if (!cur) return
    for (const conn of conns) {
      if (conn.cascade || this.#pending.has(conn) || this.#proven.get(conn) === cur.id || !this.#proven.has(conn)) continue
      const timer = setTimeout(() => this.#expire(conn), this.#o.graceMs)
      timer.unref()
      this.#ask(conn, timer)
    }
  }

  #ask(conn: Member, timer: NodeJS.Timeout): void {
    const nonce = toBase64url(randomBytes(32))
    this.#pending.set(conn, { nonce, timer })
    conn.send({ type: 'prove', nonce })
  }

  /** A `member` answer to `prove`. */
  answer(conn: Member, state: RoomState | null, sig: string): void {
    const pending = this.#pending.get(conn)
    const cur = state?.epochs.current
    if (!pending || !cur || pending.again) return
    const verdict = judge(state.epochs.chain, conn, pending.nonce, sig)
    if (verdict === 'ok') {
      this.#stop(conn)
      this.#proven.set(conn, cur.id)
    } else if (verdict === 'epoch-replaced') {
      // A member proves what it holds; the new epoch may reach it just after our question
      // (through this very relay): ask again until the deadline.
      pending.again = setTimeout(() => this.#ask(conn, pending.timer), RE_ASK_MS)
      pending.again.unref()
    } else {
      this.#stop(conn)
      this.#refuse(conn, verdict, 'hello')
    }
  }

  forget(conn: Member): void {
    this.#stop(conn)
    this.#proven.delete(conn)
  }

  #stop(conn: Member): void {
    const p = this.#pending.get(conn)
    if (p) {
      clearTimeout(p.timer)
      clearTimeout(p.again)
    }
    this.#pending.delete(conn)
  }

  #expire(conn: Member): void {
    this.#stop(conn)
    if (!conn.closing) this.#refuse(conn, 'not-member', 'hello')
  }

  #refuse(conn: Member, verdict: Exclude<MemberVerdict, 'ok'>, op: 'auth' | 'hello'): void {
    this.#o.counted(verdict)
    if (verdict === 'epoch-replaced') {
      const entries = this.#o.handoff().map(toBase64url)
      for (let i = 0; i < entries.length; i += MAX_HANDOFF_ENTRIES) conn.send({ type: 'handoff', entries: entries.slice(i, i + MAX_HANDOFF_ENTRIES) })
    }
    conn.send({ type: 'refused', op, reason: verdict, message: verdict === 'epoch-replaced' ? REPLACED : NOT_MEMBER })
    conn.close(RelayCloseCode.NotMember, verdict)
  }
}

/** Which epoch of the chain (if any) `sig` proves membership of. */
function judge(chain: readonly Epoch[], conn: Member, nonce: string, sig: string | undefined): MemberVerdict {
  const bytes = sig === undefined ? null : fromBase64url(sig)
  if (!bytes) return 'not-member'
  const msg = memberMessage(conn.discovery, nonce, conn.host)
  for (let i = chain.length - 1; i >= 0; i--) {
    if (verifyMembership(chain[i]!.member, msg, bytes)) return i === chain.length - 1 ? 'ok' : 'epoch-replaced'
  }
  return 'not-member'
}
