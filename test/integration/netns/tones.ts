/** What a lab peer recorded, second by second: how much of each second is the tone. */
import { readFile } from 'node:fs/promises'
import { decodeWav } from '../../../src/audio/wav.ts'
import { detectTones, hasTone } from '../../../src/audio/goertzel.ts'

export interface SecondReading {
  ratio: number
  heard: boolean
}

/** Per whole second of the WAV at `path` (the last `seconds` of it, or all). */
export async function toneBySecond(path: string, freq: number, seconds?: number): Promise<SecondReading[]> {
  const wav = decodeWav(await readFile(path))
  const total = Math.floor(wav.samples.length / wav.sampleRate)
  const from = seconds === undefined ? 0 : Math.max(0, total - seconds)
  const out: SecondReading[] = []
  for (let s = from; s < total; s++) {
    const [reading] = detectTones(wav.samples.subarray(s * wav.sampleRate, (s + 1) * wav.sampleRate), wav.sampleRate, [freq])
    out.push({ ratio: Number(reading!.ratio.toFixed(3)), heard: hasTone(reading!) })
  }
  return out
}
