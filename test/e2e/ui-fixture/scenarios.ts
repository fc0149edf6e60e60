/** Named UI states for tests and screenshots, picked with `?s=<name>` in the fixture page. */
import type { RoomSnapshot } from '../../../src/app/types.ts'
import { person } from './fake-session.ts'

const ana = person('AnaKey0000000000000000000000000000000000000', 'Ana Ortiz', { role: 'owner', onStage: true, muted: false, level: 0.5 })
const bo = person('BoKey11111111111111111111111111111111111111', 'Bo Lindqvist', { role: 'moderator', onStage: true, muted: true })
const chen = person('ChenKey22222222222222222222222222222222222', 'Chen Wei', { role: 'speaker', onStage: true, muted: false, level: 0.02 })
const dee = person('DeeKey333333333333333333333333333333333333', 'Dee', { handRaisedAt: 1000 })
const eli = person('EliKey444444444444444444444444444444444444', 'Eli Moreau')
const fay = person('FayKey555555555555555555555555555555555555', 'Fay', { handRaisedAt: 2000 })
const gus = person('GusKey666666666666666666666666666666666666', '', { present: false })

/** A short chat, with a message that must show as text, never as markup. */
const CHAT = [
  { id: 'c1', authorId: chen.id, authorName: chen.name, at: Date.UTC(2026, 0, 1, 19, 2), text: 'Has anyone heard the new Kamasi record? https://example.org/kamasi' },
  { id: 'c2', authorId: eli.id, authorName: eli.name, at: Date.UTC(2026, 0, 1, 19, 3), text: '<img src=x onerror=alert(1)> is what I typed' },
  { id: 'c3', authorId: ana.id, authorName: ana.name, at: Date.UTC(2026, 0, 1, 19, 4), text: 'Next up: Bo on side B.' },
  { id: 'c4', authorId: dee.id, authorName: dee.name, at: Date.UTC(2026, 0, 1, 19, 5), text: null },
]

function room(self: RoomSnapshot['self'], patch: Partial<RoomSnapshot> = {}): RoomSnapshot {
  const all = [ana, bo, chen, dee, eli, fay, gus].map((p) => (p.id === self.id ? self : p))
  return {
    roomId: 'r0om1d',
    title: 'Friday night jazz talk',
    topic: 'Favourite records of the year, and what to play next week',
    ended: false,
    self,
    stage: all.filter((p) => p.onStage),
    audience: all.filter((p) => !p.onStage),
    hands: all.filter((p) => p.handRaisedAt !== undefined).sort((a, b) => a.handRaisedAt! - b.handRaisedAt!),
    mode: 'mesh',
    peers: [
      { id: bo.id, name: bo.name, via: 'mesh', quality: 'good', rttMs: 32, lossPct: 0, jitterMs: 4 },
      { id: chen.id, name: chen.name, via: 'mesh', quality: 'fair', rttMs: 140, lossPct: 2.5, jitterMs: 18 },
      { id: dee.id, name: dee.name, via: 'relay', quality: 'poor', rttMs: 380, lossPct: 9.1 },
    ],
    rejected: { 'bad-signature': 2, 'issuer-not-moderator': 1 },
    audioBlocked: false,
    chat: CHAT.map((l) => ({ ...l, mine: l.authorId === self.id, canHide: self.canModerate && l.authorId !== ana.id })),
    recordings: [],
    ...patch,
  }
}

const owner = { ...ana, canModerate: true, isOwner: true }
const listener = { ...eli, canModerate: false, isOwner: false }

export const SCENARIOS: Record<string, RoomSnapshot> = {
  owner: room(owner),
  listener: room(listener),
  invited: room(listener, { pendingInvite: { id: 'inv1', fromName: 'Ana Ortiz' } }),
  blocked: room(listener, { audioBlocked: true, mode: 'relay' }),
  offline: room(listener, { mode: 'offline', problem: { code: 'offline', message: '' } }),
  micdenied: room({ ...chen, canModerate: false, isOwner: false }, { problem: { code: 'mic-denied', message: 'Permission denied' } }),
  full: room(listener, { problem: { code: 'room-full', message: '' }, modeReason: 'The relay for this room is at its limit of 200 listeners.' }),
  ended: room(listener, { ended: true }),
  recording: room(owner, { recording: { byId: ana.id, byName: ana.name, since: Date.now() - 65_000, mine: true } }),
  recorded: room(listener, {
    recording: { byId: ana.id, byName: ana.name, since: Date.now() - 65_000, mine: false },
    pendingInvite: { id: 'inv2', fromName: 'Ana Ortiz', recording: true },
  }),
  forcemuted: room(
    { ...chen, muted: true, mutedByModerator: true, canModerate: false, isOwner: false, forcedMute: { byName: 'Bo Lindqvist', unmuteAt: Date.now() + 8000 } },
  ),
  kicked: room(listener, { problem: { code: 'kicked', message: 'A moderator removed you from this room until 21:30. You can come back then.' } }),
}
