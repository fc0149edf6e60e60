/**
 * Mixing Int16 frames: sum with optional per-input gain, saturating at the Int16 range (hard
 * clipping, never wrap-around). Pure.
 */
import { CodedError } from '../base/errors.ts'

const MIN = -32768
const MAX = 32767

/** Clamps and rounds a sample to the Int16 range. */
export function clip16(v: number): number {
  return v >= MAX ? MAX : v <= MIN ? MIN : Math.round(v)
}

export interface MixOptions {
  /** Linear gain per input (same order as the frames), default 1 each. */
  gains?: readonly number[]
  /** Write into this array instead of allocating (must have the frames' length). */
  out?: Int16Array
}

/**
 * Mixes equally long frames. Zero frames give silence of `out`'s length (or an empty array).
 * Throws `code: 'frame-size-mismatch'` when lengths differ.
 */
export function mixFrames(frames: readonly Int16Array[], opts: MixOptions = {}): Int16Array {
  const len = frames[0]?.length ?? opts.out?.length ?? 0
  for (const f of frames) if (f.length !== len) throw new CodedError('frame-size-mismatch', `frame of ${f.length} samples, expected ${len}`)
  if (opts.out && opts.out.length !== len) throw new CodedError('frame-size-mismatch', `out has ${opts.out.length} samples, expected ${len}`)
  if (opts.gains && opts.gains.length !== frames.length) throw new CodedError('frame-size-mismatch', 'one gain per frame')
  const out = opts.out ?? new Int16Array(len)
  for (let i = 0; i < len; i++) {
    let acc = 0
    for (let k = 0; k < frames.length; k++) acc += (frames[k]?.[i] ?? 0) * (opts.gains?.[k] ?? 1)
    out[i] = clip16(acc)
  }
  return out
}
