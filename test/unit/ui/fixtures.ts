import type { Person, RoomSession, RoomSnapshot } from '../../../src/app/types.ts'

export function person(id: string, extra: Partial<Person> = {}): Person {
  return { id, name: id, fingerprint: id.toUpperCase(), role: 'listener', onStage: false, muted: true, present: true, level: 0, ...extra }
}

export function snapshot(patch: Partial<RoomSnapshot> = {}, self: Partial<RoomSnapshot['self']> = {}): RoomSnapshot {
  return {
    roomId: 'r', title: 'T', topic: '', ended: false,
    self: { ...person('me'), canModerate: false, isOwner: false, ...self },
    stage: [], audience: [], hands: [], mode: 'mesh', peers: [], rejected: {}, audioBlocked: false, chat: [], recordings: [],
    ...patch,
  }
}

/** Minimal session: every method resolves; `fail` makes the named one reject. */
export function session(snap: RoomSnapshot, fail?: string): RoomSession & { emit(next: RoomSnapshot): void; left: number } {
  const listeners = new Set<() => void>()
  const ok = (name: string) => () => (name === fail ? Promise.reject(new Error(`${name} refused`)) : Promise.resolve())
  const s = {
    snapshot: snap,
    left: 0,
    subscribe: (l: () => void) => (listeners.add(l), () => listeners.delete(l)),
    emit(next: RoomSnapshot) {
      s.snapshot = next
      for (const l of listeners) l()
    },
    raiseHand: ok('raiseHand'), lowerHand: ok('lowerHand'), acceptInvite: ok('acceptInvite'), declineInvite: ok('declineInvite'),
    leaveStage: ok('leaveStage'), setMuted: ok('setMuted'), setName: ok('setName'), inviteToStage: ok('inviteToStage'),
    moveToAudience: ok('moveToAudience'), setModerator: ok('setModerator'), ban: ok('ban'), endRoom: ok('endRoom'),
    inviteLink: () => Promise.resolve('link'), setVolume: () => {}, resumeAudio: ok('resumeAudio'), setMicrophone: ok('setMicrophone'), react: ok('react'),
    sendChat: ok('sendChat'), hideChat: ok('hideChat'), muteSpeaker: ok('muteSpeaker'), kick: ok('kick'), setRecording: ok('setRecording'),
    transferOwnership: ok('transferOwnership'),
    leave: () => ((s.left += 1), Promise.resolve()),
  }
  return s
}
