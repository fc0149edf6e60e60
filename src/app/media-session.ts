/**
 * The room on the phone's lock screen and in the system's media controls (Media Session
 * API): the room's title as what is playing, "Stoop" as its artist, and the actions a
 * person in a room needs without unlocking: mute/unmute while on stage ('togglemicrophone')
 * and leave ('hangup', and 'stop' where a platform offers only the media buttons).
 *
 * Feature-detected throughout: without `navigator.mediaSession`, or where a browser does
 * not know an action (setActionHandler throws a TypeError for those), nothing happens and
 * nothing throws; unsupported actions are counted in `unsupported`.
 */

export interface MediaSessionState {
  title: string
  onStage: boolean
  muted: boolean
}

export interface RoomMediaSessionOptions {
  /** `navigator.mediaSession`, or undefined where the browser has none. */
  mediaSession: MediaSession | undefined
  /** Builds the metadata (the MediaMetadata constructor, where it exists). */
  Metadata?: typeof MediaMetadata | undefined
  /** Mute (true) or unmute (false) this person's microphone. */
  setMuted: (muted: boolean) => void
  leave: () => void
  /** Icon URLs shown with the title (the app's own icons). */
  artwork?: MediaImage[]
}

type Action = 'togglemicrophone' | 'hangup' | 'stop'

export const DEFAULT_ARTWORK: MediaImage[] = [
  { src: '/icon-192.png', sizes: '192x192', type: 'image/png' },
  { src: '/icon-512.png', sizes: '512x512', type: 'image/png' },
]

export class RoomMediaSession {
  readonly #o: RoomMediaSessionOptions
  readonly #handled = new Set<Action>()
  /** Actions this browser refused (debug). */
  readonly unsupported: string[] = []
  #state: MediaSessionState | null = null
  #title: string | null = null
  #micActive: boolean | null = null
  #closed = false

  constructor(opts: RoomMediaSessionOptions) {
    this.#o = opts
    const ms = opts.mediaSession
    if (!ms) return
    this.#handle('togglemicrophone', () => {
      const s = this.#state
      if (s?.onStage) opts.setMuted(!s.muted)
    })
    this.#handle('hangup', () => opts.leave())
    this.#handle('stop', () => opts.leave())
  }

  /** Follows the room: call with every snapshot (cheap when nothing changed). */
  update(state: MediaSessionState): void {
    const ms = this.#o.mediaSession
    if (!ms || this.#closed) return
    this.#state = state
    if (state.title !== this.#title) {
      this.#title = state.title
      const Metadata = this.#o.Metadata
      if (Metadata) {
        try {
          ms.metadata = new Metadata({ title: state.title || 'Untitled room', artist: 'Stoop', album: 'Live room', artwork: this.#o.artwork ?? DEFAULT_ARTWORK })
        } catch (err) {
          this.unsupported.push(`metadata: ${(err as Error).name}`)
        }
      }
    }
    const micActive = state.onStage && !state.muted
    if (micActive === this.#micActive) return
    this.#micActive = micActive
    try {
      ms.playbackState = 'playing'
    } catch (err) {
      this.unsupported.push(`playbackState: ${(err as Error).name}`)
    }
    // Tells the system whether the microphone is live (the lock screen's mute button state).
    const setMic = (ms as MediaSession & { setMicrophoneActive?: (active: boolean) => unknown }).setMicrophoneActive
    if (typeof setMic === 'function') {
      try {
        const r = setMic.call(ms, micActive)
        if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => undefined)
      } catch (err) {
        this.unsupported.push(`setMicrophoneActive: ${(err as Error).name}`)
      }
    }
  }

  /** Clears the metadata and the action handlers (idempotent). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    const ms = this.#o.mediaSession
    if (!ms) return
    for (const action of this.#handled) {
      try {
        ms.setActionHandler(action as MediaSessionAction, null)
      } catch (err) {
        void err // it was accepted when set; a browser refusing to clear it leaves nothing to do
      }
    }
    try {
      ms.metadata = null
      ms.playbackState = 'none'
    } catch (err) {
      this.unsupported.push(`close: ${(err as Error).name}`)
    }
  }

  #handle(action: Action, fn: () => void): void {
    try {
      this.#o.mediaSession!.setActionHandler(action as MediaSessionAction, () => fn())
      this.#handled.add(action)
    } catch (err) {
      // Browsers throw a TypeError for actions they do not know (e.g. 'hangup' outside Chromium).
      this.unsupported.push(`${action}: ${(err as Error).name}`)
    }
  }
}

/** The page's Media Session pieces, where it has them. */
export function browserMediaSession(nav: Navigator = navigator): Pick<RoomMediaSessionOptions, 'mediaSession' | 'Metadata'> {
  const mediaSession = 'mediaSession' in nav ? nav.mediaSession : undefined
  const Metadata = typeof MediaMetadata === 'function' ? MediaMetadata : undefined
  return { mediaSession, Metadata }
}
