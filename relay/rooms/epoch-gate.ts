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
 *
 * Proofs and vouches are verified through WebCrypto (`verifyMembershipAsync`),
 * so the thread keeps forwarding audio while they are checked; the decisions
 * stay synchronous. At the handshake the proof is verified first (`check`)
 * and judged when the connection joins (`admit`, with no wait before it is in
 * the room); if the room moved to another epoch in between, the connection
 * is held and asked to `prove` the epoch now current right after its welcome.
 * An answer to `prove` counts only if, once verified, its question is still
 * open and the room still in the epoch it was checked against; otherwise it
 * is asked again within the same deadline. A connection is never served, nor
 * freed of its deadline, before its proof has verified.
 */
import { randomBytes } from 'node:crypto'
import { fromBase64url, toBase64url } from '../../src/identity/index.ts'
import { memberMessage, MAX_HANDOFF_ENTRIES, RelayCloseCode, type RelayMessage } from '../../src/net/relay-protocol.ts'
import { verifyMembershipAsync, type Epoch, type RoomState } from '../../src/room/index.ts'
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
  /** The room's state now (it may change while a proof verifies). */
  state(): RoomState | null
}

/** A handshake's proof, verified (`check`) before the connection joins and judged (`admit`) when it does. */
export interface CheckedProof {
  /** The current epoch it was verified against (null: the room had none, nothing was checked). */
  readonly epoch: string | null
  readonly verdict: MemberVerdict
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
    this.vouches.on('vouched', (sig) => this.#push(sig))
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

  /** Verifies `conn`'s handshake proof (`sig`, base64url; a cascade's vouch) against the epochs of `state`. */
  async check(conn: Member, state: RoomState | null, sig: string | undefined): Promise<CheckedProof> {
    const epochs = state?.epochs
    if (!epochs?.current) return { epoch: null, verdict: 'ok' }
    return { epoch: epochs.current.id, verdict: await judge(epochs.chain, conn, conn.nonce, sig) }
  }

  /**
   * The handshake's verdict on `conn`, by its `proof` (from `check`) and `state` now, and the
   * vouch for this relay a member sent with it. Synchronous: `conn` joins right after 'ok'.
   */
  admit(conn: Member, state: RoomState | null, proof: CheckedProof, vouch?: string): MemberVerdict {
    const cur = state?.epochs.current ?? null
    const moved = (cur?.id ?? null) !== proof.epoch
    if (!moved && proof.verdict !== 'ok') {
      this.#refuse(conn, proof.verdict, 'auth')
      return proof.verdict
    }
    if (conn.cascade) this.#cascades.add(conn)
    if (moved) {
      // The room changed epoch while the proof verified: held, and asked to prove the epoch now
      // current once its welcome (sent by the caller in the same turn) is out.
      this.#proven.set(conn, null)
      queueMicrotask(() => this.#challenge(conn, this.#o.state()?.epochs.current))
      return 'ok'
    }
    this.#proven.set(conn, proof.epoch)
    void this.#vouched(conn, state, vouch)
    return 'ok'
  }

  /** The room's state changed: connections that proved an older epoch (or none) prove again. */
  onState(state: RoomState, conns: Iterable<Member>): void {
    this.vouches.onState(state)
    const cur = state.epochs.current
    if (!cur) return
    for (const conn of conns) this.#challenge(conn, cur)
  }

  /** Asks `conn` to prove `cur` within the grace, unless it has, is asked already or left. */
  #challenge(conn: Member, cur: Epoch | null | undefined): void {
    if (!cur || conn.closing || this.#pending.has(conn) || this.#proven.get(conn) === cur.id || !this.#proven.has(conn)) return
    const timer = setTimeout(() => this.#expire(conn), this.#o.graceMs)
    timer.unref()
    this.#ask(conn, timer)
  }

  #ask(conn: Member, timer: NodeJS.Timeout): void {
    const nonce = toBase64url(randomBytes(32))
    this.#pending.set(conn, { nonce, timer })
    conn.send({ type: 'prove', nonce })
  }

  /** A `member` answer to `prove` (a cascade's: its vouch), with a member's vouch for this relay. */
  async answer(conn: Member, state: RoomState | null, sig: string, vouch?: string): Promise<void> {
    const pending = this.#pending.get(conn)
    const cur = state?.epochs.current
    if (!pending || !cur || pending.again) return
    let verdict = await judge(state.epochs.chain, conn, pending.nonce, sig)
    // Meanwhile the question may have expired or the connection left; the answer is then moot.
    if (this.#pending.get(conn) !== pending || pending.again || conn.closing) return
    // ... or the room moved to another epoch: what the answer proves is asked again.
    if (this.#o.state()?.epochs.current?.id !== cur.id) verdict = 'epoch-replaced'
    if (verdict === 'ok') {
      this.#stop(conn)
      const held = this.holds(conn)
      this.#proven.set(conn, cur.id)
      if (held) this.#o.served(conn)
      void this.#vouched(conn, state, vouch)
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

  /** A member that proved the current epoch vouches for this relay (kept by `vouches`, which then calls `#push`). */
  async #vouched(conn: Member, state: RoomState | null, vouch: string | undefined): Promise<void> {
    // Before the room has an epoch there is nothing to check a vouch against: it comes again with the next proof.
    if (vouch === undefined || conn.cascade || !conn.relayKey || !state?.epochs.current) return
    if (!(await this.vouches.offer(state, conn.discovery, conn.relayKey, vouch, this.#o.state))) this.#o.counted('bad-vouch')
  }

  /** A newer vouch for this relay goes to the cascades that proved the current epoch. */
  #push(sig: string): void {
    const state = this.#o.state()
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

/** Which epoch of the chain (if any) `sig` proves membership of (a cascade's: vouches for its key). Never rejects. */
async function judge(chain: readonly Epoch[], conn: Member, nonce: string, sig: string | undefined): Promise<MemberVerdict> {
  if (conn.cascade) {
    const v = await vouchedEpoch(chain, conn.discovery, conn.key, sig)
    return v === 'ok' ? 'ok' : v === 'old' ? 'epoch-replaced' : 'not-member'
  }
  const bytes = sig === undefined ? null : fromBase64url(sig)
  if (!bytes) return 'not-member'
  const msg = memberMessage(conn.discovery, nonce, conn.host)
  for (let i = chain.length - 1; i >= 0; i--) {
    if (await verifyMembershipAsync(chain[i]!.member, msg, bytes)) return i === chain.length - 1 ? 'ok' : 'epoch-replaced'
  }
  return 'not-member'
}
