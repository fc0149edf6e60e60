import { describe, expect, it } from 'vitest'
import { createChirp, createClickTrain, createTone, INT16_MAX } from '../../../src/audio/tone.ts'

describe('createTone', () => {
  it('frames are consecutive slices of one continuous sine', () => {
    const a = createTone({ freq: 440, amplitude: 0.5 })
    const b = createTone({ freq: 440, amplitude: 0.5 })
    const joined = new Int16Array(480 * 50)
    for (let i = 0; i < 50; i++) joined.set(a.next(), i * 480)
    expect(joined).toEqual(b.take(50))
    // No jump at frame boundaries: neighbouring samples differ by at most one step of the sine.
    const maxStep = 0.5 * INT16_MAX * ((2 * Math.PI * 440) / 48000) + 1
    for (let i = 1; i < joined.length; i++) expect(Math.abs((joined[i] ?? 0) - (joined[i - 1] ?? 0))).toBeLessThanOrEqual(maxStep)
  })

  it('stays phase-accurate over long runs (one hour at 10 ms frames)', () => {
    const t = createTone({ freq: 1000, amplitude: 1, frameSize: 48000 })
    let last: Int16Array = new Int16Array(0)
    for (let i = 0; i < 3600; i++) last = t.next()
    // 1000 Hz at 48 kHz: every 48th sample is back at phase 0.
    expect(Math.abs(last[0] ?? 99)).toBeLessThanOrEqual(2)
    expect(last[12]).toBeGreaterThan(INT16_MAX - 2) // quarter period: the peak
  })

  it('honours amplitude and frame size, never overflows', () => {
    const t = createTone({ freq: 100, amplitude: 1, frameSize: 960, sampleRate: 16000 })
    const f = t.take(10)
    expect(t.next()).toHaveLength(960)
    expect(Math.max(...f)).toBe(INT16_MAX)
    expect(Math.min(...f)).toBe(-INT16_MAX)
  })

  it('rejects out-of-range options with a code', () => {
    expect(() => createTone({ freq: 30000 })).toThrow(expect.objectContaining({ code: 'invalid-tone' }))
    expect(() => createTone({ freq: 440, amplitude: 2 })).toThrow(expect.objectContaining({ code: 'invalid-tone' }))
    expect(() => createTone({ freq: 440, frameSize: 0 })).toThrow(expect.objectContaining({ code: 'invalid-tone' }))
  })
})

describe('chirp and click train', () => {
  it('chirp is windowed (starts and ends at zero) and has the requested length', () => {
    const c = createChirp({ durationMs: 20 })
    expect(c).toHaveLength(960)
    expect(c[0]).toBe(0)
    expect(c[c.length - 1]).toBe(0)
    expect(Math.max(...c)).toBeGreaterThan(10000)
  })

  it('click train places a chirp every period and reports where', () => {
    const train = createClickTrain({ periodMs: 100 })
    const clicks: number[] = []
    const all: Int16Array[] = []
    for (let i = 0; i < 30; i++) {
      const { frame, clickAt } = train.next()
      all.push(frame)
      if (clickAt !== null) clicks.push(clickAt)
    }
    expect(clicks).toEqual([0, 4800, 9600])
    const chirp = createChirp()
    expect(all[10]?.slice(0, 480)).toEqual(chirp.slice(0, 480))
    expect(all[5]?.every((s) => s === 0)).toBe(true)
  })
})
