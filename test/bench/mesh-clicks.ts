/**
 * Mouth-to-ear measurement by clicks: a frame source that logs when each click
 * is handed to WebRTC, a recorder that logs when each decoded frame comes out,
 * and a detector that finds each click's onset in the received audio by
 * cross-correlation with the chirp, then pairs it with its send time.
 *
 * Time convention (both ends alike): a 10 ms frame "starts" when it is handed
 * over (sender: right before RTCAudioSource.onData; receiver: when the sink or
 * the mixer delivers it), and sample i of a frame sits i/48 ms later. So the
 * latency is WebRTC in to WebRTC out; a real microphone and speaker add their
 * own buffers on top. Pure apart from the injected clock.
 */
import { createChirp, FRAME_SIZE, SAMPLE_RATE } from '../../src/audio/tone.ts'

const MS_PER_SAMPLE = 1000 / SAMPLE_RATE

/** A click every 307 ms: clicks fall at every phase of the 20 ms Opus packet and the 10 ms playout pull. */
export const CLICK_PERIOD_MS = 307

/**
 * Four 20 ms chirps (up and down sweeps over two bands) sent in turn: a click's shape names it
 * modulo 4, so a click is paired with the right send time even when the latency grows past the
 * click period (a loaded machine makes NetEq buffer hundreds of ms).
 */
export const CHIRPS: readonly Int16Array[] = [
  createChirp({ f0: 1000, f1: 4000 }),
  createChirp({ f0: 4000, f1: 1000 }),
  createChirp({ f0: 500, f1: 2500 }),
  createChirp({ f0: 2500, f1: 500 }),
]

export interface SentClick {
  /** Which of CHIRPS. */
  kind: number
  /** When its first sample was handed over. */
  t: number
}

export interface ClickLog {
  sent: SentClick[]
  /** For SpeakSource { kind: 'frames' }: silence with a chirp every `periodMs`. */
  next(): Int16Array
}

export function clickSource(opts: { periodMs: number; now: () => number }): ClickLog {
  const period = Math.round((opts.periodMs * SAMPLE_RATE) / 1000)
  const sent: SentClick[] = []
  let pos = 0
  return {
    sent,
    next() {
      const t = opts.now()
      const frame = new Int16Array(FRAME_SIZE)
      for (let i = 0; i < FRAME_SIZE; i++) {
        const n = pos + i
        const k = Math.floor(n / period)
        const chirp = CHIRPS[k % CHIRPS.length]!
        const inPeriod = n - k * period
        if (inPeriod === 0) sent.push({ kind: k % CHIRPS.length, t: t + i * MS_PER_SAMPLE })
        if (inPeriod < chirp.length) frame[i] = chirp[inPeriod]!
      }
      pos += FRAME_SIZE
      return frame
    },
  }
}

/** Received 10 ms frames with the time each came out. */
export class FrameLog {
  readonly frames: Int16Array[] = []
  readonly times: number[] = []
  constructor(readonly now: () => number) {}
  push(frame: Int16Array): void {
    this.frames.push(frame)
    this.times.push(this.now())
  }
  /** Time of sample `index` of the concatenated frames. */
  timeOf(index: number): number {
    const f = Math.floor(index / FRAME_SIZE)
    return this.times[f]! + (index - f * FRAME_SIZE) * MS_PER_SAMPLE
  }
  samples(): Int16Array {
    const out = new Int16Array(this.frames.length * FRAME_SIZE)
    this.frames.forEach((f, i) => out.set(f, i * FRAME_SIZE))
    return out
  }
}

export interface Detection {
  /** Sample index of the chirp's start in the received stream. */
  index: number
  /** Which template matched best. */
  kind: number
  /** Normalised cross-correlation at the peak (1 = identical shape). */
  score: number
}

/**
 * Finds chirps: an onset is the first 1 ms block above `thresholdDbfs` after at least
 * `quietMs` of quieter blocks; the chirp and its start are the template and lag of the highest
 * normalised cross-correlation within -20..+10 ms of that block.
 */
export function detectClicks(x: Int16Array, templates: readonly Int16Array[], opts: { thresholdDbfs?: number; quietMs?: number; minScore?: number } = {}): Detection[] {
  const block = SAMPLE_RATE / 1000
  const threshold = 10 ** ((opts.thresholdDbfs ?? -30) / 10) * 32768 ** 2
  const quietBlocks = opts.quietMs ?? 100
  const norms = templates.map((t) => Math.sqrt(t.reduce((a, v) => a + v * v, 0)))
  const out: Detection[] = []
  let quiet = 0 // a chirp cut off at the start of the recording is not an onset
  for (let b = 0; (b + 1) * block <= x.length; b++) {
    let e = 0
    for (let i = b * block; i < (b + 1) * block; i++) e += x[i]! * x[i]!
    if (e / block < threshold) {
      quiet++
      continue
    }
    if (quiet >= quietBlocks) {
      let best: Detection = { index: -1, kind: -1, score: -Infinity }
      templates.forEach((template, kind) => {
        const n = template.length
        const from = Math.max(0, b * block - 20 * block)
        const to = Math.min(x.length - n, b * block + 10 * block)
        for (let k = from; k <= to; k++) {
          let c = 0
          let en = 0
          for (let i = 0; i < n; i++) {
            const v = x[k + i]!
            c += v * template[i]!
            en += v * v
          }
          const score = en > 0 ? c / (Math.sqrt(en) * norms[kind]!) : 0
          if (score > best.score) best = { index: k, kind, score }
        }
      })
      if (best.index >= 0 && best.score >= (opts.minScore ?? 0.5)) out.push(best)
    }
    quiet = 0
  }
  return out
}

export interface ClickMatch {
  latencies: number[]
  scores: number[]
  unmatched: number
}

/**
 * Pairs each detection with the latest click of the same kind sent before it, if that is less
 * than `maxMs` earlier (keep `maxMs` under CHIRPS.length periods).
 */
export function matchClicks(sent: readonly SentClick[], found: readonly Detection[], log: FrameLog, maxMs: number): ClickMatch {
  const latencies: number[] = []
  const scores: number[] = []
  let unmatched = 0
  for (const d of found) {
    const t = log.timeOf(d.index)
    let s: SentClick | undefined
    for (let j = sent.length - 1; j >= 0; j--) {
      if (sent[j]!.t <= t && sent[j]!.kind === d.kind) {
        s = sent[j]
        break
      }
    }
    if (!s || t - s.t > maxMs) {
      unmatched++
      continue
    }
    latencies.push(t - s.t)
    scores.push(d.score)
  }
  return { latencies, scores, unmatched }
}

/**
 * The clicks in `log` paired with their send times: detection, then matching up to
 * CHIRPS.length - 0.5 click periods late.
 */
export function heardClicks(sent: readonly SentClick[], log: FrameLog, periodMs = CLICK_PERIOD_MS): ClickMatch & { detected: number } {
  const found = detectClicks(log.samples(), CHIRPS)
  return { ...matchClicks(sent, found, log, periodMs * (CHIRPS.length - 0.5)), detected: found.length }
}
