/** Test helpers: headless peers that keep the last second of what they hear. */
import { detectTones, hasTone } from '../../../src/audio/goertzel.ts'
import { SAMPLE_RATE } from '../../../src/audio/tone.ts'
import { dbfs } from '../../../src/audio/level.ts'
import { startHeadlessPeer, type HeadlessPeer, type HeadlessPeerOptions } from '../../../src/headless/headless-peer.ts'

export interface Listening extends HeadlessPeer {
  name: string
  /** 10 ms frames heard so far, and whether each carried sound (RMS above -40 dBFS). */
  readonly sound: boolean[]
  /** Share of the last half second's power at `freq` (0..1). */
  ratio(freq: number): number
  hears(freq: number): boolean
}

const WINDOW = SAMPLE_RATE / 2

export async function listeningPeer(name: string, opts: HeadlessPeerOptions): Promise<Listening> {
  const ring = new Int16Array(WINDOW)
  let at = 0
  const sound: boolean[] = []
  const peer = await startHeadlessPeer({
    name,
    loopbackOnly: true,
    ...opts,
    onHeard: (frame) => {
      for (const s of frame) ring[at++ % WINDOW] = s
      sound.push(dbfs(frame) > -40)
    },
  })
  const ratio = (freq: number): number => {
    const ordered = new Int16Array(WINDOW)
    ordered.set(ring.subarray(at % WINDOW))
    ordered.set(ring.subarray(0, at % WINDOW), WINDOW - (at % WINDOW))
    return detectTones(ordered, SAMPLE_RATE, [freq])[0]!.ratio
  }
  // Two tones mixed share the power about equally, so a tone counts from 20 %.
  const hears = (freq: number): boolean => {
    const ordered = new Int16Array(WINDOW)
    ordered.set(ring.subarray(at % WINDOW))
    ordered.set(ring.subarray(0, at % WINDOW), WINDOW - (at % WINDOW))
    return hasTone(detectTones(ordered, SAMPLE_RATE, [freq])[0]!, { minRatio: 0.2 })
  }
  return Object.assign(peer, { name, ratio, hears, sound })
}

/** Longest run of silent 10 ms frames in `sound[from..]`, in ms. */
export function longestGapMs(sound: readonly boolean[], from = 0): number {
  let longest = 0
  let run = 0
  for (let i = from; i < sound.length; i++) {
    run = sound[i] ? 0 : run + 1
    longest = Math.max(longest, run)
  }
  return longest * 10
}
