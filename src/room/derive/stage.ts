/**
 * The stage (docs/room-rules.md §4): invites and their answers, seats from
 * accepts and speaker redeems, seats closed by leave or move, and the stage and
 * pending invites that result. All of it is layer 4, checked against 1-3.
 */
import type { EntryKind } from '../entry.ts'
import type { Of } from '../entry-index.ts'
import type { Authority } from './authority.ts'
import { privilegeReason, type Bans } from './bans.ts'
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
 * §4 accept row: only the invitee accepts, once per invite (the lowest
 * (time, id) wins, the rest are 'used'), and never a declined invite
 * ('used'). A banned key cannot accept, and a ban spends accepts dated up to
 * it. Returns the seats (accept id -> accept) and every answered invite.
 */
export function acceptedInvites(
  accepts: readonly Of<'accept'>[], invites: ReadonlyMap<string, Of<'invite'>>, declined: ReadonlySet<string>, bans: Bans, ledger: Ledger,
): { seats: Map<string, SeatEntry>; answered: Set<string> } {
  const byInvite = new Map<string, Of<'accept'>[]>()
  for (const a of accepts) {
    const inv = invites.get(a.invite)
    const why =
      bans.isBanned(a.author) || bans.spent(a) ? 'banned'
      : !inv ? ledger.refReason(a.invite, INVITE)
      : inv.subject !== a.author ? 'no-authority'
      : declined.has(a.invite) ? 'used'
      : null
    if (why) ledger.reject(a, why)
    else push(byInvite, a.invite, a)
  }
  const seats = new Map<string, SeatEntry>()
  const answered = new Set<string>(declined)
  for (const [inviteId, list] of byInvite) {
    const first = ledger.keepEarliest(list)
    seats.set(first.id, first)
    answered.add(inviteId)
  }
  return { seats, answered }
}

/** §4: a seat is a valid accept or a valid speaker redeem (accepts first). */
export function allSeats(accepted: ReadonlyMap<string, SeatEntry>, redeemed: readonly Of<'redeem'>[]): Map<string, SeatEntry> {
  const seats = new Map(accepted)
  for (const r of redeemed) seats.set(r.id, r)
  return seats
}

/**
 * §4 leave and move rows: the holder leaves its own seat; the owner or a
 * moderator moves anyone off stage except that moderators cannot move the
 * owner. A reference to a void seat passes its authority failure on. Returns
 * the closed seat ids.
 */
export function closedSeats(
  leaves: readonly Of<'leave'>[], moves: readonly Of<'move'>[], seats: ReadonlyMap<string, SeatEntry>, authority: Authority, bans: Bans, ledger: Ledger,
): Set<string> {
  const closed = new Set<string>()
  for (const l of leaves) {
    const seat = seats.get(l.seat)
    const why = bans.isBanned(l.author) ? 'banned' : !seat ? ledger.refReason(l.seat, SEAT) : seat.author !== l.author ? 'no-authority' : null
    if (why) ledger.reject(l, why)
    else closed.add(l.seat)
  }
  for (const m of moves) {
    const seat = seats.get(m.seat)
    const why =
      privilegeReason(m, authority, bans) ??
      (!seat ? ledger.refReason(m.seat, SEAT) : m.author !== authority.owner && seat.author === authority.owner ? 'no-authority' : null)
    if (why) ledger.reject(m, why)
    else closed.add(m.seat)
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
export function stageOf(seats: ReadonlyMap<string, SeatEntry>, closed: ReadonlySet<string>, ended: boolean): Stage {
  const best = new Map<string, SeatEntry>()
  const liveSeats = new Map<string, string[]>()
  if (!ended) {
    for (const s of seats.values()) {
      if (closed.has(s.id)) continue
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
 * stage or banned is moot, and an ended room has none. In (time, id) order.
 */
export function pendingInvites(
  invites: ReadonlyMap<string, Of<'invite'>>, answered: ReadonlySet<string>, seatOf: ReadonlyMap<string, Seat>, bans: Bans, ended: boolean,
): PendingInvite[] {
  const pending: PendingInvite[] = []
  if (ended) return pending
  for (const i of invites.values()) {
    if (answered.has(i.id) || seatOf.has(i.subject) || bans.isBanned(i.subject)) continue
    pending.push({ id: i.id, subject: i.subject, by: i.author, time: i.time })
  }
  return pending.sort(byTimeThenId)
}
