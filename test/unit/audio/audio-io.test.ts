/** src/node/audio-io.ts with a fake wrtc and an injected clock: pacing, end/loop, sink conversion, WAV files. */
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { attachSink, createFrameSource, createPcmSource, createToneSource, createWavFileWriter, type AudioData, type AudioWrtc } from '../../../src/node/audio-io.ts'
import { createTone } from '../../../src/audio/tone.ts'
import { detectTones } from '../../../src/audio/goertzel.ts'
import { decodeWav } from '../../../src/audio/wav.ts'

class FakeTrack {
  stopped = false
  stop() {
    this.stopped = true
  }
}
const sources: FakeSource[] = []
class FakeSource {
  data: AudioData[] = []
  track = new FakeTrack()
  constructor() {
    sources.push(this)
  }
  createTrack() {
    return this.track as unknown as MediaStreamTrack
  }
  onData(d: AudioData) {
    this.data.push(d)
  }
}
const sinks: FakeSink[] = []
class FakeSink {
  ondata: ((d: AudioData) => void) | null = null
  stopped = false
  constructor(readonly track: MediaStreamTrack) {
    sinks.push(this)
  }
  stop() {
    this.stopped = true
  }
}
const fakeWrtc = {
  MediaStream: class {
    constructor(readonly tracks: MediaStreamTrack[]) {}
  },
  nonstandard: { RTCAudioSource: FakeSource, RTCAudioSink: FakeSink },
} as unknown as AudioWrtc

function clock() {
  let t = 1000
  const timers = new Map<number, { at: number; fn: () => void }>()
  let id = 0
  return {
    now: () => t,
    setTimeout: (fn: () => void, ms: number) => (timers.set(++id, { at: t + ms, fn }), id),
    clearTimeout: (h: unknown) => void timers.delete(h as number),
    get pending() {
      return timers.size
    },
    /** Runs timers up to `ms` later, each firing `lateMs` after it was due. */
    run(ms: number, lateMs = 0) {
      const end = t + ms
      for (;;) {
        const next = [...timers.entries()].sort((a, b) => a[1].at - b[1].at)[0]
        if (!next || next[1].at + lateMs > end) break
        timers.delete(next[0])
        t = Math.max(t, next[1].at + lateMs)
        next[1].fn()
      }
      t = end
    },
    jump(ms: number) {
      t += ms
    },
  }
}

afterEach(() => {
  sources.length = 0
  sinks.length = 0
})

