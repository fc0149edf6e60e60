/**
 * Tone detection with the Goertzel algorithm: the power of one frequency over a block of
 * samples, compared with the block's total power.
 *
 * Each block is Hann-windowed, so energy from a tone a few bins away (440 vs 660 Hz over
 * 50 ms+ blocks) leaks in at well under -40 dB. The window's coherent gain is divided out, so
 * for a pure sine at the probed frequency `ratio` is close to 1, for white noise it is about
 * 3 / N (N = block length), and for digital silence it is 0.
 *
 * Blocks longer than 200 ms are read as the mean power of 100 ms sub-blocks (Welch's method).
 * One coherent transform over a long block is fragile: a phase jump in the tone, which every
 * concealed or dropped 10 ms frame causes, splits the tone between neighbouring 1 Hz bins, and
 * a clean 440 Hz recording with one such jump mid-second read ratio 0.12. Averaged sub-blocks
 * confine a jump to one sub-block and keep 10 Hz resolution, plenty for test tones 100+ Hz apart.
 */

export interface ToneReading {
  freq: number
  /** Estimated mean-square power of the component at `freq`, in full-scale units (0..0.5). */
  power: number
  /** `power` as a fraction of the block's mean-square power, 0..1 (clamped). */
  ratio: number
  /** `power` against everything else in the block, in dB; -Infinity when absent. */
  snrDb: number
  /** Level of the whole block in dBFS (20·log10 of the RMS, full scale = 1; see `level.ts`). */
  blockDbfs: number
}

const FULL = 32768

const windows = new Map<number, { w: Float64Array; gain: number }>()

/** The Hann window of length n and its sum, computed once per length (tests probe many blocks of a few lengths). */
function hann(n: number): { w: Float64Array; gain: number } {
  let cached = windows.get(n)
  if (!cached) {
    const w = new Float64Array(n)
    let gain = 0
    for (let i = 0; i < n; i++) gain += w[i] = n <= 1 ? 1 : 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1))
    cached = { w, gain }
    if (windows.size >= 64) windows.clear()
    windows.set(n, cached)
  }
  return cached
}

/**
 * Power of `freq` in `samples` (Int16 or already-normalised floats in -1..1 when
 * `scale` is 1). Returns the mean-square power of that sinusoidal component.
 */
export function goertzelPower(samples: ArrayLike<number>, sampleRate: number, freq: number, scale = FULL): number {
  return goertzelRange(samples, 0, samples.length, sampleRate, freq, scale)
}

/** Goertzel power over `samples[from..to)`. */
function goertzelRange(samples: ArrayLike<number>, from: number, to: number, sampleRate: number, freq: number, scale: number): number {
  const n = to - from
  if (n <= 0) return 0
  const w = (2 * Math.PI * freq) / sampleRate
  const coeff = 2 * Math.cos(w)
  const { w: win, gain } = hann(n)
  let s1 = 0
  let s2 = 0
  for (let i = 0; i < n; i++) {
    const s0 = ((samples[from + i] ?? 0) / scale) * win[i]! + coeff * s1 - s2
    s2 = s1
    s1 = s0
  }
  // |X(w)|^2 for the windowed block; a sine of amplitude A gives |X| ~ A * gain / 2.
  const mag2 = s1 * s1 + s2 * s2 - coeff * s1 * s2
  return (2 * Math.max(0, mag2)) / (gain * gain)
}

/** Mean-square power of the block in full-scale units. */
function meanSquare(samples: ArrayLike<number>, scale: number): number {
  let acc = 0
  for (let i = 0; i < samples.length; i++) {
    const v = (samples[i] ?? 0) / scale
    acc += v * v
  }
  return samples.length ? acc / samples.length : 0
}

/** Blocks quieter than this (mean square, about -90 dBFS) count as silence: ratio 0. */
export const SILENCE_POWER = 1e-9

/** Power of `freq`: the length-weighted mean over ~100 ms sub-blocks when the block is long. */
function welchPower(samples: ArrayLike<number>, sampleRate: number, freq: number, scale: number): number {
  const sub = Math.round(sampleRate / 10)
  const n = samples.length
  if (n < 2 * sub) return goertzelRange(samples, 0, n, sampleRate, freq, scale)
  const count = Math.floor(n / sub)
  let acc = 0
  for (let b = 0; b < count; b++) {
    // The last sub-block takes the remainder, so every sample counts.
    const end = b === count - 1 ? n : (b + 1) * sub
    acc += goertzelRange(samples, b * sub, end, sampleRate, freq, scale) * (end - b * sub)
  }
  return acc / n
}

/** Reads each of `freqs` in one block. */
export function detectTones(samples: ArrayLike<number>, sampleRate: number, freqs: readonly number[], scale = FULL): ToneReading[] {
  const total = meanSquare(samples, scale)
  const blockDbfs = total > 0 ? 10 * Math.log10(total) : -Infinity
  return freqs.map((freq) => {
    if (total < SILENCE_POWER) return { freq, power: 0, ratio: 0, snrDb: -Infinity, blockDbfs }
    const power = welchPower(samples, sampleRate, freq, scale)
    const ratio = Math.min(1, power / total)
    const rest = Math.max(total - power, total * 1e-6)
    return { freq, power, ratio, snrDb: 10 * Math.log10(power / rest), blockDbfs }
  })
}

export interface ToneThreshold {
  /** Minimum fraction of the block's power at the frequency. Default 0.5. */
  minRatio?: number
  /** Minimum block level in dBFS, so near-silence with a faint hum is not a tone. Default -50. */
  minDbfs?: number
}

/**
 * Decision rule: a tone is present when at least half of the block's power sits at its
 * frequency (`ratio >= 0.5`, i.e. SNR >= 0 dB) and the block is louder than -50 dBFS.
 * After Opus coding a clean test tone reads ratio > 0.9; a different test tone a few hundred Hz
 * away reads < 0.01, and silence reads 0, so the margins are wide on both sides.
 */
export function hasTone(reading: ToneReading, threshold: ToneThreshold = {}): boolean {
  return reading.ratio >= (threshold.minRatio ?? 0.5) && reading.blockDbfs >= (threshold.minDbfs ?? -50)
}
