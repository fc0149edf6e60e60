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
 * Where two claims compete for one invite or single-use link, and where a
 * closing entry (revoke, move, leave, ban) meets a claim, causal order decides
 * before time: what each entry names as seen (`prev`, derive/causality.ts).
 *
 * Authority is resolved in layers so that no rule depends on itself:
 *   1. genesis (self-certifying: it must derive the room id) -> owner
 *   2. owner-only entries -> end time, owner bans, moderator authorities
 *      (owner grants minus owner revokes/bans, plus redeemed owner-issued
 *      moderator link grants)
 *   3. moderator bans/unbans (cannot target owner or moderators) -> banned set
 *   4. everything else, checked against 1-3: invites, accepts, speaker links,
 *      leave/move, hands, profiles, meta.
 * The full rule set with reasons is in docs/room-rules.md. Each step of
 * `computeFromIndex` is a function in derive/ that decides one part of the
 * state from the index and the parts decided before it, recording what it
 * rejects in a shared Ledger.
 *
 * Signatures (including a redeem's embedded link grant) must already be
 * verified by the caller: see replica.ts.
 */
import type { Entry } from './entry.ts'
import { indexEntries, type EntryIndex, type Profile } from './entry-index.ts'
import type { RejectReason } from './errors.ts'
import { admitEntries, findGenesis, rejectOrphans } from './derive/admission.ts'
import { Authority, endTime, moderatorGrants, type Root } from './derive/authority.ts'
import { banSet, ownerBans } from './derive/bans.ts'
import { sortedEntries, sortedMap } from './derive/collections.ts'
import { epochsOf, type Epoch, type Epochs } from './derive/epochs.ts'
import { handsOf, type Hand } from './derive/hands.ts'
import { Ledger } from './derive/ledger.ts'
import { Causality } from './derive/causality.ts'
import { moderatorRedeems, speakerRedeems, type LinkChecks } from './derive/links.ts'
import { metaOf, participantsOf, profilesOf } from './derive/profiles.ts'
import { checkRevokeTargets, moderatorRevokes, ownerRevokes, Retirements } from './derive/revokes.ts'
import {
  acceptedInvites, allClaims, closedSeats, declinedInvites, pendingInvites, stageOf, validInvites, type PendingInvite, type Seat,
} from './derive/stage.ts'

export { byTimeThenId } from './derive/collections.ts'
export type { Epoch, Epochs, Hand, PendingInvite, Profile, Seat }

/** Default tolerance for clocks running ahead: entries dated later than now + 2 min wait. */
export const DEFAULT_SKEW_MS = 2 * 60_000

export type Role = 'owner' | 'moderator' | 'speaker' | 'listener' | 'banned'

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
  /** The epoch chain, members' encryption keys, rotation due (docs/room-rules.md §8). */
  epochs: Epochs
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
  /** A partial view: entries count even when what they name as seen is missing (see EntryIndex). */
  partial?: boolean
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
  return computeFromIndex(indexEntries(entries, opts.roomId, horizon, { partial: opts.partial ?? false }), opts)
}

/**
 * Same as computeState over an EntryIndex (which the replica keeps up to date
 * incrementally). Admits entries whose time has come; otherwise read-only.
 */