describe('paced sources', () => {
  it('sends one 10 ms frame per 10 ms on the start-time grid, even with late timers', () => {
    const c = clock()
    const src = createToneSource(fakeWrtc, { freq: 440, ...c })
    c.run(10_000, 4) // every wake-up 4 ms late
    const s = sources[0]!
    expect(Math.abs(src.framesSent - 1000)).toBeLessThanOrEqual(1)
    expect(src.framesSkipped).toBe(0)
    expect(s.data[0]).toMatchObject({ sampleRate: 48000, channelCount: 1, numberOfFrames: 480 })
    expect(s.data.every((d) => d.samples.length === 480)).toBe(true)
    // Phase-continuous across frames: identical to one long tone.
    const joined = new Int16Array(480 * 100)
    s.data.slice(0, 100).forEach((d, i) => joined.set(d.samples, i * 480))
    expect(joined).toEqual(createTone({ freq: 440, amplitude: 0.25 }).take(100))
    src.stop()
    src.stop()
    expect(s.track.stopped).toBe(true)
    expect(c.pending).toBe(0)
  })

  it('after a long stall sends at most maxBurst frames and skips the rest', () => {
    const c = clock()
    const src = createFrameSource(fakeWrtc, () => new Int16Array(480), { ...c, maxBurst: 5 })
    c.jump(1000)
    c.run(0)
    c.run(10)
    expect(src.framesSent).toBeLessThan(20)
    expect(src.framesSkipped).toBeGreaterThan(90)
    expect(src.framesSent + src.framesSkipped).toBe(102)
    src.stop()
  })

  it('PCM source plays once then ends (stopping its track), or loops', () => {
    const c = clock()
    const audio = { sampleRate: 48000, channels: 1 as const, samples: Int16Array.from({ length: 1000 }, (_, i) => i) }
    let ended = 0
    const once = createPcmSource(fakeWrtc, audio, { ...c, onEnd: () => ended++ })
    c.run(100)
    expect(sources[0]!.data).toHaveLength(3) // 1000 samples -> 3 frames, zero-padded
    expect(sources[0]!.data[2]!.samples[39]).toBe(999)
    expect(sources[0]!.data[2]!.samples[40]).toBe(0)
    expect(ended).toBe(1)
    expect(sources[0]!.track.stopped).toBe(true)
    expect(once.framesSent).toBe(3)

    const loop = createPcmSource(fakeWrtc, audio, { ...c, loop: true })
    c.run(100)
    expect(sources[1]!.data.length).toBeGreaterThanOrEqual(10)
    expect(sources[1]!.data[3]!.samples[0]).toBe(0)
    loop.stop()
    expect(c.pending).toBe(0)
  })

  it('PCM source downmixes and resamples stereo 16 kHz input', () => {
    const c = clock()
    const mono = createTone({ freq: 500, sampleRate: 16000, frameSize: 160, amplitude: 0.5 }).take(50)
    const stereo = new Int16Array(mono.length * 2)
    mono.forEach((v, i) => {
      stereo[2 * i] = v
      stereo[2 * i + 1] = v
    })
    createPcmSource(fakeWrtc, { sampleRate: 16000, channels: 2, samples: stereo }, c)
    c.run(600)
    const out = new Int16Array(480 * 40)
    sources[0]!.data.slice(0, 40).forEach((d, i) => out.set(d.samples, i * 480))
    expect(detectTones(out, 48000, [500])[0]!.ratio).toBeGreaterThan(0.9)
    expect(() => createPcmSource(fakeWrtc, { sampleRate: 48000, channels: 1, samples: new Int16Array(0) })).toThrow(expect.objectContaining({ code: 'empty-audio' }))
  })
})

describe('attachSink', () => {
  it('delivers 480-sample mono 48 kHz frames from 16 kHz and stereo input; stop detaches', () => {
    const frames: Int16Array[] = []
    const stop = attachSink(fakeWrtc, {} as MediaStreamTrack, (f) => frames.push(f))
    const sink = sinks[0]!
    const t16 = createTone({ freq: 440, sampleRate: 16000, frameSize: 160 })
    for (let i = 0; i < 10; i++) sink.ondata?.({ samples: t16.next(), sampleRate: 16000, channelCount: 1 })
    const t48 = createTone({ freq: 440, amplitude: 0.5 })
    for (let i = 0; i < 10; i++) {
      const m = t48.next()
      const st = new Int16Array(960)
      m.forEach((v, k) => {
        st[2 * k] = v
        st[2 * k + 1] = -v // opposite phase: the downmix is silence
      })
      sink.ondata?.({ samples: st, sampleRate: 48000, channelCount: 2 })
    }
    expect(frames.every((f) => f.length === 480)).toBe(true)
    expect(frames.length).toBeGreaterThanOrEqual(18)
    expect(detectTones(frames[5]!, 48000, [440])[0]!.ratio).toBeGreaterThan(0.9)
    expect(frames.at(-1)!.every((v) => v === 0)).toBe(true)
    stop()
    stop()
    expect(sink.stopped).toBe(true)
    expect(sink.ondata).toBeNull()
  })
})

describe('createWavFileWriter', () => {
  let dir = ''
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('writes incrementally and patches the header on close', async () => {
    dir = mkdtempSync(join(tmpdir(), 'stoop-wav-'))
    const path = join(dir, 'rec.wav')
    const w = await createWavFileWriter(path, { sampleRate: 48000, channels: 1 })
    const tone = createTone({ freq: 1000 })
    const written: Int16Array[] = []
    for (let i = 0; i < 50; i++) {
      const f = tone.next()
      written.push(f)
      w.write(f)
    }
    await w.close()
    await w.close()
    expect(() => w.write(new Int16Array(1))).toThrow(expect.objectContaining({ code: 'writer-closed' }))
    const decoded = decodeWav(new Uint8Array(readFileSync(path)))
    expect(decoded.samples).toHaveLength(50 * 480)
    expect(decoded.samples.slice(0, 480)).toEqual(written[0])
    expect(w.dataBytes).toBe(50 * 480 * 2)
  })
})
