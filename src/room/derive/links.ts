/**
 * Link grants and their redeems (docs/room-rules.md §5). A redeem embeds its
 * signed grant. Moderator link grants are the owner's, so their redeems join
 * the moderator set in layer 2; speaker redeems are seats, judged in layer 4
 * against the moderator set and the bans.
 */
import type { Of } from '../entry-index.ts'
import type { RejectReason } from '../errors.ts'
import type { Authority, Granted, Root, Voided } from './authority.ts'
import type { Bans } from './bans.ts'
import { push } from './collections.ts'
import type { Ledger } from './ledger.ts'
import type { Revocations } from './revokes.ts'

/** What every redeem is checked against besides authority. */
export interface LinkWindow {
  roomId: string
  /** End time, Infinity while the room runs. */
  endedAt: number
  skewMs: number
}

/**
 * §5 expiry, §4 end: checked against the redeem's signed time, so it is the
 * same on every replica; a redeem dated more than the skew before `issuedAt`
 * is 'expired' too, and none counts at or after the end.
 */
function outsideWindow(r: Of<'redeem'>, w: LinkWindow): RejectReason | null {
  const L = r.link
  if (r.time >= w.endedAt) return 'room-ended'
  if (L.expiresAt !== undefined && r.time > L.expiresAt) return 'expired'
  if (r.time + w.skewMs < L.issuedAt) return 'expired'
  return null
}

/** §5 single use: of the otherwise valid redeems of one single-use grant only the earliest counts; a multi-use grant admits all. */
function firstUses(byLink: Map<string, Of<'redeem'>[]>, ledger: Ledger): Of<'redeem'>[] {
  const out: Of<'redeem'>[] = []
  for (const list of byLink.values()) {
    if (list.length > 1 && list[0]!.link.singleUse) out.push(ledger.keepEarliest(list))
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
 * void when the owner revoked the link or the redeem (entries relying on it
 * inherit 'revoked'), bounded by the link's validity window and single use.
 */
export function moderatorRedeems(
  redeems: readonly Of<'redeem'>[], root: Root, window: LinkWindow, ownerRevoked: ReadonlySet<string>, ownerBanned: ReadonlySet<string>, ledger: Ledger,
): ModeratorRedeems {
  const speaker: Of<'redeem'>[] = []
  const voided: [string, Voided][] = []
  const byLink = new Map<string, Of<'redeem'>[]>()
  for (const r of redeems) {
    const L = r.link
    if (L.roomId !== window.roomId) {
      ledger.reject(r, 'wrong-room')
      continue
    }
    if (L.role === 'speaker') {
      speaker.push(r)
      continue
    }
    let why: RejectReason | null = r.author === root.owner ? 'no-authority' : null
    if (!why && ownerBanned.has(r.author)) why = 'banned'
    if (!why && !(L.issuer === root.owner && L.auth === root.genesisId)) why = 'no-authority'
    if (!why && (ownerRevoked.has(L.id) || ownerRevoked.has(r.id))) {
      why = 'revoked'
      voided.push([r.id, { key: r.author, reason: 'revoked' }])
    }
    if (!why) why = outsideWindow(r, window)
    if (why) ledger.reject(r, why)
    else push(byLink, L.id, r)
  }
  const live = firstUses(byLink, ledger).map((r): [string, string] => [r.id, r.author])
  return { live, voided, speaker }
}

/**
 * §5, layer 4: a speaker redeem is a seat. The issuer's authority is checked
 * like any privileged entry, so revoking a moderator voids its speaker links
 * and their redeems; the owner may revoke the link or the single redeem, a
 * moderator the links under its own authority. A banned key cannot redeem,
 * and a ban spends redeems dated up to it. Returns the redeems that hold seats.
 */
export function speakerRedeems(
  redeems: readonly Of<'redeem'>[], authority: Authority, bans: Bans, revocations: Revocations, window: LinkWindow, ledger: Ledger,
): Of<'redeem'>[] {
  const byLink = new Map<string, Of<'redeem'>[]>()
  for (const r of redeems) {
    const L = r.link
    let why: RejectReason | null = bans.isBanned(r.author) || bans.spent(r) ? 'banned' : null
    if (!why) why = authority.signerReason(L.issuer, L.auth)
    if (!why && (revocations.has(L.id, L.auth) || revocations.byOwner.has(r.id))) why = 'revoked'
    if (!why) why = outsideWindow(r, window)
    if (why) ledger.reject(r, why)
    else push(byLink, L.id, r)
  }
  return firstUses(byLink, ledger)
}
