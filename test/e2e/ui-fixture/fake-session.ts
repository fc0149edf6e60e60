/**
 * Test-only RoomSession: a scripted room that applies each call to its own
 * snapshot, so UI tests can drive every screen without network or audio.
 * Calls are recorded in `calls` for assertions.
 */
import type { InviteRole, Person, RoomSession, RoomSnapshot } from '../../../src/app/types.ts'

export function person(id: string, name: string, extra: Partial<Person> = {}): Person {
  return { id, name, fingerprint: id.slice(0, 8).toUpperCase(), role: 'listener', onStage: false, muted: true, present: true, level: 0, ...extra }
}

export class FakeSession implements RoomSession {
  snapshot: RoomSnapshot
  calls: string[] = []
  #listeners = new Set<() => void>()

  constructor(snapshot: RoomSnapshot) {
    this.snapshot = snapshot
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Replaces part of the snapshot, as a remote change would. */
  update(patch: Partial<RoomSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch }
    for (const l of [...this.#listeners]) l()
  }

  #self(patch: Partial<RoomSnapshot['self']>): void {
    const self = { ...this.snapshot.self, ...patch }
    const others = (list: Person[]) => list.filter((p) => p.id !== self.id)
    this.update({
      self,
      stage: self.onStage ? [...others(this.snapshot.stage), self] : others(this.snapshot.stage),
      audience: self.onStage ? others(this.snapshot.audience) : [...others(this.snapshot.audience), self],
      hands: self.handRaisedAt !== undefined ? [...others(this.snapshot.hands), self] : others(this.snapshot.hands),
    })
  }

  #log(call: string): Promise<void> {
    this.calls.push(call)
    return Promise.resolve()
  }

  raiseHand() { this.#self({ handRaisedAt: Date.now() }); return this.#log('raiseHand') }
  lowerHand() { this.#self({ handRaisedAt: undefined }); return this.#log('lowerHand') }
  acceptInvite() { this.update({ pendingInvite: undefined }); this.#self({ onStage: true, role: 'speaker', handRaisedAt: undefined }); return this.#log('acceptInvite') }
  declineInvite() { this.update({ pendingInvite: undefined }); return this.#log('declineInvite') }
  leaveStage() { this.#self({ onStage: false, role: this.snapshot.self.canModerate ? this.snapshot.self.role : 'listener' }); return this.#log('leaveStage') }
  setMuted(muted: boolean) {
    const forced = this.snapshot.self.forcedMute
    if (!muted && forced && Date.now() < forced.unmuteAt) return Promise.reject(new Error(`a moderator muted you; you can unmute in ${Math.ceil((forced.unmuteAt - Date.now()) / 1000)} s`))
    this.#self({ muted, ...(muted ? {} : { forcedMute: undefined, mutedByModerator: undefined }) })
    return this.#log(`setMuted:${muted}`)
  }
  setName(name: string) { this.#self({ name }); return this.#log(`setName:${name}`) }
  inviteToStage(id: string) { this.update({ hands: this.snapshot.hands.filter((p) => p.id !== id) }); return this.#log(`inviteToStage:${id}`) }
  moveToAudience(id: string) {
    const p = this.snapshot.stage.find((x) => x.id === id)
    if (p) this.update({ stage: this.snapshot.stage.filter((x) => x.id !== id), audience: [...this.snapshot.audience, { ...p, onStage: false }] })
    return this.#log(`moveToAudience:${id}`)
  }
  setModerator(id: string, on: boolean) { return this.#log(`setModerator:${id}:${on}`) }
  ban(id: string) { return this.#log(`ban:${id}`) }
  endRoom() { this.update({ ended: true }); return this.#log('endRoom') }
  inviteLink(role: InviteRole) { return Promise.resolve(`http://localhost/#/r/${this.snapshot.roomId}?k=SECRETSECRETSECRETSECRETSECRETSECRETSECRET&g=${role}`) }
  setVolume(id: string, v: number) { this.calls.push(`setVolume:${id}:${v}`) }
  resumeAudio() { this.update({ audioBlocked: false }); return this.#log('resumeAudio') }
  setMicrophone(id: string) { return this.#log(`setMicrophone:${id}`) }
  #seq = 0
  sendChat(text: string) {
    const self = this.snapshot.self
    this.update({ chat: [...this.snapshot.chat, { id: `m${this.snapshot.chat.length + 1}`, authorId: self.id, authorName: self.name, at: Date.now(), text, mine: true, canHide: self.canModerate }] })
    return this.#log(`sendChat:${text}`)
  }
  hideChat(id: string) { this.update({ chat: this.snapshot.chat.filter((l) => l.id !== id) }); return this.#log(`hideChat:${id}`) }
  muteSpeaker(id: string) { return this.#log(`muteSpeaker:${id}`) }
  kick(id: string, forMs: number) { return this.#log(`kick:${id}:${forMs}`) }
  setRecording(on: boolean) {
    const self = this.snapshot.self
    this.update({ recording: on ? { byId: self.id, byName: self.name, since: Date.now(), mine: true } : undefined })
    return this.#log(`setRecording:${on}`)
  }
  transferOwnership(id: string) { return this.#log(`transferOwnership:${id}`) }
  react(emoji: string) { this.#self({ reaction: { emoji, seq: ++this.#seq } }); return this.#log(`react:${emoji}`) }
  leave() { return this.#log('leave') }
}
