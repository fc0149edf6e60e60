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
}

export function controls(s: RoomSnapshot): Controls {
  const self = s.self
  const live = !s.ended && self.role !== 'banned'
  const handUp = self.handRaisedAt !== undefined
  return {
    raiseHand: live && !self.onStage && !handUp,
    lowerHand: live && !self.onStage && handUp,
    mute: live && self.onStage && !self.muted,
    unmute: live && self.onStage && self.muted,
    leaveStage: live && self.onStage && !self.isOwner,
    endRoom: live && self.isOwner,
    handsQueue: live && self.canModerate,
  }
}

export type PersonAction = 'invite' | 'to-audience' | 'make-moderator' | 'remove-moderator' | 'ban'

/** Moderation actions `self` may offer on `person`; the room model has the last word. */
export function personActions(s: RoomSnapshot, person: Person): PersonAction[] {
  const self = s.self
  if (!self.canModerate || person.id === self.id || person.role === 'owner' || s.ended) return []
  const out: PersonAction[] = []
  if (person.onStage) out.push('to-audience')
  else out.push('invite')
  // Authority flows owner -> moderators -> speakers: only the owner grants moderation.
  if (self.isOwner) out.push(person.role === 'moderator' ? 'remove-moderator' : 'make-moderator')
  if (person.role !== 'moderator' || self.isOwner) out.push('ban')
  return out
}

export function roleLabel(p: Person): string | undefined {
  if (p.role === 'owner') return 'Owner'
  if (p.role === 'moderator') return 'Moderator'
  return undefined
}

/** Accessible name of a person tile: "Ana, owner, muted, hand raised". */
export function personLabel(p: Person, selfId: string, name: string): string {
  const parts = [p.id === selfId ? `${name} (you)` : name]
  const role = roleLabel(p)
  if (role) parts.push(role.toLowerCase())
  if (p.onStage && p.muted) parts.push('muted')
  if (p.onStage && !p.muted && p.level > SPEAKING) parts.push('speaking')
  if (p.handRaisedAt !== undefined) parts.push('hand raised')
  if (!p.present) parts.push('away')
  return parts.join(', ')
}

/** Level above which a speaker counts as speaking (for the label, not the ring). */
export const SPEAKING = 0.08
