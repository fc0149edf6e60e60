/**
 * When this device records (recorder.ts): exactly while the validated room state shows a
 * recording by this person. A recording stopped by anyone (this person, another
 * moderator, the room ending) is saved and listed for the person to keep; leaving while
 * recording announces the stop first, then hands that recording's files to the browser's
 * downloads, since the page that would list them is going away.
 */
import type { RoomClient } from '../participant/room-client.ts'
import { RoomRecorder } from './recorder.ts'
import type { SavedRecording } from './types.ts'

export interface RecordingControlOptions {
  client: RoomClient
  ctx: AudioContext
  mix: AudioNode
  /** This person's microphone stream while it is open. */
  local: () => MediaStream | null
  onchange: () => void
  count: (what: string) => void
  document?: Document
}

export class RecordingControl {
  readonly #o: RecordingControlOptions
  #recorder: RoomRecorder | null = null
  readonly saved: SavedRecording[] = []

  constructor(opts: RecordingControlOptions) {
    this.#o = opts
  }

  /** Follows the room state: starts or stops recording. */
  sync(): void {
    const { client } = this.#o
    const s = client.state
    const mine = s.recording?.by === client.selfId && !s.ended && !s.banned.has(client.selfId)
    if (mine && !this.#recorder) {
      const recorder = new RoomRecorder({ ctx: this.#o.ctx, mix: this.#o.mix, title: s.title })
      if (!recorder.start()) {
        this.#o.count('record-unsupported')
        // The room must not show a recording nobody makes.
        client.actor.stopRecording().catch(() => this.#o.count('record-stop'))
        return
      }
      this.#recorder = recorder
    } else if (!mine && this.#recorder) void this.#stop()
    this.#recorder?.setLocal(this.#o.local())
  }

  /** Speaking levels for the timeline. */
  levels(levels: ReadonlyMap<string, number>, nameOf: (id: string) => string): void {
    this.#recorder?.levels(levels, nameOf)
  }

  /** Leaving: the stop is announced, and the recording running until now is downloaded. */
  async close(): Promise<void> {
    const { client } = this.#o
    if (!this.#recorder) return
    if (client.state.recording?.by === client.selfId) {
      await client.actor.stopRecording().catch(() => this.#o.count('record-stop'))
    }
    const saved = await this.#stop()
    if (saved) this.#download(saved)
  }

  async #stop(): Promise<SavedRecording | null> {
    const recorder = this.#recorder
    this.#recorder = null
    const saved = (await recorder?.stop()) ?? null
    if (!saved) return null
    this.saved.push(saved)
    this.#o.onchange()
    return saved
  }

  #download(r: SavedRecording): void {
    const doc = this.#o.document ?? (typeof document === 'undefined' ? undefined : document)
    if (!doc) return
    for (const [url, name] of [[r.audioUrl, r.fileName], [r.timelineUrl, r.fileName.replace(/\.\w+$/, '.json')]] as const) {
      const a = doc.createElement('a')
      a.href = url
      a.download = name
      a.click()
    }
  }
}
