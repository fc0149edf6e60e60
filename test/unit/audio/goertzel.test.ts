import { describe, expect, it } from 'vitest'
import { detectTones, goertzelPower, hasTone } from '../../../src/audio/goertzel.ts'
import { createTone } from '../../../src/audio/tone.ts'
import { mixFrames } from '../../../src/audio/mixer.ts'

const SR = 48000
const FREQS = [440, 660, 1000]
const block = (freq: number, amplitude = 0.25, ms = 100) => createTone({ freq, amplitude }).take(ms / 10)

// Seeded noise so the test is deterministic.
function noise(n: number, amplitude: number, seed = 1): Int16Array {
  let s = seed
  const out = new Int16Array(n)
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0
    out[i] = Math.round(((s / 2 ** 32) * 2 - 1) * amplitude * 32767)
  }
  return out
}

describe('goertzel', () => {
  it('reads the mean-square power of a sine', () => {
    // amplitude 0.5 -> mean square 0.125
    expect(goertzelPower(block(1000, 0.5), SR, 1000)).toBeCloseTo(0.125, 2)
  })

  it.each(FREQS)('picks %i Hz out of 440/660/1000 clearly', (f) => {
    const readings = detectTones(block(f), SR, FREQS)
    for (const r of readings) {
      if (r.freq === f) {
        expect(r.ratio).toBeGreaterThan(0.95)
        expect(hasTone(r)).toBe(true)
      } else {
        expect(r.ratio).toBeLessThan(0.001)
        expect(hasTone(r)).toBe(false)
      }
    }
  })

  it('finds both tones in a mix, each with about half the power', () => {
    const mix = mixFrames([block(440), block(1000)])
    const [a, b, c] = detectTones(mix, SR, FREQS)
    expect(a?.ratio).toBeGreaterThan(0.4)
    expect(c?.ratio).toBeGreaterThan(0.4)
    expect(b?.ratio).toBeLessThan(0.001)
  })

  it('silence: ratio 0 and no tone', () => {
    for (const r of detectTones(new Int16Array(4800), SR, FREQS)) {
      expect(r.ratio).toBe(0)
      expect(hasTone(r)).toBe(false)
    }
  })

  it('white noise carries no tone', () => {
    for (const r of detectTones(noise(4800, 0.3), SR, FREQS)) {
      expect(r.ratio).toBeLessThan(0.01)
      expect(hasTone(r)).toBe(false)
    }
  })

  it('a tone survives noise at 0 dB SNR per band but is rejected when too quiet', () => {
    const noisy = mixFrames([block(440, 0.2), noise(4800, 0.2)])
    const [r440] = detectTones(noisy, SR, [440])
    expect(r440!.snrDb).toBeGreaterThan(0)
    expect(hasTone(r440!)).toBe(true)
    const faint = block(440, 0.0005) // about -69 dBFS
    expect(hasTone(detectTones(faint, SR, [440])[0]!)).toBe(false)
  })

  it('a phase jump (one dropped 10 ms frame) mid-second does not hide the tone', () => {
    // A 1 s block missing frame 45: the tone jumps 4.4 cycles. Read as one coherent block it
    // split between bins and read 0.12 in a real recording.
    const tone = createTone({ freq: 440, amplitude: 0.25 }).take(101)
    const jumped = new Int16Array(48000)
    jumped.set(tone.subarray(0, 45 * 480))
    jumped.set(tone.subarray(46 * 480), 45 * 480)
    const [r440, r1000] = detectTones(jumped, SR, [440, 1000])
    expect(r440!.ratio).toBeGreaterThan(0.9)
    expect(r1000!.ratio).toBeLessThan(0.001)
  })

  it('long blocks still tell tones 220 Hz apart', () => {
    const [a, b] = detectTones(block(440, 0.25, 1000), SR, [440, 660])
    expect(a!.ratio).toBeGreaterThan(0.95)
    expect(b!.ratio).toBeLessThan(0.001)
  })
})
