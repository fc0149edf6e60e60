/**
 * Layers 1 and 2 of the authority chain (docs/room-rules.md §3): the genesis
 * names the owner, and the owner's entries alone decide the end time and the
 * moderator set. Nothing here reads a moderator's own entries, so moderator
 * power never depends on itself and a moderator cannot entrench itself.
 */
import type { Entry } from '../entry.ts'
import type { Of } from '../entry-index.ts'
import type { RejectReason } from '../errors.ts'
import { sortedMap } from './collections.ts'
import type { Ledger } from './ledger.ts'

/** Layer 1: the owner and the genesis id the owner's entries must name as `auth`. */
export interface Root {
  owner: string
  genesisId: string
}

/** An authority that would be live but is void, and the reason entries relying on it inherit. */
export interface Voided {
  key: string
  reason: RejectReason
}

/** What one kind of entry adds to the moderator set: live authorities (id -> key) and voided ones. */
export interface Granted {
  live: [string, string][]
  voided: [string, Voided][]
}

/** §3 layer 1: the owner's entries must use auth = genesis. */
export function signedByOwner(root: Root, e: { author: string; auth: string }): boolean {
  return e.author === root.owner && e.auth === root.genesisId
}

/**
 * §4 `end`: only the owner ends the room, and the earliest valid end is the end
 * time, so no later entry can move it. Infinity while the room runs.
 */
export function endTime(ends: readonly Of<'end'>[], root: Root, ledger: Ledger): number {
  let endedAt = Infinity
  for (const e of ends) {
    if (signedByOwner(root, e)) endedAt = Math.min(endedAt, e.time)
    else ledger.reject(e, 'no-authority')
  }
  return endedAt
}

/**
 * §3 layer 2, owner grants: only the owner grants moderator power (under the
 * genesis); a grant dated at or after the end is 'room-ended'. A grant the
 * owner revoked, or whose subject the owner banned, is void, and entries that
 * name it inherit why (the cascade). A grant to the owner adds nothing.
 */
export function moderatorGrants(
  grants: readonly Of<'grant'>[], root: Root, endedAt: number, ownerRevoked: ReadonlySet<string>, ownerBanned: ReadonlySet<string>, ledger: Ledger,
): Granted {
  const out: Granted = { live: [], voided: [] }
  for (const g of grants) {
    if (!signedByOwner(root, g)) ledger.reject(g, 'no-authority')
    else if (g.time >= endedAt) ledger.reject(g, 'room-ended')
    else if (ownerRevoked.has(g.id)) {
      ledger.reject(g, 'revoked')
      out.voided.push([g.id, { key: g.subject, reason: 'revoked' }])
    } else if (ownerBanned.has(g.subject)) out.voided.push([g.id, { key: g.subject, reason: 'banned' }])
    else if (g.subject !== root.owner) out.live.push([g.id, g.subject])
  }
  return out
}

/**
 * Layers 1 and 2 resolved: every live authority (the genesis for the owner,
 * then live moderator grants and redeems) and the voided ones, which later
 * layers check each privileged entry's `auth` against.
 */
export class Authority {
  readonly owner: string
  readonly genesisId: string
  /** Live authority id -> key, the genesis first. */
  readonly live = new Map<string, string>()
  private readonly voided = new Map<string, Voided>()
  private readonly moderatorKeys = new Set<string>()
  private readonly byId: ReadonlyMap<string, Entry>

  constructor(root: Root, sources: readonly Granted[], byId: ReadonlyMap<string, Entry>) {
    this.owner = root.owner
    this.genesisId = root.genesisId
    this.byId = byId
    this.live.set(root.genesisId, root.owner)
    for (const s of sources) {
      for (const [id, key] of s.live) this.live.set(id, key)
      for (const [id, v] of s.voided) this.voided.set(id, v)
    }
    for (const k of this.live.values()) if (k !== root.owner) this.moderatorKeys.add(k)
  }

  isModerator(key: string): boolean {
    return this.moderatorKeys.has(key)
  }

  /**
   * §3: why `author` may not sign with `auth`, or null. The owner must name the
   * genesis; anyone else a live authority of that very key. Naming a voided
   * authority of one's own passes its reason on (the cascade); anyone else's
   * authority is 'no-authority', a missing one an 'unknown-reference'.
   */
  signerReason(author: string, auth: string): RejectReason | null {
    if (author === this.owner) return auth === this.genesisId ? null : 'no-authority'
    const k = this.live.get(auth)
    if (k !== undefined) return k === author ? null : 'no-authority'
    const v = this.voided.get(auth)
    if (v) return v.key === author ? v.reason : 'no-authority'
    return this.byId.has(auth) ? 'no-authority' : 'unknown-reference'
  }

  /** Moderator key -> the authority it signs with: the lowest id of its live authorities, so the choice is canonical. Sorted by key. */
  moderators(): Map<string, string> {
    const moderators = new Map<string, string>()
    for (const [auth, key] of this.live) {
      if (key === this.owner) continue
      const cur = moderators.get(key)
      if (cur === undefined || auth < cur) moderators.set(key, auth)
    }
    return sortedMap(moderators)
  }
}
