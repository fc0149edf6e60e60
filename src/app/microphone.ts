/**
 * The microphone side of a room session: when to capture, what to send, mute,
 * and the 'mic-denied' problem.
 *
 * Rules:
 * - Capture runs only while this person holds a stage seat in the validated
 *   state, or is accepting an invite (the permission prompt then comes with
 *   the tap, before the seat exists). Leaving the stage stops the tracks.
 * - Muted = the signed profile's flag, except while a mute change is being
 *   written (the local choice leads); a muted track stays open but disabled,
 *   so it sends silence and unmuting needs no new prompt.
 * - A refused or failed capture becomes a 'mic-denied' problem; it is not
 *   retried on its own (no prompt loops), only by `retry()` (the banner's
 *   "Try again", or unmuting).
 */
import { Capture, type LocalAudio } from './capture.ts'
import type { RoomProblem } from './types.ts'

export interface MicrophoneOptions {
  capture: Capture
  /** Holds a stage seat in the validated state (and the room is live, not banned). */
  onStage: () => boolean
  /** The muted flag of this person's signed profile. */
  signedMuted: () => boolean
  /** Hands the track to the mesh (null: send nothing). */
  send: (local: LocalAudio | null) => void
  onchange: () => void
  deviceId?: string
}

export class Microphone {
  readonly #o: MicrophoneOptions
  #problem: RoomProblem | undefined
  #accepting = false
  #override: boolean | undefined
  #deviceId: string | undefined
  #closed = false

  constructor(opts: MicrophoneOptions) {
    this.#o = opts
    this.#deviceId = opts.deviceId
  }

  /** The mic problem to show, while the microphone is wanted. */
  get problem(): RoomProblem | undefined {
    return this.#wanted() ? this.#problem : undefined
  }

  get muted(): boolean {
    return this.#override ?? this.#o.signedMuted()
  }

  /** The local mute choice while it is being written, else undefined. */
  get pendingMute(): boolean | undefined {
    return this.#override
  }

  /** Follows the room state: opens or closes capture, applies mute. Call on every state change. */
  sync(): void {
    const capture = this.#o.capture
    if (this.#wanted()) {
      if (!this.#problem) this.#start()
    } else {
      this.#problem = undefined
      if (capture.local || capture.starting) {
        this.#o.send(null)
        capture.stop()
      }
    }
    capture.setEnabled(!this.muted)
  }

  /** Runs `write` (the accept entry) with the microphone opening alongside it. */
  async accept<T>(write: () => Promise<T>): Promise<T> {
    this.#problem = undefined
    this.#accepting = true
    this.#start()
    try {
      return await write()
    } finally {
      this.#accepting = false
      this.sync()
    }
  }

  /** Mutes or unmutes now and runs `write` (the signed profile); unmuting also retries a denied mic. */
  async setMuted(muted: boolean, write: () => Promise<unknown>): Promise<void> {
    if (!muted && this.#problem) this.retry()
    this.#override = muted
    this.#o.capture.setEnabled(!muted)
    this.#o.onchange()
    try {
      await write()
    } finally {
      this.#override = undefined
      this.sync()
      this.#o.onchange()
    }
  }

  retry(): void {
    this.#problem = undefined
    this.sync()
    this.#o.onchange()
  }

  /** Switches device; an open capture is reopened on it. */
  setDevice(deviceId: string | undefined): void {
    this.#deviceId = deviceId
    const capture = this.#o.capture
    if (!capture.local && !capture.starting) return
    this.#o.send(null)
    capture.stop()
    this.sync()
  }

  /** 0..1 level of what is captured (0 when muted or closed). */
  level(): number {
    return this.muted ? 0 : this.#o.capture.level()
  }

  close(): void {
    this.#closed = true
    this.#o.capture.stop()
  }

  #wanted(): boolean {
    return !this.#closed && (this.#accepting || this.#o.onStage())
  }

  #start(): void {
    const capture = this.#o.capture
    if (capture.local || capture.starting || this.#closed) return
    capture.start(this.#deviceId).then(
      (local) => {
        if (!local || this.#closed) return
        if (!this.#wanted()) {
          capture.stop()
          return
        }
        capture.setEnabled(!this.muted)
        this.#o.send(local)
        this.#o.onchange()
      },
      (err: Error) => {
        const denied = err.name === 'NotAllowedError' || err.name === 'SecurityError'
        this.#problem = {
          code: 'mic-denied',
          message: denied ? 'Microphone access was denied.' : `The microphone could not be opened: ${err.message || err.name}`,
        }
        this.#o.onchange()
      },
    )
  }
}
