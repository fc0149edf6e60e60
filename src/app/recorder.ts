/**
 * Recording a room on this device (docs/room-rules.md §10 record): the mix as this person
 * hears it plus their own microphone, encoded by the browser's MediaRecorder as Opus in
 * WebM (or Ogg), and a JSON timeline of who spoke when. Nothing leaves the device: the
 * files become object URLs the person saves.
 *
 * The session starts it only while the validated room state shows a recording by this
 * person (everyone sees the indicator), and stops it as soon as the state no longer does.
 * Where MediaRecorder or an Opus container is missing, `start()` says so and nothing runs.
 */
import type { SavedRecording } from './types.ts'

/** Level above which a person counts as speaking in the timeline. */
const SPEAKING = 0.1
/** A pause shorter than this does not end a turn. */
const HANGOVER_MS = 800
const TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/ogg']

export interface RecorderOptions {
  ctx: AudioContext
  /** The played mix (Playback.mix). */
  mix: AudioNode
  title: string
  MediaRecorder?: typeof MediaRecorder
  now?: () => number
}

export interface Turn {
  id: string
  name: string
  /** Milliseconds from the start of the recording. */
  start: number
  end: number
}

/** The container MediaRecorder makes here for Opus audio, or null. */
export function recordingType(Rec: typeof MediaRecorder | undefined): string | null {
  if (!Rec || typeof Rec.isTypeSupported !== 'function') return null
  return TYPES.find((t) => Rec.isTypeSupported(t)) ?? null
}

export class RoomRecorder {
  readonly #o: RecorderOptions
  readonly #now: () => number
  #rec: MediaRecorder | null = null
  #dest: MediaStreamAudioDestinationNode | null = null
  #local: { stream: MediaStream; node: MediaStreamAudioSourceNode } | null = null
  #chunks: Blob[] = []
  #startedAt = 0
  #type = ''
  readonly #turns: Turn[] = []
  readonly #open = new Map<string, Turn>()

  constructor(opts: RecorderOptions) {
    this.#o = opts
    this.#now = opts.now ?? Date.now
  }

  get recording(): boolean {
    return this.#rec !== null
  }

  /** Starts recording; false where this browser cannot record Opus. */
  start(): boolean {
    if (this.#rec) return true
    const Rec = this.#o.MediaRecorder ?? (typeof MediaRecorder === 'function' ? MediaRecorder : undefined)
    const type = recordingType(Rec)
    if (!Rec || !type || typeof this.#o.ctx.createMediaStreamDestination !== 'function') return false
    const dest = this.#o.ctx.createMediaStreamDestination()
    this.#o.mix.connect(dest)
    const rec = new Rec(dest.stream, { mimeType: type, audioBitsPerSecond: 64_000 })
    this.#chunks = []
    rec.ondataavailable = (e) => {
      if (e.data.size > 0) this.#chunks.push(e.data)
    }
    rec.start(1000)
    this.#dest = dest
    this.#rec = rec
    this.#type = type
    this.#startedAt = this.#now()
    return true
  }

  /** Puts this person's own microphone into the recording (null: not speaking). */
  setLocal(stream: MediaStream | null): void {
    if (!this.#dest || stream === (this.#local?.stream ?? null)) return
    this.#local?.node.disconnect()
    this.#local = null
    if (!stream) return
    const node = this.#o.ctx.createMediaStreamSource(stream)
    node.connect(this.#dest)
    this.#local = { stream, node }
  }

  /** Speaking levels now (0..1 by participant): extends the timeline. */
  levels(levels: ReadonlyMap<string, number>, nameOf: (id: string) => string): void {
    if (!this.#rec) return
    const t = this.#now() - this.#startedAt
    for (const [id, level] of levels) {
      if (level < SPEAKING) continue
      const turn = this.#open.get(id)
      if (turn && t - turn.end <= HANGOVER_MS) turn.end = t
      else {
        const next = { id, name: nameOf(id), start: t, end: t }
        this.#open.set(id, next)
        this.#turns.push(next)
      }
    }
  }

  /** Stops and hands over the files (null when nothing was recording). */
  stop(): Promise<SavedRecording | null> {
    const rec = this.#rec
    if (!rec) return Promise.resolve(null)
    this.#rec = null
    const durationMs = this.#now() - this.#startedAt
    return new Promise((resolve) => {
      rec.onstop = () => {
        this.#o.mix.disconnect(this.#dest!)
        this.#local?.node.disconnect()
        this.#local = null
        this.#dest = null
        resolve(this.#save(durationMs))
      }
      rec.stop()
    })
  }

  #save(durationMs: number): SavedRecording {
    const started = new Date(this.#startedAt)
    const ext = this.#type.includes('ogg') ? 'ogg' : 'webm'
    const base = `stoop-${slug(this.#o.title)}-${started.toISOString().slice(0, 19).replace(/[:T]/g, '-')}`
    const audio = new Blob(this.#chunks, { type: this.#type.split(';')[0] })
    const timeline = { room: this.#o.title, started: started.toISOString(), durationMs, type: this.#type, turns: this.#turns.splice(0) }
    this.#open.clear()
    this.#chunks = []
    return {
      fileName: `${base}.${ext}`,
      audioUrl: URL.createObjectURL(audio),
      timelineUrl: URL.createObjectURL(new Blob([JSON.stringify(timeline, null, 2)], { type: 'application/json' })),
      durationMs,
    }
  }
}

function slug(title: string): string {
  return (title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'room').slice(0, 40)
}
