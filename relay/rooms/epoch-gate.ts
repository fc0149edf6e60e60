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
 *   sync, a room made before epochs) admits, since there is nothing to check a
 *   proof against, but such a connection is `held` (room-sync.ts: it may send
 *   the log, it receives nothing of the room) until it proves membership of
 *   the first epoch that arrives (asked then, as below; `served` once it has).
 * - When the room enters a new epoch (`onState`): every connection is sent
 *   `prove` with a fresh nonce and has `graceMs` to answer (`answer`); then it
 *   is handed off and closed (NotMember). A proof of an older epoch within the grace is
 *   asked again: the new epoch may reach a member just after the question.
 * - Cascade links from other relays hold no secret: their proof is a member's
 *   vouch for their relay key (vouch.ts), of the current epoch, at the
 *   handshake and at every `prove` alike. A vouch is bound to a key, not to
 *   the challenge: `conn.key` is proved by the auth signature. Refused
 *   cascades get no handoff (a relay opens no box) and are counted
 *   `not-vouched`.
 * - A member's vouch for this relay (with a proof that admits it) is kept in
 *   `vouches`. Only a cascade that proved the current epoch is given it (in
 *   its welcome, `vouchFor`, and pushed when a newer one arrives or when it
 *   proves the new epoch): its relay waits for it after a rotation. One that
 *   was admitted before the room had an epoch gets none, so it cannot pass
 *   this relay's vouch on as its own proof to a relay that dialled it.
 */
import { randomBytes } from 'node:crypto'
import { fromBase64url, toBase64url } from '../../src/identity/index.ts'
import { memberMessage, MAX_HANDOFF_ENTRIES, RelayCloseCode, type RelayMessage } from '../../src/net/relay-protocol.ts'
import { verifyMembership, type Epoch, type RoomState } from '../../src/room/index.ts'
import { vouchedEpoch, VouchStore } from './vouch.ts'

/** What the gate needs of a connection (relay/rooms/conn.ts has them all). */
export interface Member {
  readonly cascade: boolean
  readonly nonce: string
  readonly host: string
  readonly discovery: string
  readonly closing: boolean
  readonly key: string
  /** This relay's key as the connection's challenge named it: what its vouch must name. */
  readonly relayKey?: string | undefined
  send(msg: RelayMessage): void
  close(code: number, reason: string): void
}

export type MemberVerdict = 'ok' | 'epoch-replaced' | 'not-member'
/** What the gate counts: refusals (a cascade's as `not-vouched`), and members' vouches that did not verify. */
export type GateCount = 'epoch-replaced' | 'not-member' | 'not-vouched' | 'bad-vouch'

export interface EpochGateOptions {
  graceMs: number
  /** The handoff for a member of an older epoch (entry bytes). */
  handoff(): Uint8Array[]
  counted(what: GateCount): void
  /** A connection admitted without proof proved the current epoch: it may be sent the room now. */
  served(conn: Member): void
}

/** How soon a member that proved an older epoch is asked again. */
const RE_ASK_MS = 300

const NOT_MEMBER = 'no proof of membership of this room (a link that was replaced, or none)'
const NOT_VOUCHED = 'no member of this room vouched for this relay key in the current epoch'
const REPLACED = 'this room moved to a new epoch: your link was replaced; ask a moderator for a new one'

export class EpochGate {
  readonly #o: EpochGateOptions
  /** Per connection: the epoch it proved (null: admitted before the room had one). */
  readonly #proven = new WeakMap<Member, string | null>()
  readonly #pending = new Map<Member, { nonce: string; timer: NodeJS.Timeout; again?: NodeJS.Timeout }>()
  /** Members' vouches for this relay (see the module comment). */
  readonly vouches = new VouchStore()
  /** Other relays' cascade connections admitted and not yet forgotten: told of a newer vouch. */
  readonly #cascades = new Set<Member>()

  constructor(opts: EpochGateOptions) {
    this.#o = opts
  }

  /** Whether `conn` was admitted without proof and has not proved an epoch since (it is sent nothing of the room). */
  holds(conn: object): boolean {
    return this.#proven.get(conn as Member) === null
  }

  /** What `conn` may be told of this relay's vouch: the newest, once it proved the current epoch. */
  vouchFor(conn: Member, state: RoomState | null): string | null {
    const cur = state?.epochs.current
    return cur && this.#proven.get(conn) === cur.id ? this.vouches.latest : null
  }

