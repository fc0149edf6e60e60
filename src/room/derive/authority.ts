/**
 * Layers 1 and 2 of the authority chain (docs/room-rules.md §3): the genesis
 * and the owners' transfers name the owner (derive/owner.ts), and the owners'
 * entries alone decide the end time and the moderator set. Nothing here reads
 * a moderator's own entries, so moderator power never depends on itself and a
 * moderator cannot entrench itself.
 */
import type { Entry } from '../entry.ts'
import type { Of } from '../entry-index.ts'
import type { RejectReason } from '../errors.ts'
import { sortedMap } from './collections.ts'
import type { Ledger } from './ledger.ts'

/** What an entry says about its signer: its author, the authority it names, and (when it is an entry) its id and time. */
export interface Signed {
  author: string
  auth: string
  id?: string
  time?: number
}

/**
 * Whether an entry is an owner's: 'valid' (its author owned the room under the
 * authority it names, and wrote it while it did), 'invalid' (it names an
 * owner's authority it may not use), 'none' (it names no owner's authority).
 */
export type OwnerClaim = 'valid' | 'invalid' | 'none'

/** Layer 1: the owner now, its authority id (the genesis, or the transfer that made it owner), and every owner's. */
export interface Root {
  owner: string
  genesisId: string
  auth: string
  claim(e: Signed): OwnerClaim
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

/** §3 layer 1: an owner's entry names that owner's authority, written while it owned the room (§10 transfer). */
export function signedByOwner(root: Root, e: Signed): boolean {
  return root.claim(e) === 'valid'
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
 * §3 layer 2, owner grants: only the owner grants moderator power (under its
 * authority); a grant dated at or after the end is 'room-ended'. A grant the
 * owner revoked, or whose subject the owner banned, is void, and entries that
 * name it inherit why (the cascade). A grant to the owner makes it no
 * moderator while it owns the room, but stays live: entries a new owner wrote
 * as a moderator keep their authority, and an owner who granted itself before
 * handing the room over stays a moderator (§10 transfer).
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
    else out.live.push([g.id, g.subject])
  }
  return out
}

/**
 * Layers 1 and 2 resolved: every live authority (the owner's, then live
 * moderator grants and redeems) and the voided ones, which later layers check
 * each privileged entry's `auth` against.
 */
export class Authority {
  readonly owner: string
  readonly genesisId: string
  private readonly root: Root
  /** Live authority id -> key, the owner's first. */
  readonly live = new Map<string, string>()
  private readonly voided = new Map<string, Voided>()
  private readonly moderatorKeys = new Set<string>()
  private readonly byId: ReadonlyMap<string, Entry>

  constructor(root: Root, sources: readonly Granted[], byId: ReadonlyMap<string, Entry>) {
    this.owner = root.owner
    this.genesisId = root.genesisId
    this.root = root
    this.byId = byId
    this.live.set(root.auth, root.owner)
    for (const s of sources) {
      for (const [id, key] of s.live) this.live.set(id, key)
      for (const [id, v] of s.voided) this.voided.set(id, v)
    }
    for (const k of this.live.values()) if (k !== root.owner) this.moderatorKeys.add(k)
  }

  isModerator(key: string): boolean {
    return this.moderatorKeys.has(key)
  }

  /** Whether `e` is an owner's entry (§10: a past owner's while it owned the room). */
  isOwners(e: Signed): boolean {
    return this.root.claim(e) === 'valid'
  }

  /**
   * §3: why `author` may not sign with `auth`, or null. An owner's authority
   * counts for its owner while it owned the room (`id`, `time`: the entry, for
   * a past owner's); anything else must be a live authority of that very key.
   * Naming a voided authority of one's own passes its reason on (the
   * cascade); anyone else's authority is 'no-authority', a missing one an
   * 'unknown-reference'.
   */
  signerReason(author: string, auth: string, id?: string, time?: number): RejectReason | null {
    const claim = this.root.claim({ author, auth, id, time })
    if (claim !== 'none') return claim === 'valid' ? null : 'no-authority'
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
