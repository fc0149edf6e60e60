import { describe, expect, it } from 'vitest'
import { clip16, mixFrames } from '../../../src/audio/mixer.ts'
import { createSpeakingDetector, dbfs, DBFS_FLOOR, peak, rms } from '../../../src/audio/level.ts'
import { createTone } from '../../../src/audio/tone.ts'

describe('mixer', () => {
  it('sums and clips instead of wrapping', () => {
    const a = Int16Array.from([1000, 30000, -30000, 0])
    const b = Int16Array.from([2000, 30000, -30000, -5])
    expect(mixFrames([a, b])).toEqual(Int16Array.from([3000, 32767, -32768, -5]))
  })

  it('applies gains, writes into out, handles no inputs', () => {
    const out = new Int16Array(2)
    const r = mixFrames([Int16Array.from([100, 200]), Int16Array.from([100, 100])], { gains: [0.5, 2], out })
    expect(r).toBe(out)
    expect(out).toEqual(Int16Array.from([250, 300]))
    expect(mixFrames([], { out: new Int16Array(3) })).toEqual(new Int16Array(3))
    expect(mixFrames([])).toHaveLength(0)
  })

  it('rejects mismatched sizes', () => {
    expect(() => mixFrames([new Int16Array(2), new Int16Array(3)])).toThrow(expect.objectContaining({ code: 'frame-size-mismatch' }))
    expect(() => mixFrames([new Int16Array(2)], { gains: [] })).toThrow(expect.objectContaining({ code: 'frame-size-mismatch' }))
  })

  it('clip16 rounds and saturates', () => {
    expect([clip16(1e9), clip16(-1e9), clip16(1.6)]).toEqual([32767, -32768, 2])
  })
})

describe('level', () => {
  it('full-scale sine is about -3 dBFS, half scale about -9, silence is the floor', () => {
    expect(dbfs(createTone({ freq: 1000, amplitude: 1 }).take(10))).toBeCloseTo(-3.01, 1)
    expect(dbfs(createTone({ freq: 1000, amplitude: 0.5 }).take(10))).toBeCloseTo(-9.03, 1)
    expect(dbfs(new Int16Array(480))).toBe(DBFS_FLOOR)
    expect(dbfs(new Int16Array(0))).toBe(DBFS_FLOOR)
    expect(rms(Int16Array.from([-32768, -32768]))).toBe(1)
    expect(peak(Int16Array.from([3, -16384]))).toBe(0.5)
  })

  it('speaking detector uses attack and release hysteresis', () => {
    const det = createSpeakingDetector({ attackFrames: 2, releaseFrames: 3 })
    const loud = createTone({ freq: 300, amplitude: 0.3 }).next()
    const quiet = new Int16Array(480)
    const seq = [loud, loud, quiet, loud, quiet, quiet, quiet].map((f) => det.update(f))
    expect(seq.map((s) => s.speaking)).toEqual([false, true, true, true, true, true, false])
    expect(seq.filter((s) => s.changed)).toHaveLength(2)
  })
})
