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
 *   1. genesis (self-certifying: it must derive the room id) -> owner, then
 *      the owners' own transfers (§10) -> the owner now; reads nothing else
 *   2. owner-only entries -> end time, owner bans, moderator authorities
 *      (owner grants minus owner revokes/bans, plus redeemed owner-issued
 *      moderator link grants)
 *   3. moderator bans/unbans (cannot target owner or moderators) -> banned set;
 *      kicks, judged the same way, then spend like bans (§10)
 *   4. everything else, checked against 1-3: invites, accepts, speaker links,
 *      leave/move, hands, profiles, meta, chat, hides, mutes, recording.
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
import { Authority, endTime, moderatorGrants } from './derive/authority.ts'
import { banSet, ownerBans } from './derive/bans.ts'
import { sortedEntries, sortedMap } from './derive/collections.ts'
import { epochsOf, type Epoch, type Epochs } from './derive/epochs.ts'
import { handsOf, type Hand } from './derive/hands.ts'
import { Ledger } from './derive/ledger.ts'
import { Causality } from './derive/causality.ts'
import type { ChatMessage } from './derive/chat.ts'
import { kicksOf, type Kick } from './derive/kicks.ts'
import { moderationOf, type Mute, type Recording } from './derive/moderation.ts'
import { ownerChain } from './derive/owner.ts'
import { moderatorRedeems, speakerRedeems, type LinkChecks } from './derive/links.ts'
import { metaOf, participantsOf, profilesOf, type MetaSource } from './derive/profiles.ts'
import { checkRevokeTargets, moderatorRevokes, ownerRevokes, Retirements } from './derive/revokes.ts'
import {
  acceptedInvites, allClaims, closedSeats, declinedInvites, pendingInvites, stageOf, validInvites, type PendingInvite, type Seat,
} from './derive/stage.ts'

export { byTimeThenId } from './derive/collections.ts'
export type { ChatMessage, Epoch, Epochs, Hand, Kick, MetaSource, Mute, PendingInvite, Profile, Recording, Seat }

/** Default tolerance for clocks running ahead: entries dated later than now + 2 min wait. */
export const DEFAULT_SKEW_MS = 2 * 60_000

export type Role = 'owner' | 'moderator' | 'speaker' | 'listener' | 'banned'

export interface RoomState {
  roomId: string
  /** False until a valid genesis is known: then nothing else counts. */
  exists: boolean
  genesisId: string | null
  owner: string | null
  /** The owner's authority id: the genesis, or the transfer that made it owner (§10). */
  ownerAuth: string | null
  /** '' until revealText (reveal.ts) opens `meta` with the epoch's secret; plain in entries before version 3. */
  title: string
  topic: string
  meta: MetaSource | null
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
  /** Chat the room shows, in (time, id) order, still sealed (reveal-chat.ts opens it) (§10). */
  chat: readonly ChatMessage[]
  /** Speakers a moderator muted, by key (sorted), whether on stage now or not (§10). */
  muted: ReadonlyMap<string, Mute>
  /** Keys kicked out of the room now, by key (sorted) (§10). */
  kicked: ReadonlyMap<string, Kick>
  /** The recording announced now, or null (§10). */
  recording: Recording | null
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
  // §3a: what each entry had seen, for transfers, single use, expiry and retired passes.
  const causality = new Causality(index)
  // §10 transfer: the owner is followed from the genesis through its transfers.
  const root = ownerChain(genesis, b.transfer, index.byId, causality, ledger, opts.partial)

  // Layer 2 (§3, §5): the owners' entries alone decide the end and the moderator set.
  const endedAt = endTime(b.end, root, ledger)
  const revokedByOwner = ownerRevokes(b.revoke, root, ledger)
  const bannedByOwner = ownerBans(b.ban, b.unban, root, ledger)
  const checks: LinkChecks = { roomId, endedAt, skewMs, causality, retired: new Retirements(revokedByOwner.valid, index.byId, causality) }
  const grants = moderatorGrants(b.grant, root, endedAt, revokedByOwner.revoked, bannedByOwner.banned, ledger)
  const links = moderatorRedeems(b.redeem, root, checks, revokedByOwner.revoked, bannedByOwner.banned, ledger)
  const authority = new Authority(root, [grants, links], index.byId)

  // Layer 3 (§3 bans): moderators' bans and all unbans, against the moderator set.
  const bans = banSet(bannedByOwner, b.unban, authority, ledger)
  // §10 kick: judged like a moderator's ban; spends what its subject had, like a ban.
  const kicks = kicksOf(b.kick, authority, bans, ledger)
  bans.addKicks(kicks)

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
  const { title, topic, meta } = metaOf(index.metaGroups, genesis, authority, bans, ledger)
  const pending = pendingInvites(invites, accepted.answered, seatOf, bans, ended, causality)
  const epochs = epochsOf(b, root.genesisId, authority, bans, ended, ledger)
  const mod = moderationOf({ index, kicks, invites: pending, endedAt, now }, authority, bans, causality, ledger)
  // Last: a participant is a key with an entry that survived every step.
  const participants = participantsOf(index.byAuthor, ledger)

  return {
    roomId,
    exists: true,
    genesisId: root.genesisId,
    owner: root.owner,
    ownerAuth: root.auth,
    title,
    topic,
    meta,
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
    invites: mod.invites,
    profiles,
    participants,
    epochs,
    chat: mod.chat,
    muted: mod.muted,
    kicked: mod.kicked,
    recording: mod.recording,
    rejected: ledger.counts,
    reasons: ledger.reasons,
    recheckAt: recheckAt === null ? mod.recheckAt : Math.min(recheckAt, mod.recheckAt ?? Infinity),
  }
}

const NO_EPOCHS: Epochs = { chain: [], current: null, encKeys: new Map(), rotationDue: false, unsealed: [] }

function emptyState(roomId: string, ledger: Ledger, recheckAt: number | null): RoomState {
  return {
    roomId,
    exists: false,
    genesisId: null,
    owner: null,
    ownerAuth: null,
    title: '',
    topic: '',
    meta: null,
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
    chat: [],
    muted: new Map(),
    kicked: new Map(),
    recording: null,
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
    metaId: s.meta?.id ?? null,
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
    ownerAuth: s.ownerAuth,
    chat: s.chat.map((m) => ({ id: m.id, author: m.author, at: m.at })),
    muted: sortedEntries(s.muted),
    kicked: sortedEntries(s.kicked),
    recording: s.recording,
    epoch: s.epochs.current && { id: s.epochs.current.id, n: s.epochs.current.n, holders: [...s.epochs.current.boxes.keys()].sort() },
    rotationDue: s.epochs.rotationDue,
    unsealed: s.epochs.unsealed,
    encKeys: sortedEntries(s.epochs.encKeys),
    rejected: s.rejected,
    reasons: sortedEntries(s.reasons),
    recheckAt: s.recheckAt,
  }
}
