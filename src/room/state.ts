/**
 * The effective room state as a pure function of a SET of verified entries.
 *
 * `computeState(entries, {roomId, now, skewMs})` never looks at arrival order:
 * every choice between entries is made by an explicit total order, usually
 * (time, id), so two replicas holding the same entry set compute the same state.
 * The only input besides the set is `now`, used solely to hold back entries
 * dated beyond `now + skewMs` ('future-time'); they count once the clock passes
 * (`recheckAt` says when to recompute).
 *
 * Authority is resolved in layers so that no rule depends on itself:
 *   1. genesis (self-certifying: it must derive the room id) -> owner
 *   2. owner-only entries -> end time, owner bans, moderator authorities
 *      (owner grants minus owner revokes/bans, plus redeemed owner-issued
 *      moderator link grants)
 *   3. moderator bans/unbans (cannot target owner or moderators) -> banned set
 *   4. everything else, checked against 1-3: invites, accepts, speaker links,
 *      leave/move, hands, profiles, meta.
 * The full rule set with reasons is in docs/room-rules.md.
 *
 * Signatures (including a redeem's embedded link grant) must already be
 * verified by the caller: see replica.ts.
 */
import type { Entry, EntryKind } from './entry.ts'
import { EntryIndex, indexEntries, type Of, type Profile } from './entry-index.ts'
import { emptyRejectCounts, type RejectReason } from './errors.ts'
import { deriveRoomId } from './room-id.ts'

/** Default tolerance for clocks running ahead: entries dated later than now + 2 min wait. */
export const DEFAULT_SKEW_MS = 2 * 60_000

export type Role = 'owner' | 'moderator' | 'speaker' | 'listener' | 'banned'

export interface Seat {
  key: string
  /** Id of the accept (or speaker redeem) entry that holds the seat; target of leave/move. */
  seatId: string
  since: number
  via: 'invite' | 'link'
}

export interface Hand {
  key: string
  raiseId: string
  since: number
}

export interface PendingInvite {
  id: string
  subject: string
  by: string
  time: number
}

export type { Profile }

export interface RoomState {
  roomId: string
  /** False until a valid genesis is known: then nothing else counts. */
  exists: boolean
  genesisId: string | null
  owner: string | null
  title: string
  topic: string
  ended: boolean
  endedAt: number | null
  /** Moderator key -> authority id it signs with (lowest id of its live authorities). Sorted by key. */
  moderators: ReadonlyMap<string, string>
  /** Every live authority id -> key: the genesis (owner) and live moderator grants/redeems. */
  authorities: ReadonlyMap<string, string>
  /** Banned key -> ids of the bans in force (sorted). Sorted by key. */
  banned: ReadonlyMap<string, readonly string[]>
  /** Stage in (accept time, accept id) order. */
  stage: readonly Seat[]
  seatOf: ReadonlyMap<string, Seat>
  /** Every live seat id per key (a key holding two seats is shown once; leaving closes all). */
  liveSeats: ReadonlyMap<string, readonly string[]>
  /** Raised hands of listeners in (raise time, raise id) order. */
  hands: readonly Hand[]
  handOf: ReadonlyMap<string, Hand>
  /** Every valid, un-lowered raise per key (a client lowers all of them). */
  openRaises: ReadonlyMap<string, readonly string[]>
  /** Invites nobody has answered yet, in (time, id) order. */
  invites: readonly PendingInvite[]
  profiles: ReadonlyMap<string, Profile>
  /** Keys that authored at least one valid entry (order unspecified; snapshotState sorts). */
  participants: readonly string[]
  /** Rejected entries by reason (including counts passed in as `baseRejected`). */
  rejected: Record<RejectReason, number>
  /** Reason per rejected entry id. */
  reasons: ReadonlyMap<string, RejectReason>
  /** Earliest time at which a 'future-time' entry becomes admissible, or null. */
  recheckAt: number | null
}

export interface ComputeOptions {
  roomId: string
  now: number
  skewMs?: number
  /** Counts of rejections decided before this function (malformed, bad-signature, duplicate...). */
  baseRejected?: Partial<Record<RejectReason, number>>
}


