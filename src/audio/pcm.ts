/**
 * PCM plumbing shared by Node sinks and the browser: Int16 <-> Float32, stereo -> mono
 * downmix, a streaming linear resampler and a re-framer that cuts any stream of samples into
 * fixed-size frames. Pure; state lives in the returned objects.
 */
import { clip16 } from './mixer.ts'
import { CodedError } from '../base/errors.ts'

/** Int16 samples -> floats in [-1, 1). */
export function int16ToFloat32(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length)
  for (let i = 0; i < samples.length; i++) out[i] = (samples[i] ?? 0) / 32768
  return out
}

/** Floats (clipped to [-1, 1]) -> Int16 samples. */
export function float32ToInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length)
  for (let i = 0; i < samples.length; i++) out[i] = clip16((samples[i] ?? 0) * 32768)
  return out
}

/** Interleaved multi-channel Int16 -> mono by averaging the channels. */
export function downmix(samples: Int16Array, channels: number): Int16Array {
  if (!Number.isInteger(channels) || channels < 1) throw new CodedError('invalid-channels', `channels must be a positive integer, got ${channels}`)
  if (channels === 1) return samples
  const frames = Math.floor(samples.length / channels)
  const out = new Int16Array(frames)
  for (let i = 0; i < frames; i++) {
    let acc = 0
    for (let c = 0; c < channels; c++) acc += samples[i * channels + c] ?? 0
    out[i] = Math.round(acc / channels)
  }
  return out
}

export interface Resampler {
  readonly from: number
  readonly to: number
  /** Resamples the next chunk of a continuous mono stream. */
  push(samples: Int16Array): Int16Array
}

/**
 * Streaming linear-interpolation resampler (mono). Good enough for speech-band test signals and
 * level metering; it is not a band-limited resampler, so downsampling aliases. Keeps the last
 * input sample and the fractional read position across chunks, so chunk boundaries are seamless.
 */
export function createResampler(from: number, to: number): Resampler {
  if (!(from > 0 && to > 0)) throw new CodedError('invalid-rate', 'sample rates must be positive')
  const step = from / to
  let prev = 0 // sample at input position -1 relative to the current chunk
  let pos = 0 // read position relative to the current chunk's first sample, in input samples
  let primed = false
  return {
    from,
    to,
    push(samples) {
      if (from === to) return samples
      if (samples.length === 0) return new Int16Array(0)
      if (!primed) {
        prev = samples[0] ?? 0
        primed = true
      }
      const out: number[] = []
      // Positions in [-1, length - 1) are interpolable with this chunk plus `prev`.
      while (pos < samples.length - 1) {
        const i = Math.floor(pos)
        const frac = pos - i
        const a = i < 0 ? prev : (samples[i] ?? 0)
        const b = samples[i + 1] ?? 0
        out.push(Math.round(a + (b - a) * frac))
        pos += step
      }
      prev = samples[samples.length - 1] ?? 0
      pos -= samples.length
      return Int16Array.from(out)
    },
  }
}

export interface Framer {
  /** Appends samples; returns every complete frame now available (possibly none). */
  push(samples: Int16Array): Int16Array[]
  /** Samples held back waiting for a full frame. */
  readonly pending: number
}

/** Cuts a stream of samples into frames of exactly `frameSize`. */
export function createFramer(frameSize: number): Framer {
  if (!Number.isInteger(frameSize) || frameSize <= 0) throw new CodedError('invalid-frame-size', 'frameSize must be a positive integer')
  let buf = new Int16Array(frameSize)
  let fill = 0
  return {
    get pending() {
      return fill
    },
    push(samples) {
      const frames: Int16Array[] = []
      let off = 0
      while (off < samples.length) {
        const n = Math.min(frameSize - fill, samples.length - off)
        buf.set(samples.subarray(off, off + n), fill)
        fill += n
        off += n
        if (fill === frameSize) {
          frames.push(buf)
          buf = new Int16Array(frameSize)
          fill = 0
        }
      }
      return frames
    },
  }
}