export function computeFromIndex(index: EntryIndex, opts: ComputeOptions): RoomState {
  const { roomId, now } = opts
  if (index.roomId !== roomId) throw new RangeError('index belongs to another room')
  const skewMs = opts.skewMs ?? DEFAULT_SKEW_MS
  const ledger = new Ledger(index.byId, opts.baseRejected)
  const b = index.buckets
  const recheckAt = admitEntries(index, now, skewMs, ledger)

  // Layer 1 (§2): the genesis names the owner; without one nothing counts.
  const genesis = findGenesis(b.genesis, roomId, ledger)
  if (genesis === null) {
    rejectOrphans(index, ledger)
    return emptyState(roomId, ledger, recheckAt)
  }
  const root: Root = { owner: genesis.author, genesisId: genesis.id }

  // Layer 2 (§3, §5): the owner's entries alone decide the end and the moderator set.
  const endedAt = endTime(b.end, root, ledger)
  const revokedByOwner = ownerRevokes(b.revoke, root, ledger)
  const bannedByOwner = ownerBans(b.ban, b.unban, root, ledger)
  // §3a: what each entry had seen, for single use, expiry and retired passes.
  const causality = new Causality(index)
  const checks: LinkChecks = { roomId, endedAt, skewMs, causality, retired: new Retirements(revokedByOwner.valid, index.byId, causality) }
  const grants = moderatorGrants(b.grant, root, endedAt, revokedByOwner.revoked, bannedByOwner.banned, ledger)
  const links = moderatorRedeems(b.redeem, root, checks, revokedByOwner.revoked, bannedByOwner.banned, ledger)
  const authority = new Authority(root, [grants, links], index.byId)

  // Layer 3 (§3 bans): moderators' bans and all unbans, against the moderator set.
  const bans = banSet(bannedByOwner, b.unban, authority, ledger)

  // Layer 4 (§4, §5): everything else, checked against layers 1-3. Steps that
  // follow references (declines, accepts, leaves, moves) run after the steps
  // that decide their targets, so a void target's reason can cascade.
  const { revocations, valid: modRevokes } = moderatorRevokes(revokedByOwner, authority, bans, ledger)
  const invites = validInvites(b.invite, authority, bans, revocations, endedAt, ledger)
  const declined = declinedInvites(b.decline, invites, bans, ledger)
  const accepted = acceptedInvites(b.accept, invites, declined, bans, causality, ledger)
  const redeemed = speakerRedeems(links.speaker, authority, bans, revocations, checks, ledger)
  checkRevokeTargets(modRevokes, links.speaker, index.byId, ledger)
  const claims = allClaims(accepted.claims, redeemed)
  const closed = closedSeats(b.leave, b.move, claims, authority, bans, causality, ledger)
  const ended = endedAt !== Infinity
  const { stage, seatOf, liveSeats } = stageOf(claims, closed, ended, ledger)
  const { hands, handOf, openRaises } = handsOf(index, bans, seatOf, ended, ledger)
  const profiles = profilesOf(index, bans, ledger)
  const { title, topic } = metaOf(index.metaGroups, genesis, authority, bans, ledger)
  const pending = pendingInvites(invites, accepted.answered, seatOf, bans, ended, causality)
  const epochs = epochsOf(b, root.genesisId, authority, bans, ended, ledger)
  // Last: a participant is a key with an entry that survived every step.
  const participants = participantsOf(index.byAuthor, ledger)

  return {
    roomId,
    exists: true,
    genesisId: root.genesisId,
    owner: root.owner,
    title,
    topic,
    ended,
    endedAt: ended ? endedAt : null,
    moderators: authority.moderators(),
    authorities: authority.live,
    banned: sortedMap(bans.banned),
    stage,
    seatOf,
    liveSeats,
    hands,
    handOf,
    openRaises,
    invites: pending,
    profiles,
    participants,
    epochs,
    rejected: ledger.counts,
    reasons: ledger.reasons,
    recheckAt,
  }
}

const NO_EPOCHS: Epochs = { chain: [], current: null, encKeys: new Map(), rotationDue: false, unsealed: [] }

function emptyState(roomId: string, ledger: Ledger, recheckAt: number | null): RoomState {
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
    epochs: NO_EPOCHS,
    rejected: ledger.counts,
    reasons: ledger.reasons,
    recheckAt,
  }
}

/**
 * A canonical, JSON-friendly view of a state (maps sorted by key), for
 * comparing replicas and for debugging. Two replicas converge iff their
 * snapshots are deep-equal.
 */
export function snapshotState(s: RoomState): Record<string, unknown> {
  return {
    roomId: s.roomId,
    exists: s.exists,
    genesisId: s.genesisId,
    owner: s.owner,
    title: s.title,
    topic: s.topic,
    ended: s.ended,
    endedAt: s.endedAt,
    moderators: sortedEntries(s.moderators),
    authorities: sortedEntries(s.authorities),
    banned: sortedEntries(s.banned),
    stage: s.stage,
    hands: s.hands,
    openRaises: sortedEntries(s.openRaises),
    liveSeats: sortedEntries(s.liveSeats),
    invites: s.invites,
    profiles: sortedEntries(s.profiles),
    participants: [...s.participants].sort(),
    epoch: s.epochs.current && { id: s.epochs.current.id, n: s.epochs.current.n, holders: [...s.epochs.current.boxes.keys()].sort() },
    rotationDue: s.epochs.rotationDue,
    unsealed: s.epochs.unsealed,
    encKeys: sortedEntries(s.epochs.encKeys),
    rejected: s.rejected,
    reasons: sortedEntries(s.reasons),
    recheckAt: s.recheckAt,
  }
}
