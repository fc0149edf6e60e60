/**
 * The stage (docs/room-rules.md §4): invites and their answers, seats from
 * accepts and speaker redeems, seats closed by leave or move, and the stage and
 * pending invites that result. All of it is layer 4, checked against 1-3.
 *
 * A *claim* is an accept or speaker redeem that passed the checks on its
 * invite or link (its single-use race included): a leave or move may name
 * any claim, and closing it spends its invite or link for its holder (§3a).
 * A *seat* is a claim nothing rejected that no leave or move closed.
 */
import type { EntryKind } from '../entry.ts'
import type { Of } from '../entry-index.ts'
import type { RejectReason } from '../errors.ts'
import type { Authority } from './authority.ts'
import { privilegeReason, type Bans } from './bans.ts'
import { firstClaim, type Causality } from './causality.ts'
import { byTimeThenId, push } from './collections.ts'
import type { Ledger } from './ledger.ts'
import type { Revocations } from './revokes.ts'

const INVITE: readonly EntryKind[] = ['invite']
const SEAT: readonly EntryKind[] = ['accept', 'redeem']

export interface Seat {
  key: string
  /** Id of the accept (or speaker redeem) entry that holds the seat; target of leave/move. */
  seatId: string
  since: number
  via: 'invite' | 'link'
}

export interface PendingInvite {
  id: string
  subject: string
  by: string
  time: number
  /** Written while a recording was on (§10 record): the invitee is asked before it accepts. */
  recording?: true
}

/** A valid accept or a valid speaker redeem. */
export type SeatEntry = Of<'accept'> | Of<'redeem'>

/**
 * §4 invite row: only the owner or a moderator invites (a privileged entry);
 * an invite at or after the end is 'room-ended', and one the owner or its own
 * authority revoked is 'revoked'.
 */
export function validInvites(
  invites: readonly Of<'invite'>[], authority: Authority, bans: Bans, revocations: Revocations, endedAt: number, ledger: Ledger,
): Map<string, Of<'invite'>> {
  const valid = new Map<string, Of<'invite'>>()
  for (const i of invites) {
    const why = privilegeReason(i, authority, bans) ?? (i.time >= endedAt ? 'room-ended' : revocations.has(i.id, i.auth) ? 'revoked' : null)
    if (why) ledger.reject(i, why)
    else valid.set(i.id, i)
  }
  return valid
}

/** §4 decline row: only the invitee answers its invite, and a banned key's entries are void. Returns the declined invite ids. */
export function declinedInvites(declines: readonly Of<'decline'>[], invites: ReadonlyMap<string, Of<'invite'>>, bans: Bans, ledger: Ledger): Set<string> {
  const declined = new Set<string>()
  for (const d of declines) {
    const inv = invites.get(d.invite)
    const why = bans.isBanned(d.author) ? 'banned' : !inv ? ledger.refReason(d.invite, INVITE) : inv.subject !== d.author ? 'no-authority' : null
    if (why) ledger.reject(d, why)
    else declined.add(d.invite)
  }
  return declined
}

/**
 * §4 accept row: only the invitee accepts, once per invite (the first in
 * causal order wins, §3a; the rest are 'used'), and never a declined invite
 * ('used'). A banned key cannot accept. A ban spends the accepts dated up to
 * it and the invites that do not come after it (§3). Returns every claim and
 * every answered invite.
 */
export function acceptedInvites(
  accepts: readonly Of<'accept'>[], invites: ReadonlyMap<string, Of<'invite'>>, declined: ReadonlySet<string>, bans: Bans, causality: Causality,
  ledger: Ledger,
): { claims: SeatEntry[]; answered: Set<string> } {
  const byInvite = new Map<string, Of<'accept'>[]>()
  for (const a of accepts) {
    const inv = invites.get(a.invite)
    const why =
      bans.isBanned(a.author) ? 'banned'
      : !inv ? ledger.refReason(a.invite, INVITE)
      : inv.subject !== a.author ? 'no-authority'
      : declined.has(a.invite) ? 'used'
      : null
    if (why) ledger.reject(a, why)
    else push(byInvite, a.invite, a)
  }
  const claims: SeatEntry[] = []
  const answered = new Set<string>(declined)
  for (const [inviteId, list] of byInvite) {
    const inv = invites.get(inviteId)!
    const first = list.length > 1 ? firstClaim(list, inv.author, causality, ledger) : list[0]!
    const spent = bans.spentBy(first) ?? bans.spendsInvite(inv, causality)
    if (spent) ledger.reject(first, spent)
    for (const a of list) claims.push(a)
    answered.add(inviteId)
  }
  return { claims, answered }
}

/** §4: accepts and speaker redeems by id. */
export function allClaims(accepted: readonly SeatEntry[], redeemed: readonly Of<'redeem'>[]): Map<string, SeatEntry> {
  const claims = new Map<string, SeatEntry>()
  for (const c of accepted) claims.set(c.id, c)
  for (const r of redeemed) claims.set(r.id, r)
  return claims
}

