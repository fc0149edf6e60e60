/**
 * Live-region announcements derived from snapshot diffs: what a screen-reader
 * user should hear when the room changes around them. Pure, so it is tested
 * as a plain function; `RoomView` feeds it consecutive snapshots.
 */
import type { Person, RoomSnapshot } from '../../app/types.ts'
import { displayName } from './avatar.ts'

const ids = (people: Person[]) => new Set(people.map((p) => p.id))

export function announcements(prev: RoomSnapshot | undefined, next: RoomSnapshot): string[] {
  if (!prev) return next.self.onStage ? ['You are on stage'] : []
  const out: string[] = []
  const name = (p: Person) => displayName(p.name, p.fingerprint)

  if (next.ended && !prev.ended) return ['The room has ended']

  if (next.self.onStage && !prev.self.onStage) out.push('You are on stage')
  if (!next.self.onStage && prev.self.onStage) out.push('You are in the audience')
  if (next.pendingInvite && next.pendingInvite.id !== prev.pendingInvite?.id) {
    out.push(`${next.pendingInvite.fromName || 'A moderator'} invited you to speak`)
  }
  if (next.self.canModerate && !prev.self.canModerate) out.push('You are now a moderator')
  if (!next.self.canModerate && prev.self.canModerate) out.push('You are no longer a moderator')

  // Hands matter to the people who act on them.
  if (next.self.canModerate) {
    const before = ids(prev.hands)
    for (const p of next.hands) if (!before.has(p.id) && p.id !== next.self.id) out.push(`${name(p)} raised a hand`)
  }

  const stageBefore = ids(prev.stage)
  for (const p of next.stage) if (!stageBefore.has(p.id) && p.id !== next.self.id) out.push(`${name(p)} is on stage`)

  if (prev.mode !== next.mode) {
    if (next.mode === 'offline') out.push('Connection lost')
    else if (prev.mode === 'offline' || prev.mode === 'connecting') out.push('Connected')
  }
  return out
}
