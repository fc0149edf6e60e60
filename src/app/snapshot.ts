/**
 * Builds the UI's `RoomSnapshot` from the validated room state plus what is
 * live right now (who is connected, speaking levels, link stats). Pure: the
 * session gathers the inputs and calls this on every change.
 *
 * Who is listed:
 * - stage: every seat in the validated stage order, present or not (absent
 *   speakers show as away);
 * - audience: listeners who are here now, plus anyone with a raised hand, plus
 *   yourself; people who left drop off the list;
 * - hands: the validated queue, in raise order.
 * Banned and kicked keys are never listed. Names come from signed profiles, falling back
 * to the name a peer announces in presence (unsigned, display only).
 */
import { MUTE_HOLD_MS, roleOf, type RoomState } from '../room/index.ts'
import type { ChatLine, E2eeStatus, PeerRow, Person, RoomMode, RoomProblem, RoomSnapshot, SavedRecording } from './types.ts'

export interface LiveInput {
  selfId: string
  /** The name this device uses, shown for self until its signed profile arrives. */
  selfName: string
  /** Participants connected now (self excluded or not; self always counts as present). */
  present: ReadonlySet<string>
  /** Presence names by participant id (unsigned). */
  names: ReadonlyMap<string, string>
  /** Speaking levels 0..1 by participant id. */
  levels: ReadonlyMap<string, number>
  /** Local mute state, which leads the signed profile for self. */
  selfMuted?: boolean
  fingerprintOf: (id: string) => string
  mode: RoomMode
  modeReason?: string
  peers: PeerRow[]
  e2ee?: E2eeStatus
  /** Extra rejection counts (updates refused by the guard), merged into `rejected`. */
  refused: Record<string, number>
  audioBlocked: boolean
  problem?: RoomProblem
  /** Reactions shown now, by participant id. */
  reactions?: ReadonlyMap<string, { emoji: string; seq: number }>
  /** The chat as this member reads it (chat-view.ts). */
  chat?: ChatLine[]
  /** Recordings this device made. */
  recordings?: SavedRecording[]
}

export function buildSnapshot(state: RoomState, live: LiveInput): RoomSnapshot {
  const { selfId } = live
  const person = (id: string): Person => {
    const profile = state.profiles.get(id)
    const hand = state.handOf.get(id)
    const onStage = state.seatOf.has(id)
    const isSelf = id === selfId
    const name = profile?.name || live.names.get(id) || (isSelf ? live.selfName : '')
    const forced = state.muted.has(id)
    const muted = forced || (isSelf && live.selfMuted !== undefined ? live.selfMuted : (profile?.muted ?? false))
    return {
      id,
      name,
      fingerprint: live.fingerprintOf(id),
      role: roleOf(state, id),
      onStage,
      muted,
      ...(hand && !onStage ? { handRaisedAt: hand.since } : {}),
      present: isSelf || live.present.has(id),
      level: onStage && !muted ? (live.levels.get(id) ?? 0) : 0,
      ...(forced ? { mutedByModerator: true } : {}),
      ...reactionOf(live, id),
    }
  }

  const selfPerson = person(selfId)
  const selfRole = selfPerson.role
  const out = (id: string): boolean => state.banned.has(id) || state.kicked.has(id)
  const stage = state.stage.filter((s) => !out(s.key)).map((s) => person(s.key))
  const hands = state.hands.filter((h) => !out(h.key) && !state.seatOf.has(h.key)).map((h) => person(h.key))

  const audienceIds = new Set<string>()
  const consider = (id: string): void => {
    if (state.seatOf.has(id) || (out(id) && id !== selfId)) return
    if (id === selfId || live.present.has(id) || state.handOf.has(id)) audienceIds.add(id)
  }
  consider(selfId)
  for (const id of live.present) consider(id)
  for (const h of state.hands) consider(h.key)
  const audience = [...audienceIds].map(person).sort(byPresenceThenName(selfId))

  const invite = selfPerson.onStage || state.ended ? undefined : state.invites.find((i) => i.subject === selfId)
  const recording = state.recording
  const mute = state.muted.get(selfId)
  const rejected: Record<string, number> = {}
  for (const [reason, n] of Object.entries(state.rejected)) if (n > 0) rejected[reason] = n
  for (const [reason, n] of Object.entries(live.refused)) if (n > 0) rejected[`refused: ${reason}`] = n

  return {
    roomId: state.roomId,
    title: state.title,
    topic: state.topic,
    ended: state.ended,
    self: {
      ...selfPerson,
      canModerate: selfRole === 'owner' || selfRole === 'moderator',
      isOwner: selfRole === 'owner',
      ...(mute ? { forcedMute: { byName: nameOf(state, live, mute.by), unmuteAt: mute.at + MUTE_HOLD_MS } } : {}),
    },
    stage,
    audience,
    hands,
    // Told before accepting when the invite was written during a recording, or one runs now.
    ...(invite ? { pendingInvite: { id: invite.id, fromName: nameOf(state, live, invite.by), ...(invite.recording || recording ? { recording: true } : {}) } } : {}),
    mode: live.mode,
    ...(live.modeReason ? { modeReason: live.modeReason } : {}),
    peers: live.peers,
    ...(live.e2ee ? { e2ee: live.e2ee } : {}),
    rejected,
    audioBlocked: live.audioBlocked,
    ...(live.problem ? { problem: live.problem } : {}),
    chat: live.chat ?? [],
    ...(recording ? { recording: { byId: recording.by, byName: nameOf(state, live, recording.by), since: recording.since, mine: recording.by === selfId } } : {}),
    recordings: live.recordings ?? [],
  }
}

function reactionOf(live: LiveInput, id: string): { reaction?: { emoji: string; seq: number } } {
  const r = live.reactions?.get(id)
  return r ? { reaction: { emoji: r.emoji, seq: r.seq } } : {}
}

function nameOf(state: RoomState, live: LiveInput, id: string): string {
  return state.profiles.get(id)?.name || live.names.get(id) || (id ? `Guest ${live.fingerprintOf(id).slice(0, 4)}` : '')
}

/** Self first, then present people, then by name and id (stable across replicas). */
function byPresenceThenName(selfId: string) {
  return (a: Person, b: Person): number => {
    if (a.id === selfId || b.id === selfId) return a.id === selfId ? -1 : 1
    if (a.present !== b.present) return a.present ? -1 : 1
    return a.name.localeCompare(b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  }
}