/** A key's use of one invite or link: what closing one of its seats spends. */
const groupOf = (c: SeatEntry): string => `${c.author} ${c.kind === 'accept' ? c.invite : c.link.id}`

/**
 * §4 leave and move rows: the holder leaves its own seat; the owner or a
 * moderator moves anyone off stage except that moderators cannot move the
 * owner. Either may name any claim (one that lost its single-use race too, so
 * that a rival dated earlier cannot reopen what was closed); a reference to a
 * void one passes its authority failure on. §3a: closing a seat spends its
 * invite or link for its holder: every other claim of the holder on it is
 * 'used', except, after a leave, redeems of a multi-use link that come after
 * the leave (rejoining with a link one still holds). Returns the closed ids.
 */
export function closedSeats(
  leaves: readonly Of<'leave'>[], moves: readonly Of<'move'>[], claims: ReadonlyMap<string, SeatEntry>, authority: Authority, bans: Bans,
  causality: Causality, ledger: Ledger,
): Set<string> {
  const target = (id: string): SeatEntry | undefined => {
    const r: RejectReason | undefined = ledger.reasons.get(id)
    return r === undefined || r === 'used' ? claims.get(id) : undefined
  }
  const closed = new Set<string>()
  const moved = new Set<string>()
  const left = new Map<string, Of<'leave'>[]>()
  for (const l of leaves) {
    const seat = target(l.seat)
    const why = bans.isBanned(l.author) ? 'banned' : !seat ? ledger.refReason(l.seat, SEAT) : seat.author !== l.author ? 'no-authority' : null
    if (why) ledger.reject(l, why)
    else {
      closed.add(l.seat)
      push(left, groupOf(seat!), l)
    }
  }
  for (const m of moves) {
    const seat = target(m.seat)
    const why =
      privilegeReason(m, authority, bans) ??
      (!seat ? ledger.refReason(m.seat, SEAT) : m.author !== authority.owner && seat.author === authority.owner ? 'no-authority' : null)
    if (why) ledger.reject(m, why)
    else {
      closed.add(m.seat)
      moved.add(groupOf(seat!))
    }
  }
  for (const c of claims.values()) {
    if (closed.has(c.id) || ledger.reasons.has(c.id)) continue
    const g = groupOf(c)
    const leavesOfGroup = left.get(g)
    const rejoins = c.kind === 'redeem' && !c.link.singleUse && (leavesOfGroup ?? []).every((l) => causality.after(c, l))
    if (moved.has(g) || (leavesOfGroup && !rejoins)) ledger.reject(c, 'used')
  }
  return closed
}

export interface Stage {
  /** In (seat time, seat id) order. */
  stage: Seat[]
  seatOf: Map<string, Seat>
  /** Every live seat id per key, sorted. */
  liveSeats: Map<string, string[]>
}

/**
 * §4 stage order: (seat time, seat id), identical on every replica; a key
 * holding two seats appears once, with its earliest, and leaving closes them
 * all. Once the room has ended the stage is empty.
 */
export function stageOf(claims: ReadonlyMap<string, SeatEntry>, closed: ReadonlySet<string>, ended: boolean, ledger: Ledger): Stage {
  const best = new Map<string, SeatEntry>()
  const liveSeats = new Map<string, string[]>()
  if (!ended) {
    for (const s of claims.values()) {
      if (closed.has(s.id) || ledger.reasons.has(s.id)) continue
      push(liveSeats, s.author, s.id)
      const cur = best.get(s.author)
      if (!cur || byTimeThenId(s, cur) < 0) best.set(s.author, s)
    }
  }
  for (const list of liveSeats.values()) if (list.length > 1) list.sort()
  const stage = [...best.values()].sort(byTimeThenId).map((s): Seat => ({ key: s.author, seatId: s.id, since: s.time, via: s.kind === 'redeem' ? 'link' : 'invite' }))
  const seatOf = new Map<string, Seat>()
  for (const s of stage) seatOf.set(s.key, s)
  return { stage, seatOf, liveSeats }
}

/**
 * §4 invite row: an invite is pending until answered; one whose subject is on
 * stage or banned, or that a ban spent (§3), is moot, and an ended room has
 * none. In (time, id) order.
 */
export function pendingInvites(
  invites: ReadonlyMap<string, Of<'invite'>>, answered: ReadonlySet<string>, seatOf: ReadonlyMap<string, Seat>, bans: Bans, ended: boolean,
  causality: Causality,
): PendingInvite[] {
  const pending: PendingInvite[] = []
  if (ended) return pending
  for (const i of invites.values()) {
    if (answered.has(i.id) || seatOf.has(i.subject) || bans.isBanned(i.subject) || bans.spendsInvite(i, causality) !== null) continue
    pending.push({ id: i.id, subject: i.subject, by: i.author, time: i.time })
  }
  return pending.sort(byTimeThenId)
}
