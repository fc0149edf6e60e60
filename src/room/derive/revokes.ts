/**
 * Revocations (docs/room-rules.md §3 "Cascade", §4 invite row, §5 revoke).
 * The owner's revokes shape the moderator set, so they are read in layer 2;
 * moderators' revokes need a live authority and are read in layer 4.
 */
import type { Entry } from '../entry.ts'
import type { Of } from '../entry-index.ts'
import type { Authority, Root } from './authority.ts'
import { privilegeReason, type Bans } from './bans.ts'
import type { Causality } from './causality.ts'
import { push } from './collections.ts'
import type { Ledger } from './ledger.ts'

export interface OwnerRevokes {
  /** Ids the owner revoked: grants, link grants, single redeems, invites. */
  revoked: Set<string>
  /** The owner's valid revokes. */
  valid: Of<'revoke'>[]
  /** Revokes by anyone else, judged in layer 4. */
  byOthers: Of<'revoke'>[]
}

/**
 * §3 layer 2: the owner may revoke anything it or a moderator issued, under its
 * authority (§10: a past owner while it owned the room); this must be known
 * before the moderator set because a revoked grant never counted.
 */
export function ownerRevokes(revokes: readonly Of<'revoke'>[], root: Root, ledger: Ledger): OwnerRevokes {
  const out: OwnerRevokes = { revoked: new Set(), valid: [], byOthers: [] }
  for (const r of revokes) {
    const claim = root.claim(r)
    if (claim === 'none') out.byOthers.push(r)
    else if (claim === 'valid') {
      out.revoked.add(r.target)
      out.valid.push(r)
    } else ledger.reject(r, 'no-authority')
  }
  return out
}

/**
 * §5 revoke of a redeem (what `revokeModerator` writes for a moderator who came
 * through a link): it voids that redeem and retires its pass. The redeemer can
 * never use the pass again, whatever it dates or names; anyone else's redeem
 * counts only if the revoke had seen it, so a demoted moderator cannot hand the
 * pass on either (attack A). A version-1 revoke names nothing as seen, so it
 * retires the pass for the redeemer only and a log written before causal
 * references keeps its other redeems.
 */
export class Retirements {
  private readonly byLink = new Map<string, { key: string; revoke: Of<'revoke'> }[]>()
  private readonly causality: Causality

  constructor(ownerRevokes: readonly Of<'revoke'>[], byId: ReadonlyMap<string, Entry>, causality: Causality) {
    this.causality = causality
    for (const rv of ownerRevokes) {
      const t = byId.get(rv.target)
      if (t?.kind === 'redeem') push(this.byLink, t.link.id, { key: t.author, revoke: rv })
    }
  }

  retired(r: Of<'redeem'>): boolean {
    const list = this.byLink.get(r.link.id)
    return list !== undefined && list.some((x) => x.key === r.author || (x.revoke.prev.length > 0 && !this.causality.precedes(r.id, x.revoke.id)))
  }
}

/** Which ids are revoked, and for moderators' revokes, under which authority. */
export class Revocations {
  private readonly byOwner: ReadonlySet<string>
  private readonly byModerator: ReadonlyMap<string, readonly string[]>

  constructor(byOwner: ReadonlySet<string>, byModerator: ReadonlyMap<string, readonly string[]>) {
    this.byOwner = byOwner
    this.byModerator = byModerator
  }

  /** §4/§5: an invite or link grant issued under `auth` is cancelled by the owner or by a revoke under that same authority. */
  has(id: string, auth: string): boolean {
    return this.byOwner.has(id) || (this.byModerator.get(id)?.includes(auth) ?? false)
  }
}

/**
 * §5 revoke, layer 4: a moderator's revoke counts only under a live authority
 * of its own (banned authors' are void). It can only cancel what was issued
 * under that same authority (see `Revocations.has`); whether its target is such
 * an entry is checked by `checkRevokeTargets` once the speaker links are known.
 */
export function moderatorRevokes(
  owner: OwnerRevokes, authority: Authority, bans: Bans, ledger: Ledger,
): { revocations: Revocations; valid: Of<'revoke'>[] } {
  const byTarget = new Map<string, string[]>()
  const valid: Of<'revoke'>[] = []
  for (const r of owner.byOthers) {
    const why = privilegeReason(r, authority, bans)
    if (why) ledger.reject(r, why)
    else {
      push(byTarget, r.target, r.auth)
      valid.push(r)
    }
  }
  return { revocations: new Revocations(owner.revoked, byTarget), valid }
}

/**
 * §5: a moderator may revoke invites and speaker link grants issued under its
 * own authority, nothing else ('no-authority'; a target nobody has seen is an
 * 'unknown-reference'). A speaker link is known by the redeems that embed it.
 */
export function checkRevokeTargets(
  revokes: readonly Of<'revoke'>[], speakerRedeems: readonly Of<'redeem'>[], byId: ReadonlyMap<string, Entry>, ledger: Ledger,
): void {
  const linkAuth = new Map<string, string>()
  for (const r of speakerRedeems) linkAuth.set(r.link.id, r.link.auth)
  for (const r of revokes) {
    const t = byId.get(r.target)
    const targetAuth = t?.kind === 'invite' ? t.auth : linkAuth.get(r.target)
    if (targetAuth === undefined) ledger.reject(r, t ? 'no-authority' : 'unknown-reference')
    else if (targetAuth !== r.auth) ledger.reject(r, 'no-authority')
  }
}
