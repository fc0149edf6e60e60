/**
 * Bans (docs/room-rules.md §3 "Bans", layers 2 and 3). The owner's bans come
 * first because a key the owner banned is no moderator; moderators' bans and
 * all unbans are judged against the resulting moderator set. Kicks (§10,
 * derive/kicks.ts) are added once known: a kick spends what its subject had,
 * like a ban, and also what it writes while the kick lasts.
 */
import type { Entry, EntryKind } from '../entry.ts'
import type { Of } from '../entry-index.ts'
import type { RejectReason } from '../errors.ts'
import type { Authority, Root } from './authority.ts'
import { kickEnd } from '../moderation-rules.ts'
import { signedByOwner } from './authority.ts'
import type { Causality } from './causality.ts'
import { push } from './collections.ts'
import type { Ledger } from './ledger.ts'

const BAN: readonly EntryKind[] = ['ban']

export interface OwnerBans {
  /** The owner's valid bans (lifted or not). */
  valid: Of<'ban'>[]
  /** Keys under an owner ban the owner has not lifted. */
  banned: Set<string>
  /** Bans by anyone else, judged in layer 3. */
  byOthers: Of<'ban'>[]
}

/**
 * §3 layer 2: an owner bans under its authority (§10: a past owner while it
 * owned the room) and can never ban itself nor the owner now. An owner's
 * unban of an owner's ban needs nothing but an owner's signature, so it
 * already counts here, where the moderator set is decided.
 */
export function ownerBans(bans: readonly Of<'ban'>[], unbans: readonly Of<'unban'>[], root: Root, ledger: Ledger): OwnerBans {
  const liftedByOwner = new Set<string>()
  for (const u of unbans) if (signedByOwner(root, u)) liftedByOwner.add(u.target)
  const out: OwnerBans = { valid: [], banned: new Set(), byOthers: [] }
  for (const b of bans) {
    const claim = root.claim(b)
    if (claim === 'none') out.byOthers.push(b)
    else if (claim === 'invalid' || b.subject === root.owner || b.subject === b.author) ledger.reject(b, 'no-authority')
    else {
      out.valid.push(b)
      if (!liftedByOwner.has(b.id)) out.banned.add(b.subject)
    }
  }
  return out
}

/** What a ban or a kick closes: the subject's seats, raises, invites and links up to it (§3, §10). */
type Closing = Of<'ban'> | Of<'kick'>

/** Why a closing spends something: a ban's reason wins over a kick's. */
type Spent = 'banned' | 'kicked' | null
const worse = (a: Spent, c: Closing): Spent => (c.kind === 'ban' ? 'banned' : (a ?? 'kicked'))

/** Layer 3 resolved: who is banned, and what each key's bans and kicks spent. */
export class Bans {
  /** Banned key -> ids of the bans in force (sorted). */
  readonly banned: ReadonlyMap<string, readonly string[]>
  private readonly owner: string
  /** Per subject, its valid bans (lifted or not) and kicks. */
  private readonly closings = new Map<string, Closing[]>()

  constructor(owner: string, banned: ReadonlyMap<string, readonly string[]>, bansOf: ReadonlyMap<string, readonly Of<'ban'>[]>) {
    this.owner = owner
    this.banned = banned
    for (const [key, list] of bansOf) this.closings.set(key, [...list])
  }

  /** §10: valid kicks spend like bans, and close what their subject writes while they last. */
  addKicks(kicks: readonly Of<'kick'>[]): void {
    for (const k of kicks) push(this.closings, k.subject, k)
  }

  /** Keys with a ban or kick, lifted or not (whose raises may be spent). */
  closedKeys(): IterableIterator<string> {
    return this.closings.keys()
  }

  /** §3: the owner can never be banned. */
  isBanned(key: string): boolean {
    return key !== this.owner && this.banned.has(key)
  }

  /**
   * §3: a ban "spends" the subject's seats, raises and redeems dated at or
   * before it, even after an unban; §10: a kick does too, and spends those
   * dated while it lasts.
   */
  spentBy(e: Entry): Spent {
    let why: Spent = null
    for (const c of this.closings.get(e.author) ?? []) {
      if (e.time <= c.time || (c.kind === 'kick' && e.time < kickEnd(c))) why = worse(why, c)
    }
    return why
  }

  /**
   * §3: a ban (or kick) also spends the invites its subject had: an invite
   * counts after an unban only if it comes after every ban of its subject
   * (names it as seen, or is dated later: the inviter, not the subject, chose
   * that date).
   */
  spendsInvite(inv: Of<'invite'>, causality: Causality): Spent {
    let why: Spent = null
    for (const c of this.closings.get(inv.subject) ?? []) if (!causality.after(inv, c)) why = worse(why, c)
    return why
  }

  /** §3: ...and the links it had: a speaker redeem of a link issued at or before a ban or kick of the redeemer. */
  spendsPass(r: Of<'redeem'>): Spent {
    let why: Spent = null
    for (const c of this.closings.get(r.author) ?? []) if (r.link.issuedAt <= c.time) why = worse(why, c)
    return why
  }
}

/**
 * §3 layer 3: moderators may ban anyone but the owner and moderators. An unban
 * names a ban: the owner lifts any, a moderator only moderators' bans. Ban ids
 * are kept sorted: bucket order is arrival order, which differs between replicas.
 */
export function banSet(owner: OwnerBans, unbans: readonly Of<'unban'>[], authority: Authority, ledger: Ledger): Bans {
  const valid = [...owner.valid]
  const byOwner = new Set(owner.valid.map((b) => b.id))
  for (const b of owner.byOthers) {
    const why = authority.signerReason(b.author, b.auth, b.id, b.time)
    if (why) ledger.reject(b, why)
    else if (b.subject === authority.owner || authority.isModerator(b.subject)) ledger.reject(b, 'no-authority')
    else valid.push(b)
  }
  const banById = new Map<string, Of<'ban'>>()
  for (const b of valid) banById.set(b.id, b)
  const lifted = new Set<string>()
  for (const u of unbans) {
    const target = banById.get(u.target)
    const why =
      authority.signerReason(u.author, u.auth, u.id, u.time) ??
      (!target ? ledger.refReason(u.target, BAN) : byOwner.has(target.id) && !authority.isOwners(u) ? 'no-authority' : null)
    if (why) ledger.reject(u, why)
    else lifted.add(u.target)
  }
  const banned = new Map<string, string[]>()
  const bansOf = new Map<string, Of<'ban'>[]>()
  for (const b of valid) {
    push(bansOf, b.subject, b)
    if (!lifted.has(b.id)) push(banned, b.subject, b.id)
  }
  for (const list of banned.values()) if (list.length > 1) list.sort()
  return new Bans(authority.owner, banned, bansOf)
}

/**
 * §3 layer 4, "checked against 1-3": a privileged entry needs the owner under
 * the genesis or a live moderator authority of its own author, and a banned
 * author's entries are void.
 */
export function privilegeReason(e: { author: string; auth: string; id: string; time: number }, authority: Authority, bans: Bans): RejectReason | null {
  return bans.isBanned(e.author) ? 'banned' : authority.signerReason(e.author, e.auth, e.id, e.time)
}