/** Total order used for every "earliest wins" choice. */
export function byTimeThenId(a: { time: number; id: string }, b: { time: number; id: string }): number {
  return a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}


/** The role a key has in a state. */
export function roleOf(state: RoomState, key: string): Role {
  if (key === state.owner) return 'owner'
  if (state.banned.has(key)) return 'banned'
  if (state.moderators.has(key)) return 'moderator'
  if (state.seatOf.has(key)) return 'speaker'
  return 'listener'
}

/** Computes the effective state. Pure and synchronous. */
export function computeState(entries: Iterable<Entry>, opts: ComputeOptions): RoomState {
  const horizon = opts.now + (opts.skewMs ?? DEFAULT_SKEW_MS)
  return computeFromIndex(indexEntries(entries, opts.roomId, horizon), opts)
}

/**
 * Same as computeState over an EntryIndex (which the replica keeps up to date
 * incrementally). Admits entries whose time has come; otherwise read-only.
 */
export function computeFromIndex(index: EntryIndex, opts: ComputeOptions): RoomState {
  const { roomId, now } = opts
  if (index.roomId !== roomId) throw new RangeError('index belongs to another room')
  const skewMs = opts.skewMs ?? DEFAULT_SKEW_MS
  const rejected = emptyRejectCounts()
  if (opts.baseRejected) for (const [r, n] of Object.entries(opts.baseRejected)) rejected[r as RejectReason] += n ?? 0
  const reasons = new Map<string, RejectReason>()
  const rejectedByAuthor = new Map<string, number>()
  const reject = (e: Entry, r: RejectReason, admitted = true): void => {
    reasons.set(e.id, r)
    rejected[r]++
    if (admitted) rejectedByAuthor.set(e.author, (rejectedByAuthor.get(e.author) ?? 0) + 1)
  }

  // ---- 0. dedupe, room and clock prechecks (kept by the index) ------------
  index.admit(now + skewMs)
  const byId = index.byId
  const bucket = index.buckets
  rejected.duplicate += index.duplicates
  for (const e of index.wrongRoom) reject(e, 'wrong-room', false)
  let recheckAt: number | null = null
  for (const e of index.future) {
    reject(e, 'future-time', false)
    const at = e.time - skewMs
    if (recheckAt === null || at < recheckAt) recheckAt = at
  }

  // ---- 1. genesis ----------------------------------------------------------
  let genesis: Of<'genesis'> | null = null
  const extraGenesis: Of<'genesis'>[] = []
  for (const g of bucket.genesis) {
    if (deriveRoomId(g.authorKey, g.nonce) !== roomId) {
      reject(g, 'wrong-room')
      continue
    }
    if (genesis === null) genesis = g
    else if (byTimeThenId(g, genesis) < 0) {
      extraGenesis.push(genesis)
      genesis = g
    } else extraGenesis.push(g)
  }
  for (const g of extraGenesis) reject(g, 'duplicate')
  if (genesis === null) {
    for (const e of byId.values()) if (!reasons.has(e.id) && e.kind !== 'genesis') reject(e, 'unknown-reference')
    return emptyState(roomId, rejected, reasons, recheckAt)
  }
  const owner = genesis.author
  const G = genesis.id
  const ownerAuth = (e: { author: string; auth: string }): boolean => e.author === owner && e.auth === G

  // ---- 2. owner-only layer -------------------------------------------------
  let endedAt = Infinity
  for (const e of bucket.end) {
    if (ownerAuth(e)) endedAt = Math.min(endedAt, e.time)
    else reject(e, 'no-authority')
  }
  const ended = endedAt !== Infinity

  const ownerRevoked = new Set<string>()
  const otherRevokes: Of<'revoke'>[] = []
  for (const r of bucket.revoke) {
    if (r.author !== owner) otherRevokes.push(r)
    else if (r.auth === G) ownerRevoked.add(r.target)
    else reject(r, 'no-authority')
  }

  const ownerUnbanTargets = new Set<string>()
  for (const u of bucket.unban) if (ownerAuth(u)) ownerUnbanTargets.add(u.target)
  const validBans: Of<'ban'>[] = []
  const otherBans: Of<'ban'>[] = []
  const ownerBanned = new Set<string>()
  for (const b of bucket.ban) {
    if (b.author !== owner) otherBans.push(b)
    else if (b.auth !== G || b.subject === owner) reject(b, 'no-authority')
    else {
      validBans.push(b)
      if (!ownerUnbanTargets.has(b.id)) ownerBanned.add(b.subject)
    }
  }

  // Moderator authorities: authority id -> key. Voided ones remember why.
  const authorities = new Map<string, string>([[G, owner]])
  const voided = new Map<string, { key: string; reason: RejectReason }>()
  for (const g of bucket.grant) {
    if (!ownerAuth(g)) reject(g, 'no-authority')
    else if (g.time >= endedAt) reject(g, 'room-ended')
    else if (ownerRevoked.has(g.id)) {
      reject(g, 'revoked')
      voided.set(g.id, { key: g.subject, reason: 'revoked' })
    } else if (ownerBanned.has(g.subject)) voided.set(g.id, { key: g.subject, reason: 'banned' })
    else if (g.subject !== owner) authorities.set(g.id, g.subject)
  }

  const linkWindow = (r: Of<'redeem'>): RejectReason | null => {
    const L = r.link
    if (r.time >= endedAt) return 'room-ended'
    if (L.expiresAt !== undefined && r.time > L.expiresAt) return 'expired'
    if (r.time + skewMs < L.issuedAt) return 'expired'
    return null
  }
  const singleUse = (groups: Map<string, Of<'redeem'>[]>, accept: (r: Of<'redeem'>) => void): void => {
    for (const list of groups.values()) {
      if (list.length > 1 && list[0]!.link.singleUse) {
        list.sort(byTimeThenId)
        for (let i = 1; i < list.length; i++) reject(list[i]!, 'used')
        accept(list[0]!)
      } else for (const r of list) accept(r)
    }
  }

  const speakerRedeems: Of<'redeem'>[] = []
  const modRedeems = new Map<string, Of<'redeem'>[]>()
  for (const r of bucket.redeem) {
    const L = r.link
    if (L.roomId !== roomId) {
      reject(r, 'wrong-room')
      continue
    }
    if (L.role === 'speaker') {
      speakerRedeems.push(r)
      continue
    }
    let why: RejectReason | null = r.author === owner ? 'no-authority' : null
    if (!why && ownerBanned.has(r.author)) why = 'banned'
    if (!why && !(L.issuer === owner && L.auth === G)) why = 'no-authority'
    if (!why && (ownerRevoked.has(L.id) || ownerRevoked.has(r.id))) {
      why = 'revoked'
      voided.set(r.id, { key: r.author, reason: 'revoked' })
    }
    if (!why) why = linkWindow(r)
    if (why) reject(r, why)
    else push(modRedeems, L.id, r)
  }
  singleUse(modRedeems, (r) => authorities.set(r.id, r.author))

  const modKeys = new Set<string>()
  for (const k of authorities.values()) if (k !== owner) modKeys.add(k)

  /** Checks `auth` for a non-owner author: must be a live authority of that very key. */
  const authReason = (author: string, auth: string): RejectReason | null => {
    const k = authorities.get(auth)
    if (k !== undefined) return k === author && author !== owner ? null : 'no-authority'
    const v = voided.get(auth)
    if (v) return v.key === author ? v.reason : 'no-authority'
    return byId.has(auth) ? 'no-authority' : 'unknown-reference'
  }
  /**
   * Why a reference to an invite, ban or seat that is not valid fails. A void
   * target of the expected kind passes its authority failure on (the cascade);
   * anything else, including an entry of another kind, is an unknown reference.
   * Only target kinds decided in an earlier layer are consulted, so the answer
   * never depends on the order of entries within a bucket (an accept naming
   * another accept must not see that accept's reason only if it came first).
   */
  const refReason = (id: string, kinds: readonly EntryKind[]): RejectReason => {
    const t = byId.get(id)
    if (!t || !kinds.includes(t.kind)) return 'unknown-reference'
    const r = reasons.get(id)
    return r === 'revoked' || r === 'no-authority' ? r : 'unknown-reference'
  }
  const INVITE: readonly EntryKind[] = ['invite']
  const BAN: readonly EntryKind[] = ['ban']
  const SEAT: readonly EntryKind[] = ['accept', 'redeem']

  // ---- 3. moderator bans, unbans -> banned set -----------------------------
  for (const b of otherBans) {
    const why = authReason(b.author, b.auth)
    if (why) reject(b, why)
    else if (b.subject === owner || modKeys.has(b.subject)) reject(b, 'no-authority')
    else validBans.push(b)
  }
  const banById = new Map<string, Of<'ban'>>()
  for (const b of validBans) banById.set(b.id, b)
  const unbanned = new Set<string>()
  for (const u of bucket.unban) {
    let why = u.author === owner ? (u.auth === G ? null : 'no-authority') : authReason(u.author, u.auth)
    const target = banById.get(u.target)
    if (!why && !target) why = refReason(u.target, BAN)
    if (!why && target!.author === owner && u.author !== owner) why = 'no-authority'
    if (why) reject(u, why)
    else unbanned.add(u.target)
  }
  const bannedIds = new Map<string, string[]>()
  const banTime = new Map<string, number>()
  for (const b of validBans) {
    banTime.set(b.subject, Math.max(banTime.get(b.subject) ?? -1, b.time))
    if (!unbanned.has(b.id)) push(bannedIds, b.subject, b.id)
  }
  // Ids in a canonical order: bucket order is arrival order, which differs between replicas.
  for (const list of bannedIds.values()) if (list.length > 1) list.sort()
  const isBanned = (key: string): boolean => key !== owner && bannedIds.has(key)
  /** A ban "spends" the subject's seats and hands dated at or before it, even after an unban. */
  const spent = (e: Entry): boolean => {
    const t = banTime.get(e.author)
    return t !== undefined && e.time <= t
  }
  /** Owner (auth = genesis) or a live moderator authority; banned authors are void. */
  const privReason = (e: { author: string; auth: string }): RejectReason | null => {
    if (e.author === owner) return e.auth === G ? null : 'no-authority'
    if (isBanned(e.author)) return 'banned'
    return authReason(e.author, e.auth)
  }

  // ---- 4. everything else --------------------------------------------------
  // Moderator-issued revokes: valid authority now, target checked below.
  const modRevokes = new Map<string, string[]>()
  const modRevokeList: Of<'revoke'>[] = []
  for (const r of otherRevokes) {
    const why = privReason(r)
    if (why) reject(r, why)
    else {
      push(modRevokes, r.target, r.auth)
      modRevokeList.push(r)
    }
  }
  const isRevoked = (id: string, auth: string): boolean =>
    ownerRevoked.has(id) || (modRevokes.get(id)?.includes(auth) ?? false)

  const invites = new Map<string, Of<'invite'>>()
  for (const i of bucket.invite) {
    const why = privReason(i) ?? (i.time >= endedAt ? 'room-ended' : isRevoked(i.id, i.auth) ? 'revoked' : null)
    if (why) reject(i, why)
    else invites.set(i.id, i)
  }
  const declined = new Set<string>()
  for (const d of bucket.decline) {
    const inv = invites.get(d.invite)
    const why = isBanned(d.author) ? 'banned' : !inv ? refReason(d.invite, INVITE) : inv.subject !== d.author ? 'no-authority' : null
    if (why) reject(d, why)
    else declined.add(d.invite)
  }

  const seats = new Map<string, Entry>()
  const acceptsByInvite = new Map<string, Of<'accept'>[]>()
  for (const a of bucket.accept) {
    const inv = invites.get(a.invite)
    const why =
      isBanned(a.author) || spent(a) ? 'banned'
      : !inv ? refReason(a.invite, INVITE)
      : inv.subject !== a.author ? 'no-authority'
      : declined.has(a.invite) ? 'used'
      : null
    if (why) reject(a, why)
    else push(acceptsByInvite, a.invite, a)
  }
  const answered = new Set<string>(declined)
  for (const [inviteId, list] of acceptsByInvite) {
    if (list.length > 1) list.sort(byTimeThenId)
    for (let i = 1; i < list.length; i++) reject(list[i]!, 'used')
    seats.set(list[0]!.id, list[0]!)
    answered.add(inviteId)
  }

  const speakerLinkAuth = new Map<string, string>()
  const speakerGroups = new Map<string, Of<'redeem'>[]>()
  for (const r of speakerRedeems) {
    const L = r.link
    speakerLinkAuth.set(L.id, L.auth)
    let why: RejectReason | null = isBanned(r.author) || spent(r) ? 'banned' : null
    if (!why) why = L.issuer === owner ? (L.auth === G ? null : 'no-authority') : authReason(L.issuer, L.auth)
    if (!why && (isRevoked(L.id, L.auth) || ownerRevoked.has(r.id))) why = 'revoked'
    if (!why) why = linkWindow(r)
    if (why) reject(r, why)
    else push(speakerGroups, L.id, r)
  }
  singleUse(speakerGroups, (r) => seats.set(r.id, r))

  for (const r of modRevokeList) {
    const t = byId.get(r.target)
    const targetAuth = t?.kind === 'invite' ? t.auth : speakerLinkAuth.get(r.target)
    if (targetAuth === undefined) reject(r, t ? 'no-authority' : 'unknown-reference')
    else if (targetAuth !== r.auth) reject(r, 'no-authority')
  }

  const closed = new Set<string>()
  for (const l of bucket.leave) {
    const seat = seats.get(l.seat)
    const why = isBanned(l.author) ? 'banned' : !seat ? refReason(l.seat, SEAT) : seat.author !== l.author ? 'no-authority' : null
    if (why) reject(l, why)
    else closed.add(l.seat)
  }
  for (const m of bucket.move) {
    const seat = seats.get(m.seat)
    const why = privReason(m) ?? (!seat ? refReason(m.seat, SEAT) : m.author !== owner && seat.author === owner ? 'no-authority' : null)
    if (why) reject(m, why)
    else closed.add(m.seat)
  }

  const bestSeat = new Map<string, Entry>()
  const liveSeats = new Map<string, string[]>()
  if (!ended) {
    for (const s of seats.values()) {
      if (closed.has(s.id)) continue
      push(liveSeats, s.author, s.id)
      const cur = bestSeat.get(s.author)
      if (!cur || byTimeThenId(s, cur) < 0) bestSeat.set(s.author, s)
    }
  }
  const stageEntries = [...bestSeat.values()].sort(byTimeThenId)
  const stage: Seat[] = stageEntries.map((s) => ({ key: s.author, seatId: s.id, since: s.time, via: s.kind === 'redeem' ? 'link' : 'invite' }))
  const seatOf = new Map<string, Seat>()
  for (const s of stage) seatOf.set(s.key, s)

  // Hands. A lower counts when its author also wrote the raise it names
  // (whatever became of that raise); the index keeps open raises per author.
  for (const key of bannedIds.keys()) for (const l of index.lowersByAuthor.get(key) ?? []) reject(l, 'banned')
  for (const list of index.unresolvedLowers.values()) for (const l of list) if (!isBanned(l.author)) reject(l, 'unknown-reference')
  for (const l of index.foreignLowers) if (!isBanned(l.author)) reject(l, 'no-authority')
  for (const [key, t] of banTime) {
    const banned = isBanned(key)
    for (const r of index.raisesByAuthor.get(key) ?? []) if (banned || r.time <= t) reject(r, 'banned')
  }
  const openRaises = new Map<string, string[]>()
  const bestRaise: Of<'raise'>[] = []
  for (const [key, open] of index.openRaises) {
    if (isBanned(key)) continue
    const banT = banTime.get(key)
    let best: Of<'raise'> | null = null
    let ids: string[] | null = null
    for (const r of open.values()) {
      if (banT !== undefined && r.time <= banT) continue
      ;(ids ??= []).push(r.id)
      if (!best || byTimeThenId(r, best) < 0) best = r
    }
    if (!ids) continue
    if (ids.length > 1) ids.sort()
    openRaises.set(key, ids)
    if (best && !ended && !seatOf.has(key)) bestRaise.push(best)
  }
  for (const list of liveSeats.values()) if (list.length > 1) list.sort()
  const hands: Hand[] = bestRaise.sort(byTimeThenId).map((r) => ({ key: r.author, raiseId: r.id, since: r.time }))
  const handOf = new Map<string, Hand>()
  for (const h of hands) handOf.set(h.key, h)

  const profiles = new Map(index.bestProfile)
  for (const key of bannedIds.keys()) {
    if (key === owner || !profiles.delete(key)) continue
    for (const p of index.profilesByAuthor.get(key) ?? []) reject(p, 'banned')
  }

  let meta: { time: number; id: string; title: string; topic: string } = genesis
  for (const g of index.metaGroups.values()) {
    const why = privReason(g.best)
    if (why) for (const m of g.entries) reject(m, why)
    else if (byTimeThenId(g.best, meta) > 0) meta = g.best
  }

  const invitesOut: PendingInvite[] = []
  if (!ended) {
    for (const i of invites.values()) {
      if (answered.has(i.id) || seatOf.has(i.subject) || isBanned(i.subject)) continue
      invitesOut.push({ id: i.id, subject: i.subject, by: i.author, time: i.time })
    }
    invitesOut.sort(byTimeThenId)
  }

  const participants: string[] = []
  for (const [key, n] of index.authorCount) if ((rejectedByAuthor.get(key) ?? 0) < n) participants.push(key)

  const moderators = new Map<string, string>()
  for (const [auth, key] of authorities) {
    if (key === owner) continue
    const cur = moderators.get(key)
    if (cur === undefined || auth < cur) moderators.set(key, auth)
  }

  return {
    roomId,
    exists: true,
    genesisId: G,
    owner,
    title: meta.title,
    topic: meta.topic,
    ended,
    endedAt: ended ? endedAt : null,
    moderators: sortedMap(moderators),
    authorities,
    banned: sortedMap(bannedIds),
    stage,
    seatOf,
    liveSeats,
    hands,
    handOf,
    openRaises,
    invites: invitesOut,
    profiles,
    participants,
    rejected,
    reasons,
    recheckAt,
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}

function sortedMap<V>(map: Map<string, V>): Map<string, V> {
  return new Map([...map].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)))
}

