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
  setMuted(muted: boolean) { this.#self({ muted }); return this.#log(`setMuted:${muted}`) }
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
  leave() { return this.#log('leave') }
}
