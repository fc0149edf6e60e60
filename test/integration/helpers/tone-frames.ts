/**
 * Test helper: what a headless peer hears, 10 ms frame by frame, read at one frequency. A frame
 * holds the tone when Goertzel finds at least half its power there above -50 dBFS (`hasTone`):
 * silence, a concealment that faded, or another voice do not. Frames are counted on the peer's
 * own playout clock (its mixer hands one every 10 ms), so a gap is measured in audio as played.
 */
import { detectTones, hasTone } from '../../../src/audio/goertzel.ts'
import { SAMPLE_RATE } from '../../../src/audio/tone.ts'

export interface ToneFrames {
  /** Per 10 ms frame heard: whether it held the tone. */
  readonly frames: boolean[]
  /** For `onHeard`. */
  push(frame: Int16Array): void
}

export function toneFrames(freq: number): ToneFrames {
  const frames: boolean[] = []
  return { frames, push: (frame) => void frames.push(hasTone(detectTones(frame, SAMPLE_RATE, [freq])[0]!)) }
}

/** Runs of at least `min` frames without the tone: [first frame, length]. */
export function silentRuns(frames: readonly boolean[], min = 1): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let run = 0
  for (let i = 0; i <= frames.length; i++) {
    if (i < frames.length && !frames[i]) run++
    else {
      if (run >= min) out.push([i - run, run])
      run = 0
    }
  }
  return out
}

/** Longest run of frames without the tone in `frames[from..]`. */
export function longestRun(frames: readonly boolean[], from = 0): number {
  let longest = 0
  let run = 0
  for (let i = Math.max(0, from); i < frames.length; i++) {
    run = frames[i] ? 0 : run + 1
    longest = Math.max(longest, run)
  }
  return longest
}
