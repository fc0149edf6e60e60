/**
 * The room actions of a session that are one signed entry each (docs/room-rules.md): the
 * browser session extends this with what needs its devices (microphone, audio, presence).
 * Each resolves once the entry is in the local doc (peers get it when reachable) and
 * rejects with the model's RoomError when the rules refuse it up front.
 */
import type { RoomClient } from '../participant/room-client.ts'
import type { RoomSnapshot } from './types.ts'

export abstract class SessionActions {
  abstract readonly client: RoomClient
  abstract readonly snapshot: RoomSnapshot

  async raiseHand(): Promise<void> {
    await this.client.actor.raiseHand()
  }

  async lowerHand(): Promise<void> {
    await this.client.actor.lowerHand()
  }

  async declineInvite(): Promise<void> {
    await this.client.actor.declineInvite(this.snapshot.pendingInvite?.id)
  }

  async leaveStage(): Promise<void> {
    await this.client.actor.leaveStage()
  }

  async inviteToStage(personId: string): Promise<void> {
    await this.client.actor.inviteToStage(personId)
  }

  async moveToAudience(personId: string): Promise<void> {
    await this.client.actor.moveToAudience(personId)
  }

  async setModerator(personId: string, on: boolean): Promise<void> {
    if (on) await this.client.actor.grantModerator(personId)
    else await this.client.actor.revokeModerator(personId)
  }

  async ban(personId: string): Promise<void> {
    await this.client.actor.ban(personId)
  }

  async endRoom(): Promise<void> {
    await this.client.actor.endRoom()
  }

  async sendChat(text: string): Promise<void> {
    await this.client.actor.sendChat(text)
  }

  async hideChat(messageId: string): Promise<void> {
    await this.client.actor.hideChat(messageId)
  }

  async muteSpeaker(personId: string): Promise<void> {
    await this.client.actor.mute(personId)
  }

  async kick(personId: string, forMs: number): Promise<void> {
    await this.client.actor.kick(personId, forMs)
  }

  async setRecording(on: boolean): Promise<void> {
    if (on) await this.client.actor.startRecording()
    else await this.client.actor.stopRecording()
  }

  async transferOwnership(personId: string): Promise<void> {
    await this.client.actor.transferOwnership(personId, { stayModerator: true })
  }
}
