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
}
