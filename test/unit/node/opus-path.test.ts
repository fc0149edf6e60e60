import { describe, expect, it } from 'vitest'
import { detectTones, hasTone } from '../../../src/audio/goertzel.ts'
import { createTone } from '../../../src/audio/tone.ts'
import { loadOpus } from '../../../src/node/opus-codec.ts'
import { OpusReceiver } from '../../../src/node/opus-receiver.ts'
import { OpusSender, type OutgoingPacket } from '../../../src/node/opus-sender.ts'

const opus = loadOpus()
const settle = () => new Promise((r) => setTimeout(r, 0))
const joined = (frames: Int16Array[]) => {
  const out = new Int16Array(frames.length * 480)
  frames.forEach((f, i) => out.set(f, i * 480))
  return out
}
const toneIn = (frames: Int16Array[], freq = 440) => hasTone(detectTones(joined(frames), 48_000, [freq])[0]!)

describe('Opus sender and receiver (no network)', () => {
  it('carries a tone: 10 ms frames in, 20 ms packets, 10 ms frames out', async () => {
    const packets: OutgoingPacket[] = []
    const tx = new OpusSender({ opus, onPacket: (p) => packets.push(p) })
    const rx = new OpusReceiver({ opus })
    const tone = createTone({ freq: 440, amplitude: 0.3 })
    const heard: Int16Array[] = []
    for (let i = 0; i < 200; i++) {
      tx.push(tone.next())
      await settle()
      for (const p of packets.splice(0)) rx.receive({ ...p, ssrc: 1 })
      heard.push(rx.pull())
    }
    expect(tx.stats).toMatchObject({ frames: 200, packets: 100, dtx: 0 })
    expect(toneIn(heard.slice(-50))).toBe(true)
    expect(rx.stats.concealed).toBe(0)
    tx.destroy()
    rx.destroy()
  })

  it('sends packets in encoding order however long each transform takes, with timestamps 960 apart', async () => {
    const packets: OutgoingPacket[] = []
    let k = 0
    const slow = (p: Uint8Array) => new Promise<Uint8Array>((r) => setTimeout(() => r(p), 5 - (k++ % 5)))
    const tx = new OpusSender({ opus, transform: slow, onPacket: (p) => packets.push(p) })
    const tone = createTone({ freq: 440 })
    for (let i = 0; i < 40; i++) tx.push(tone.next())
    await new Promise((r) => setTimeout(r, 50))
    expect(packets).toHaveLength(20)
    packets.forEach((p, i) => i > 0 && expect((p.timestamp - packets[i - 1]!.timestamp) >>> 0).toBe(960))
    expect(packets[0]!.marker).toBe(true)
    expect(packets.slice(1).some((p) => p.marker)).toBe(false)
    tx.destroy()
  })

  it('does not send DTX silence, and marks the first packet after it', async () => {
    const packets: OutgoingPacket[] = []
    const tx = new OpusSender({ opus, onPacket: (p) => packets.push(p) })
    const tone = createTone({ freq: 440, amplitude: 0.3 })
    for (let i = 0; i < 20; i++) tx.push(tone.next())
    for (let i = 0; i < 200; i++) tx.push(new Int16Array(480))
    const before = packets.length
    for (let i = 0; i < 20; i++) tx.push(tone.next())
    await settle()
    expect(tx.stats.dtx).toBeGreaterThan(50)
    expect(packets[before]?.marker).toBe(true)
    tx.destroy()
  })

  it('counts what it cannot use and never throws on hostile bytes', async () => {
    const rx = new OpusReceiver({ opus, transform: async (p) => (p[0] === 0xee ? null : p[0] === 0xdd ? Promise.reject(new Error('bad tag')) : p) })
    const junk = [new Uint8Array(0), Uint8Array.of(0xee, 1), Uint8Array.of(0xdd), Uint8Array.of(0b00011_0_11, 0), new Uint8Array(5000), Uint8Array.of(0xff, 0xff, 0xff, 0xff)]
    for (let i = 0; i < 300; i++) {
      const payload = junk[i % junk.length]!.length ? junk[i % junk.length]! : crypto.getRandomValues(new Uint8Array(1 + (i % 90)))
      rx.receive({ payload, timestamp: (i * 960 + (i % 7) * 12345) >>> 0, ssrc: i % 50 === 0 ? i : 1 })
      await settle()
      rx.pull()
    }
    const s = rx.stats
    expect(s.dropped.transform).toBeGreaterThan(0)
    expect(s.dropped.transformError).toBeGreaterThan(0)
    expect(s.dropped.malformed).toBeGreaterThan(0)
    expect(s.frames).toBe(300)
    rx.destroy()
  })

  it('rebuilds a lost voice frame from the in-band FEC of the next packet far better than concealment', () => {
    // Voice-like: harmonics of a gliding 120-220 Hz pitch under a 4 Hz syllable envelope (a steady
    // tone is not speech to SILK, which then sends no FEC data for it).
    let phase = 0
    const frames = Array.from({ length: 200 }, (_, f) =>
      Int16Array.from({ length: 960 }, (_, i) => {
        const t = (f * 960 + i) / 48_000
        phase += (2 * Math.PI * (170 + 50 * Math.sin(2 * Math.PI * 0.7 * t))) / 48_000
        let s = 0
        for (let h = 1; h <= 12; h++) s += Math.sin(h * phase) / h
        return Math.round(s * (0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t)) * 0.15 * 32767)
      }),
    )
    const enc = opus.createEncoder({ dtx: false })
    const packets = frames.map((f) => enc.encode(f))
    const ref = opus.createDecoder()
    const clean = packets.map((p) => ref.decode(p)!)
    const snrDb = (repair: 'fec' | 'conceal'): number => {
      const dec = opus.createDecoder()
      let signal = 0
      let error = 0
      packets.forEach((p, i) => {
        const lost = i > 20 && i % 10 === 5
        const out = !lost ? dec.decode(p)! : repair === 'fec' ? dec.decodeFec(packets[i + 1]!, 960)! : dec.conceal(960)
        if (lost) out.forEach((v, j) => ((signal += clean[i]![j]! ** 2), (error += (clean[i]![j]! - v) ** 2)))
      })
      dec.destroy()
      return 10 * Math.log10(signal / error)
    }
    expect(snrDb('fec')).toBeGreaterThan(snrDb('conceal') + 6)
  })
})