  /**
   * The handshake's verdict on `conn`'s proof (`sig`, base64url; a cascade's vouch) against
   * `state`, and the vouch for this relay a member sent with it.
   */
  admit(conn: Member, state: RoomState | null, sig: string | undefined, vouch?: string): MemberVerdict {
    const epochs = state?.epochs
    const verdict = epochs?.current ? judge(epochs.chain, conn, conn.nonce, sig) : 'ok'
    if (verdict !== 'ok') {
      this.#refuse(conn, verdict, 'auth')
      return verdict
    }
    this.#proven.set(conn, epochs?.current?.id ?? null)
    if (conn.cascade) this.#cascades.add(conn)
    this.#vouched(conn, state, vouch)
    return verdict
  }

  /** The room's state changed: connections that proved an older epoch (or none) prove again. */
  onState(state: RoomState, conns: Iterable<Member>): void {
    this.vouches.onState(state)
    const cur = state.epochs.current
    if (!cur) return
    for (const conn of conns) {
      if (this.#pending.has(conn) || this.#proven.get(conn) === cur.id || !this.#proven.has(conn)) continue
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

  /** A `member` answer to `prove` (a cascade's: its vouch), with a member's vouch for this relay. */
  answer(conn: Member, state: RoomState | null, sig: string, vouch?: string): void {
    const pending = this.#pending.get(conn)
    const cur = state?.epochs.current
    if (!pending || !cur || pending.again) return
    const verdict = judge(state.epochs.chain, conn, pending.nonce, sig)
    if (verdict === 'ok') {
      this.#stop(conn)
      const held = this.holds(conn)
      this.#proven.set(conn, cur.id)
      if (held) this.#o.served(conn)
      this.#vouched(conn, state, vouch)
      const ours = conn.cascade ? this.vouchFor(conn, state) : null
      if (ours) conn.send({ type: 'vouch', sig: ours })
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
    this.#cascades.delete(conn)
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

  /** A member that proved the current epoch vouches for this relay; a newer vouch goes to the cascades that proved it too. */
  #vouched(conn: Member, state: RoomState | null, vouch: string | undefined): void {
    // Before the room has an epoch there is nothing to check a vouch against: it comes again with the next proof.
    if (vouch === undefined || conn.cascade || !conn.relayKey || !state?.epochs.current) return
    const before = this.vouches.latest
    if (!this.vouches.offer(state, conn.discovery, conn.relayKey, vouch)) return this.#o.counted('bad-vouch')
    const sig = this.vouches.latest
    if (sig === before || sig === null) return
    for (const c of this.#cascades) if (this.vouchFor(c, state) === sig) c.send({ type: 'vouch', sig })
  }

  #refuse(conn: Member, verdict: Exclude<MemberVerdict, 'ok'>, op: 'auth' | 'hello'): void {
    if (conn.cascade) {
      // Another relay: no handoff (it opens no box), and it is told what it lacks.
      this.#o.counted('not-vouched')
      conn.send({ type: 'refused', op, reason: 'not-member', message: NOT_VOUCHED })
      return conn.close(RelayCloseCode.NotMember, 'not-vouched')
    }
    this.#o.counted(verdict)
    if (verdict === 'epoch-replaced') {
      const entries = this.#o.handoff().map(toBase64url)
      for (let i = 0; i < entries.length; i += MAX_HANDOFF_ENTRIES) conn.send({ type: 'handoff', entries: entries.slice(i, i + MAX_HANDOFF_ENTRIES) })
    }
    conn.send({ type: 'refused', op, reason: verdict, message: verdict === 'epoch-replaced' ? REPLACED : NOT_MEMBER })
    conn.close(RelayCloseCode.NotMember, verdict)
  }
}

/** Which epoch of the chain (if any) `sig` proves membership of (a cascade's: vouches for its key). */
function judge(chain: readonly Epoch[], conn: Member, nonce: string, sig: string | undefined): MemberVerdict {
  if (conn.cascade) {
    const v = vouchedEpoch(chain, conn.discovery, conn.key, sig)
    return v === 'ok' ? 'ok' : v === 'old' ? 'epoch-replaced' : 'not-member'
  }
  const bytes = sig === undefined ? null : fromBase64url(sig)
  if (!bytes) return 'not-member'
  const msg = memberMessage(conn.discovery, nonce, conn.host)
  for (let i = chain.length - 1; i >= 0; i--) {
    if (verifyMembership(chain[i]!.member, msg, bytes)) return i === chain.length - 1 ? 'ok' : 'epoch-replaced'
  }
  return 'not-member'
}
