/**
 * NodePlayback: what a headless participant hears, the Node counterpart of the
 * browser's Playback (src/app/playback.ts). Every remote track feeds a queue of
 * 10 ms frames; a 10 ms clock mixes the frames of the tracks that may be played
 * now (`allowed`, the validated state: speakers only, each over one path) and
 * hands the mix to the recorder and `onHeard`. Speaking levels (dBFS) are
 * gathered per participant until read.
 *
 * Timing: the frames come from libwebrtc's own 10 ms playout clock through the
 * event loop, so a busy loop delivers them late, in a burst, after our timer has
 * fired. A frame with no data is mixed as silence only once a whole tick has
 * passed since it was due (its frames had their turn in the loop), and a queue
 * holds up to 500 ms, so a stall of this process delays what it hears instead
 * of cutting holes in it.
 *
 * `onFirstHeard` fires once per participant, at the first mixed frame of theirs that
 * is played and above FIRST_AUDIO_DBFS: when a person would first hear them (the
 * 1 Hz levels are too coarse to time a join by).
 */
import type { Via } from '../participant/room-client.ts'
import { mixFrames } from '../audio/mixer.ts'
import { dbfs } from '../audio/level.ts'
import { FRAME_SIZE } from '../audio/tone.ts'
import { attachSink, type AudioWrtc, type WavFileWriter } from '../node/audio-io.ts'

/** Frames a remote track's queue holds for the mixer (10 ms each). */
const MIX_QUEUE_FRAMES = 50
const TICK_MS = 10
/** Quieter frames (silence, comfort noise, a decoder warming up) do not count as first audio. */
export const FIRST_AUDIO_DBFS = -50

export interface NodePlaybackOptions {
  wrtc: AudioWrtc
  /** Whether audio from this participant over this path may be played now. */
  allowed: (id: string, via: Via) => boolean
  /** Receives every mixed frame (a WAV file with --record). */
  writer?: WavFileWriter | null
  onHeard?: (frame: Int16Array) => void
  /** The first time each participant is played above silence (see the module comment). */
  onFirstHeard?: (from: string) => void
}

interface Queue {
  from: string
  via: Via
  frames: Int16Array[]
  detach: () => void
}

export class NodePlayback {
  readonly #opts: NodePlaybackOptions
  readonly #queues = new Map<MediaStreamTrack, Queue>()
  readonly #levels = new Map<string, number[]>()
  readonly #heard = new Set<string>()
  readonly #start = performance.now()
  readonly #timer: ReturnType<typeof setInterval>
  #mixed = 0
  #settled = 0

  constructor(opts: NodePlaybackOptions) {
    this.#opts = opts
    this.#timer = setInterval(() => this.#tick(), TICK_MS)
  }

  add(from: string, track: MediaStreamTrack, via: Via): void {
    if (this.#queues.has(track)) return
    const queue: Queue = { from, via, frames: [], detach: () => {} }
    this.#queues.set(track, queue)
    queue.detach = attachSink(this.#opts.wrtc, track, (frame) => {
      queue.frames.push(frame)
      if (queue.frames.length > MIX_QUEUE_FRAMES) queue.frames.shift() // bound latency if the mixer lags
    })
  }

  remove(track: MediaStreamTrack): void {
    const queue = this.#queues.get(track)
    if (!queue) return
    queue.detach()
    this.#queues.delete(track)
  }

  /** Loudest frame (dBFS, 0.1 dB) per participant heard since the last call. */
  takeLevels(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [from, acc] of this.#levels) out[from] = Math.round(Math.max(...acc) * 10) / 10
    this.#levels.clear()
    return out
  }

  close(): void {
    clearInterval(this.#timer)
    for (const track of [...this.#queues.keys()]) this.remove(track)
  }

  #tick(): void {
    const due = Math.floor((performance.now() - this.#start) / TICK_MS)
    for (; this.#mixed < due; this.#mixed++) {
      const waiting = [...this.#queues.values()].some((q) => q.frames.length > 0)
      if (!waiting && this.#mixed >= this.#settled) break // may still be on its way: next tick
      const frame = this.#mixOne()
      this.#opts.writer?.write(frame)
      this.#opts.onHeard?.(frame)
    }
    this.#settled = due
  }

  #mixOne(): Int16Array {
    const frames: Int16Array[] = []
    for (const q of this.#queues.values()) {
      const f = q.frames.shift()
      if (!f || !this.#opts.allowed(q.from, q.via)) continue
      frames.push(f)
      const level = dbfs(f)
      const acc = this.#levels.get(q.from) ?? []
      acc.push(level)
      this.#levels.set(q.from, acc)
      if (level > FIRST_AUDIO_DBFS && !this.#heard.has(q.from)) {
        this.#heard.add(q.from)
        this.#opts.onFirstHeard?.(q.from)
      }
    }
    return frames.length ? mixFrames(frames) : new Int16Array(FRAME_SIZE)
  }
}
