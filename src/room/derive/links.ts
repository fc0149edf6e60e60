/**
 * Link grants and their redeems (docs/room-rules.md §5). A redeem embeds its
 * signed grant. Moderator link grants are the owner's, so their redeems join
 * the moderator set in layer 2; speaker redeems are seats, judged in layer 4
 * against the moderator set and the bans.
 */
import type { Of } from '../entry-index.ts'
import type { RejectReason } from '../errors.ts'
import { signedByOwner, type Authority, type Granted, type Root, type Voided } from './authority.ts'
import type { Bans } from './bans.ts'
import { firstClaim, type Causality } from './causality.ts'
import { push } from './collections.ts'
import type { Ledger } from './ledger.ts'
import type { Retirements, Revocations } from './revokes.ts'

/** What every redeem is checked against besides authority. */
export interface LinkChecks {
  roomId: string
  /** End time, Infinity while the room runs. */
  endedAt: number
  skewMs: number
  causality: Causality
  /** Passes retired by the owner's revokes of single redeems. */
  retired: Retirements
}

/**
 * §5 expiry, §4 end: checked against the redeem's signed time, so it is the
 * same on every replica; a redeem dated more than the skew before `issuedAt`
 * is 'expired' too, and none counts at or after the end. §3a: a redeem dated
 * before the expiry also needs the issuer's first entry after expiry + skew
 * (if any) to have seen it, so that dating a late redeem early does not work.
 */
function outsideWindow(r: Of<'redeem'>, w: LinkChecks): RejectReason | null {
  const L = r.link
  if (r.time >= w.endedAt) return 'room-ended'
  if (r.time + w.skewMs < L.issuedAt) return 'expired'
  if (L.expiresAt === undefined) return null
  return r.time > L.expiresAt || !w.causality.seenByDeadline(r.id, L.issuer, L.expiresAt + w.skewMs) ? 'expired' : null
}

/**
 * §5 single use: of the otherwise valid redeems of one single-use grant only
 * the first in causal order counts (§3a, `firstClaim`); a multi-use grant
 * admits all. A redeem later voided (revoked, banned) still used the grant.
 */
function firstUses(byLink: Map<string, Of<'redeem'>[]>, causality: Causality, ledger: Ledger): Of<'redeem'>[] {
  const out: Of<'redeem'>[] = []
  for (const list of byLink.values()) {
    const L = list[0]!.link
    if (list.length > 1 && L.singleUse) out.push(firstClaim(list, L.issuer, causality, ledger))
    else for (const r of list) out.push(r)
  }
  return out
}

export interface ModeratorRedeems extends Granted {
  /** Redeems of speaker link grants for this room, for layer 4. */
  speaker: Of<'redeem'>[]
}

/**
 * §5, layer 2: a redeem whose grant names another room is 'wrong-room'. A
 * moderator link grant needs the owner under the genesis, and its redeem is an
 * authority like a grant: not for the owner itself nor a key the owner banned,
 * void when the owner revoked the link, the redeem, or a redeem that retired
 * the pass (entries relying on it inherit 'revoked'), bounded by the link's
 * validity window and single use. A redeem whose holder the owner banned, or
 * that was revoked, still used a single-use link.
 */
export function moderatorRedeems(
  redeems: readonly Of<'redeem'>[], root: Root, checks: LinkChecks, ownerRevoked: ReadonlySet<string>, ownerBanned: ReadonlySet<string>, ledger: Ledger,
): ModeratorRedeems {
  const speaker: Of<'redeem'>[] = []
  const voided: [string, Voided][] = []
  const byLink = new Map<string, Of<'redeem'>[]>()
  for (const r of redeems) {
    const L = r.link
    if (L.roomId !== checks.roomId) {
      ledger.reject(r, 'wrong-room')
      continue
    }
    if (L.role === 'speaker') {
      speaker.push(r)
      continue
    }
    const why: RejectReason | null =
      r.author === root.owner || !signedByOwner(root, { author: L.issuer, auth: L.auth, id: r.id, time: r.time }) ? 'no-authority'
      : ownerRevoked.has(L.id) ? 'revoked'
      : outsideWindow(r, checks)
    if (why === 'revoked') voided.push([r.id, { key: r.author, reason: 'revoked' }])
    if (why) ledger.reject(r, why)
    else push(byLink, L.id, r)
  }
  // Bans and retirements close a redeem after the race: banning or demoting the holder does not free a single-use link.
  const live: [string, string][] = []
  for (const r of firstUses(byLink, checks.causality, ledger)) {
    if (ownerBanned.has(r.author)) ledger.reject(r, 'banned')
    else if (!checks.retired.retired(r)) live.push([r.id, r.author])
    else {
      ledger.reject(r, 'revoked')
      voided.push([r.id, { key: r.author, reason: 'revoked' }])
    }
  }
  return { live, voided, speaker }
}

/**
 * §5, layer 4: a speaker redeem is a seat. The issuer's authority is checked
 * like any privileged entry, so revoking a moderator voids its speaker links
 * and their redeems; the owner may revoke the link or a single redeem (which
 * retires the pass), a moderator the links under its own authority. A banned
 * key cannot redeem (its redeem still used a single-use link); a ban spends
 * the redeems dated up to it and the links issued before it. Returns every
 * redeem that passed the checks on the link itself (single use included): a
 * move or leave may name any of them.
 */
export function speakerRedeems(
  redeems: readonly Of<'redeem'>[], authority: Authority, bans: Bans, revocations: Revocations, checks: LinkChecks, ledger: Ledger,
): Of<'redeem'>[] {
  const byLink = new Map<string, Of<'redeem'>[]>()
  const claims: Of<'redeem'>[] = []
  for (const r of redeems) {
    const L = r.link
    const why = authority.signerReason(L.issuer, L.auth, r.id, r.time) ?? (revocations.has(L.id, L.auth) ? 'revoked' : outsideWindow(r, checks))
    if (why) ledger.reject(r, why)
    else {
      push(byLink, L.id, r)
      claims.push(r)
    }
  }
  // Closings apply after the race, so that banning or demoting the holder does not free a single-use link.
  for (const r of firstUses(byLink, checks.causality, ledger)) {
    const why = bans.isBanned(r.author) ? 'banned' : (bans.spentBy(r) ?? bans.spendsPass(r) ?? (checks.retired.retired(r) ? 'revoked' : null))
    if (why) ledger.reject(r, why)
  }
  return claims
}
