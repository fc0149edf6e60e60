/**
 * Live-region announcements derived from snapshot diffs: what a screen-reader
 * user should hear when the room changes around them. Pure, so it is tested
 * as a plain function; `RoomView` feeds it consecutive snapshots.
 */
import type { Person, RoomSnapshot } from '../../app/types.ts'
import { displayName } from './avatar.ts'
import { reactionLabel } from '../../participant/reactions.ts'

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
    else if (next.mode === 'reconnecting') out.push('Reconnecting')
    else if (prev.mode === 'offline' || prev.mode === 'connecting' || prev.mode === 'reconnecting') out.push('Connected')
  }
  return out
}

/** Everyone listed in a snapshot, self included. */
function everyone(s: RoomSnapshot): Person[] {
  return [s.self, ...s.stage, ...s.audience]
}

/** Reactions new in `next` (not your own), as "Bea: applause". */
export function newReactions(prev: RoomSnapshot | undefined, next: RoomSnapshot): string[] {
  const before = new Map<string, number>()
  for (const p of prev ? everyone(prev) : []) if (p.reaction) before.set(p.id, p.reaction.seq)
  const out: string[] = []
  const seen = new Set<string>()
  for (const p of everyone(next)) {
    if (!p.reaction || p.id === next.self.id || seen.has(p.id)) continue
    seen.add(p.id)
    if (before.get(p.id) !== p.reaction.seq) out.push(`${displayName(p.name, p.fingerprint)}: ${reactionLabel(p.reaction.emoji) || p.reaction.emoji}`)
  }
  return out
}

/** One sentence for reactions gathered over a while: each one when few, a count when many. */
export function reactionSentence(items: string[]): string {
  if (items.length === 0) return ''
  if (items.length <= 3) return items.join(', ')
  return `${items.length} reactions`
}
