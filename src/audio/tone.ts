/**
 * Test-signal generators: a phase-continuous sine split into fixed-size Int16 frames, and a
 * Hann-windowed linear chirp ("click") for measuring mouth-to-ear latency later.
 *
 * Invariants: frames are consecutive slices of one continuous signal (the phase carries over
 * between `next()` calls and is kept in [0, 2π) so it never loses precision); samples never
 * exceed the Int16 range. Pure: no timers, no I/O.
 */
import { CodedError } from '../base/errors.ts'

/** Full scale of signed 16-bit PCM. */
export const INT16_MAX = 32767

/** 48 kHz and 10 ms frames: what WebRTC audio sources and sinks exchange. */
export const SAMPLE_RATE = 48_000
export const FRAME_SIZE = 480

export interface ToneOptions {
  /** Frequency in Hz (0 < freq < sampleRate / 2). */
  freq: number
  /** Peak amplitude as a fraction of full scale, 0..1. Default 0.25 (about -12 dBFS peak). */
  amplitude?: number
  sampleRate?: number
  /** Samples per frame. Default 480 (10 ms at 48 kHz). */
  frameSize?: number
}

export interface ToneGenerator {
  readonly freq: number
  readonly sampleRate: number
  readonly frameSize: number
  /** The next frame of the continuous sine (a fresh array each call). */
  next(): Int16Array
  /** `count` consecutive frames joined into one array. */
  take(count: number): Int16Array
}

/** Creates a sine generator. Throws `code: 'invalid-tone'` on out-of-range options. */
export function createTone(opts: ToneOptions): ToneGenerator {
  const sampleRate = opts.sampleRate ?? SAMPLE_RATE
  const frameSize = opts.frameSize ?? FRAME_SIZE
  const amplitude = opts.amplitude ?? 0.25
  const { freq } = opts
  if (!(sampleRate > 0) || !Number.isInteger(frameSize) || frameSize <= 0) throw new CodedError('invalid-tone', 'sampleRate and frameSize must be positive')
  if (!(freq > 0 && freq < sampleRate / 2)) throw new CodedError('invalid-tone', `freq must be in (0, ${sampleRate / 2})`)
  if (!(amplitude >= 0 && amplitude <= 1)) throw new CodedError('invalid-tone', 'amplitude must be in [0, 1]')
  const step = (2 * Math.PI * freq) / sampleRate
  const peak = amplitude * INT16_MAX
  let phase = 0
  const fill = (out: Int16Array) => {
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.round(peak * Math.sin(phase))
      phase += step
      if (phase >= 2 * Math.PI) phase -= 2 * Math.PI
    }
    return out
  }
  return {
    freq,
    sampleRate,
    frameSize,
    next: () => fill(new Int16Array(frameSize)),
    take: (count) => fill(new Int16Array(frameSize * count)),
  }
}

export interface ChirpOptions {
  /** Start and end frequency in Hz. Defaults 1000 -> 4000 Hz (clear of speech fundamentals). */
  f0?: number
  f1?: number
  /** Length in ms. Default 20 ms. */
  durationMs?: number
  amplitude?: number
  sampleRate?: number
}

/**
 * A Hann-windowed linear chirp: a short, broadband "click" whose cross-correlation with the
 * received signal has one sharp peak, so its arrival time can be found to within a sample or two
 * even after Opus coding.
 */
export function createChirp(opts: ChirpOptions = {}): Int16Array {
  const sampleRate = opts.sampleRate ?? SAMPLE_RATE
  const f0 = opts.f0 ?? 1000
  const f1 = opts.f1 ?? 4000
  const amplitude = opts.amplitude ?? 0.5
  const n = Math.round(((opts.durationMs ?? 20) * sampleRate) / 1000)
  if (n <= 1) throw new CodedError('invalid-tone', 'chirp too short')
  if (!(f0 > 0 && f1 > 0 && f0 < sampleRate / 2 && f1 < sampleRate / 2)) throw new CodedError('invalid-tone', 'chirp frequencies out of range')
  const out = new Int16Array(n)
  const duration = n / sampleRate
  const k = (f1 - f0) / duration
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1))
    out[i] = Math.round(amplitude * INT16_MAX * w * Math.sin(2 * Math.PI * (f0 * t + (k * t * t) / 2)))
  }
  return out
}

export interface ClickTrainOptions extends ChirpOptions {
  /** Time between click onsets in ms. Default 1000. */
  periodMs?: number
  frameSize?: number
}

export interface ClickTrain {
  /** Next frame, and the sample index (since start) of a click that begins in it, if any. */
  next(): { frame: Int16Array; clickAt: number | null }
}

/** Silence with a chirp every `periodMs`, framed like the tone generator. */
export function createClickTrain(opts: ClickTrainOptions = {}): ClickTrain {
  const sampleRate = opts.sampleRate ?? SAMPLE_RATE
  const frameSize = opts.frameSize ?? FRAME_SIZE
  const period = Math.round(((opts.periodMs ?? 1000) * sampleRate) / 1000)
  const chirp = createChirp(opts)
  if (period < chirp.length) throw new CodedError('invalid-tone', 'click period shorter than the chirp')
  let pos = 0
  return {
    next() {
      const frame = new Int16Array(frameSize)
      let clickAt: number | null = null
      for (let i = 0; i < frameSize; i++) {
        const inPeriod = (pos + i) % period
        if (inPeriod === 0) clickAt = pos + i
        if (inPeriod < chirp.length) frame[i] = chirp[inPeriod] ?? 0
      }
      pos += frameSize
      return { frame, clickAt }
    },
  }
}
