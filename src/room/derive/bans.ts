/**
 * Bans (docs/room-rules.md §3 "Bans", layers 2 and 3). The owner's bans come
 * first because a key the owner banned is no moderator; moderators' bans and
 * all unbans are judged against the resulting moderator set.
 */
import type { Entry, EntryKind } from '../entry.ts'
import type { Of } from '../entry-index.ts'
import type { RejectReason } from '../errors.ts'
import type { Authority, Root } from './authority.ts'
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
 * §3 layer 2: the owner bans under the genesis and can never ban itself. An
 * owner's unban of an owner's ban needs nothing but the owner's signature, so
 * it already counts here, where the moderator set is decided.
 */
export function ownerBans(bans: readonly Of<'ban'>[], unbans: readonly Of<'unban'>[], root: Root, ledger: Ledger): OwnerBans {
  const liftedByOwner = new Set<string>()
  for (const u of unbans) if (signedByOwner(root, u)) liftedByOwner.add(u.target)
  const out: OwnerBans = { valid: [], banned: new Set(), byOthers: [] }
  for (const b of bans) {
    if (b.author !== root.owner) out.byOthers.push(b)
    else if (b.auth !== root.genesisId || b.subject === root.owner) ledger.reject(b, 'no-authority')
    else {
      out.valid.push(b)
      if (!liftedByOwner.has(b.id)) out.banned.add(b.subject)
    }
  }
  return out
}

/** Layer 3 resolved: who is banned, and what each key's bans spent. */
export class Bans {
  /** Banned key -> ids of the bans in force (sorted). */
  readonly banned: ReadonlyMap<string, readonly string[]>
  /** Per subject, the time of its latest valid ban, lifted or not. */
  readonly lastBan: ReadonlyMap<string, number>
  private readonly owner: string
  /** Per subject, its valid bans, lifted or not. */
  private readonly bansOf: ReadonlyMap<string, readonly Of<'ban'>[]>

  constructor(owner: string, banned: ReadonlyMap<string, readonly string[]>, bansOf: ReadonlyMap<string, readonly Of<'ban'>[]>) {
    this.owner = owner
    this.banned = banned
    this.bansOf = bansOf
    const lastBan = new Map<string, number>()
    for (const [key, list] of bansOf) lastBan.set(key, Math.max(...list.map((b) => b.time)))
    this.lastBan = lastBan
  }

  /** §3: the owner can never be banned. */
  isBanned(key: string): boolean {
    return key !== this.owner && this.banned.has(key)
  }

  /** §3: a ban "spends" the subject's seats and raises dated at or before it, even after an unban. */
  spent(e: Entry): boolean {
    const t = this.lastBan.get(e.author)
    return t !== undefined && e.time <= t
  }

  /**
   * §3: a ban also spends the invites its subject had: an invite counts after
   * an unban only if it comes after every ban of its subject (names it as
   * seen, or is dated later: the inviter, not the subject, chose that date).
   */
  spendsInvite(inv: Of<'invite'>, causality: Causality): boolean {
    return (this.bansOf.get(inv.subject) ?? []).some((b) => !causality.after(inv, b))
  }

  /** §3: ...and the links it had: a speaker redeem of a link issued at or before a ban of the redeemer. */
  spendsPass(r: Of<'redeem'>): boolean {
    const t = this.lastBan.get(r.author)
    return t !== undefined && r.link.issuedAt <= t
  }
}

/**
 * §3 layer 3: moderators may ban anyone but the owner and moderators. An unban
 * names a ban: the owner lifts any, a moderator only moderators' bans. Ban ids
 * are kept sorted: bucket order is arrival order, which differs between replicas.
 */
export function banSet(owner: OwnerBans, unbans: readonly Of<'unban'>[], authority: Authority, ledger: Ledger): Bans {
  const valid = [...owner.valid]
  for (const b of owner.byOthers) {
    const why = authority.signerReason(b.author, b.auth)
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
      authority.signerReason(u.author, u.auth) ??
      (!target ? ledger.refReason(u.target, BAN) : target.author === authority.owner && u.author !== authority.owner ? 'no-authority' : null)
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
export function privilegeReason(e: { author: string; auth: string }, authority: Authority, bans: Bans): RejectReason | null {
  return bans.isBanned(e.author) ? 'banned' : authority.signerReason(e.author, e.auth)
}
