/** Which controls a snapshot allows: the rules the screens render, as pure functions. */
import type { Person, RoomSnapshot } from '../../app/types.ts'

export interface Controls {
  raiseHand: boolean
  lowerHand: boolean
  mute: boolean
  unmute: boolean
  leaveStage: boolean
  endRoom: boolean
  /** Moderators see the raised-hands queue. */
  handsQueue: boolean
  /** Everyone in a live room can send reactions. */
  react: boolean
  /** Everyone in a live room can write in the chat. */
  chat: boolean
  /** Moderators start and stop recordings (on their own device). */
  record: boolean
}

export function controls(s: RoomSnapshot): Controls {
  const self = s.self
  const live = !s.ended && self.role !== 'banned' && s.problem?.code !== 'kicked'
  const handUp = self.handRaisedAt !== undefined
  return {
    raiseHand: live && !self.onStage && !handUp,
    lowerHand: live && !self.onStage && handUp,
    mute: live && self.onStage && !self.muted,
    unmute: live && self.onStage && self.muted,
    leaveStage: live && self.onStage && !self.isOwner,
    endRoom: live && self.isOwner,
    handsQueue: live && self.canModerate,
    react: live,
    chat: live,
    record: live && self.canModerate,
  }
}

export type PersonAction = 'invite' | 'to-audience' | 'mute' | 'make-moderator' | 'remove-moderator' | 'make-owner' | 'kick' | 'ban'

/** Moderation actions `self` may offer on `person`; the room model has the last word. */
export function personActions(s: RoomSnapshot, person: Person): PersonAction[] {
  const self = s.self
  if (!self.canModerate || person.id === self.id || person.role === 'owner' || s.ended) return []
  const out: PersonAction[] = []
  if (person.onStage) out.push('to-audience')
  else out.push('invite')
  if (person.onStage && !person.mutedByModerator) out.push('mute')
  // Authority flows owner -> moderators -> speakers: only the owner grants moderation.
  if (self.isOwner) out.push(person.role === 'moderator' ? 'remove-moderator' : 'make-moderator')
  // The room goes to a moderator only (docs/room-rules.md §10 transfer).
  if (self.isOwner && person.role === 'moderator') out.push('make-owner')
  // A kick is a ban with an end: moderators cannot be kicked (the owner revokes them first).
  if (person.role !== 'moderator') out.push('kick')
  if (person.role !== 'moderator' || self.isOwner) out.push('ban')
  return out
}

/** How long a kick lasts, as offered in the person sheet. */
export const KICK_DURATIONS = [
  { label: '5 minutes', ms: 5 * 60_000 },
  { label: '1 hour', ms: 60 * 60_000 },
  { label: '1 day', ms: 24 * 60 * 60_000 },
] as const

export function roleLabel(p: Person): string | undefined {
  if (p.role === 'owner') return 'Owner'
  if (p.role === 'moderator') return 'Moderator'
  return undefined
}

/** Accessible name of a person tile: "Ana, owner, muted, hand raised". */
export function personLabel(p: Person, selfId: string, name: string): string {
  return `${p.id === selfId ? `${name} (you)` : name}${personDetails(p)}`
}

/** What a tile says after the name, for assistive tech: ", owner, muted, hand raised" ('' when nothing). */
export function personDetails(p: Person): string {
  const parts: string[] = []
  const role = roleLabel(p)
  if (role) parts.push(role.toLowerCase())
  if (p.onStage && p.muted) parts.push(p.mutedByModerator ? 'muted by a moderator' : 'muted')
  if (p.onStage && !p.muted && p.level > SPEAKING) parts.push('speaking')
  if (p.handRaisedAt !== undefined) parts.push('hand raised')
  if (!p.present) parts.push('away')
  return parts.map((x) => `, ${x}`).join('')
}

/** Level above which a speaker counts as speaking (for the label, not the ring). */
export const SPEAKING = 0.08
