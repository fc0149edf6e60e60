import { describe, expect, it } from 'vitest'
import { createFramer, createResampler, downmix, float32ToInt16, int16ToFloat32 } from '../../../src/audio/pcm.ts'
import { planFrames } from '../../../src/audio/schedule.ts'
import { createTone } from '../../../src/audio/tone.ts'
import { detectTones } from '../../../src/audio/goertzel.ts'

describe('pcm', () => {
  it('int16 <-> float32 round-trips and clips', () => {
    const s = Int16Array.from([0, 1, -1, 32767, -32768])
    expect(float32ToInt16(int16ToFloat32(s))).toEqual(s)
    expect(float32ToInt16(Float32Array.from([2, -2]))).toEqual(Int16Array.from([32767, -32768]))
  })

  it('downmix averages channels', () => {
    expect(downmix(Int16Array.from([10, 20, -10, -30]), 2)).toEqual(Int16Array.from([15, -20]))
    const mono = Int16Array.from([1, 2])
    expect(downmix(mono, 1)).toBe(mono)
    expect(() => downmix(mono, 0)).toThrow(expect.objectContaining({ code: 'invalid-channels' }))
  })

  it('streaming resampler 16k -> 48k keeps the tone and the rate, seamlessly across chunks', () => {
    const tone = createTone({ freq: 440, sampleRate: 16000, frameSize: 160, amplitude: 0.5 })
    const r = createResampler(16000, 48000)
    const out: number[] = []
    for (let i = 0; i < 100; i++) out.push(...r.push(tone.next()))
    expect(Math.abs(out.length - 48000)).toBeLessThanOrEqual(3)
    const tail = Int16Array.from(out.slice(-4800))
    const [r440, r1000] = detectTones(tail, 48000, [440, 1000])
    expect(r440!.ratio).toBeGreaterThan(0.95)
    expect(r1000!.ratio).toBeLessThan(0.001)
  })

  it('resampler passes equal rates through and handles empty chunks', () => {
    const same = createResampler(48000, 48000)
    const x = Int16Array.from([1, 2, 3])
    expect(same.push(x)).toBe(x)
    expect(createResampler(16000, 48000).push(new Int16Array(0))).toHaveLength(0)
  })

  it('framer cuts arbitrary chunks into fixed frames in order', () => {
    const f = createFramer(4)
    expect(f.push(Int16Array.from([1, 2, 3]))).toEqual([])
    expect(f.pending).toBe(3)
    expect(f.push(Int16Array.from([4, 5, 6, 7, 8, 9, 10]))).toEqual([Int16Array.from([1, 2, 3, 4]), Int16Array.from([5, 6, 7, 8])])
    expect(f.pending).toBe(2)
  })
})

describe('planFrames (drift-free pacing)', () => {
  it('due count comes from the start time, not from accumulated intervals', () => {
    expect(planFrames(1000, 1000, 10, 0)).toEqual({ send: 1, skip: 0, nextDueMs: 1010 })
    // Timer woke 7 ms late: still exactly one frame due, next one due on the grid.
    expect(planFrames(1000, 1017, 10, 1)).toEqual({ send: 1, skip: 0, nextDueMs: 1020 })
    // Simulate an hour of wake-ups each 3 ms late: sent count tracks the grid exactly.
    let done = 0
    let t = 0
    let irregular = 0
    for (let i = 0; i < 360000; i++) {
      const p = planFrames(0, t, 10, done)
      if (p.send !== 1 || p.skip !== 0) irregular++
      done += p.send + p.skip
      t = p.nextDueMs + 3
    }
    expect(irregular).toBe(0)
    expect(t - 3).toBe(done * 10) // still on the 10 ms grid after 360000 frames
  })

  it('after a stall, sends at most maxBurst and skips the rest', () => {
    const p = planFrames(0, 1000, 10, 1, 10)
    expect(p.send).toBe(10)
    expect(p.skip).toBe(90)
    expect(p.nextDueMs).toBe(1010)
  })

  it('woken early: nothing to send, next due unchanged', () => {
    expect(planFrames(0, 15, 10, 2)).toEqual({ send: 0, skip: 0, nextDueMs: 20 })
  })
})