function emptyState(roomId: string, rejected: Record<RejectReason, number>, reasons: Map<string, RejectReason>, recheckAt: number | null): RoomState {
  return {
    roomId,
    exists: false,
    genesisId: null,
    owner: null,
    title: '',
    topic: '',
    ended: false,
    endedAt: null,
    moderators: new Map(),
    authorities: new Map(),
    banned: new Map(),
    stage: [],
    seatOf: new Map(),
    liveSeats: new Map(),
    hands: [],
    handOf: new Map(),
    openRaises: new Map(),
    invites: [],
    profiles: new Map(),
    participants: [],
    rejected,
    reasons,
    recheckAt,
  }
}

/**
 * A canonical, JSON-friendly view of a state (maps sorted by key), for
 * comparing replicas and for debugging. Two replicas converge iff their
 * snapshots are deep-equal.
 */
export function snapshotState(s: RoomState): Record<string, unknown> {
  const sorted = <V>(m: ReadonlyMap<string, V>): [string, V][] => [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  return {
    roomId: s.roomId,
    exists: s.exists,
    genesisId: s.genesisId,
    owner: s.owner,
    title: s.title,
    topic: s.topic,
    ended: s.ended,
    endedAt: s.endedAt,
    moderators: sorted(s.moderators),
    authorities: sorted(s.authorities),
    banned: sorted(s.banned),
    stage: s.stage,
    hands: s.hands,
    openRaises: sorted(s.openRaises),
    liveSeats: sorted(s.liveSeats),
    invites: s.invites,
    profiles: sorted(s.profiles),
    participants: [...s.participants].sort(),
    rejected: s.rejected,
    reasons: sorted(s.reasons),
    recheckAt: s.recheckAt,
  }
}
