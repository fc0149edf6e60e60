/**
 * Speaking level: RMS and dBFS of Int16 frames, and a frame-driven voice-activity detector with
 * attack/release hysteresis. dBFS here is 20·log10(RMS) with full scale = 1, so a full-scale
 * sine reads about -3 dBFS and digital silence reads `DBFS_FLOOR` (never -Infinity, so the value
 * is safe to put in JSON). Pure: no clock, the caller feeds frames.
 */

export const DBFS_FLOOR = -100

/** Root mean square of the samples, 0..1 of full scale. */
export function rms(samples: ArrayLike<number>): number {
  if (samples.length === 0) return 0
  let acc = 0
  for (let i = 0; i < samples.length; i++) {
    const v = (samples[i] ?? 0) / 32768
    acc += v * v
  }
  return Math.sqrt(acc / samples.length)
}

/** RMS level in dBFS, floored at `DBFS_FLOOR`. */
export function dbfs(samples: ArrayLike<number>): number {
  const r = rms(samples)
  return r > 0 ? Math.max(DBFS_FLOOR, 20 * Math.log10(r)) : DBFS_FLOOR
}

/** Peak absolute sample, 0..1 of full scale. */
export function peak(samples: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < samples.length; i++) m = Math.max(m, Math.abs(samples[i] ?? 0))
  return Math.min(1, m / 32768)
}

export interface SpeakingOptions {
  /** Level above which a frame counts as voice. Default -45 dBFS. */
  thresholdDbfs?: number
  /** Consecutive loud frames before `speaking` turns on. Default 2 (20 ms at 10 ms frames). */
  attackFrames?: number
  /** Consecutive quiet frames before it turns off. Default 30 (300 ms: bridges pauses between words). */
  releaseFrames?: number
}

export interface SpeakingState {
  dbfs: number
  speaking: boolean
  /** True on the frame where `speaking` flipped. */
  changed: boolean
}

export interface SpeakingDetector {
  update(frame: ArrayLike<number>): SpeakingState
  readonly speaking: boolean
}

/** Voice-activity detector over consecutive frames. */
export function createSpeakingDetector(opts: SpeakingOptions = {}): SpeakingDetector {
  const threshold = opts.thresholdDbfs ?? -45
  const attack = opts.attackFrames ?? 2
  const release = opts.releaseFrames ?? 30
  let speaking = false
  let loud = 0
  let quiet = 0
  return {
    get speaking() {
      return speaking
    },
    update(frame) {
      const level = dbfs(frame)
      if (level >= threshold) {
        loud++
        quiet = 0
      } else {
        quiet++
        loud = 0
      }
      const before = speaking
      if (!speaking && loud >= attack) speaking = true
      else if (speaking && quiet >= release) speaking = false
      return { dbfs: level, speaking, changed: speaking !== before }
    },
  }
}
