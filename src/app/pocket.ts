/**
 * A phone in the pocket: what a room session does for a page that is not being looked at.
 * The lock screen shows the room and offers mute and leave (media-session.ts); the screen
 * stays on while this person is on stage (wake-lock.ts). Both follow the session's
 * snapshots; audio with the screen off is playback.ts' output element.
 */
import { browserMediaSession, RoomMediaSession, type RoomMediaSessionOptions } from './media-session.ts'
import type { RoomSnapshot } from './types.ts'
import { browserWakeLock, StageWakeLock, type WakeLockEnv } from './wake-lock.ts'

export interface PocketEnv {
  media: Pick<RoomMediaSessionOptions, 'mediaSession' | 'Metadata'>
  wakeLock: WakeLockEnv
}

/** The page's own APIs, where it has them (nothing in a page without `navigator`). */
export function browserPocket(): PocketEnv | null {
  if (typeof navigator === 'undefined' || typeof document === 'undefined') return null
  return { media: browserMediaSession(navigator), wakeLock: browserWakeLock(navigator, document) }
}

export class Pocket {
  readonly media: RoomMediaSession
  readonly wakeLock: StageWakeLock

  constructor(env: PocketEnv, actions: Pick<RoomMediaSessionOptions, 'setMuted' | 'leave'>) {
    this.media = new RoomMediaSession({ ...env.media, ...actions })
    this.wakeLock = new StageWakeLock(env.wakeLock)
  }

  update(s: RoomSnapshot): void {
    const out = s.problem?.code === 'banned' || s.problem?.code === 'link-replaced'
    const live = !s.ended && !out
    this.media.update({ title: s.title, onStage: live && s.self.onStage, muted: s.self.muted })
    this.wakeLock.set(live && s.self.onStage)
  }

  close(): void {
    this.media.close()
    this.wakeLock.close()
  }
}
