/**
 * Two Peers over real @roamhq/wrtc on loopback, signals handed across in-process (through a
 * JSON round trip, asynchronously, like a network would). Audio is checked by frequency content
 * over the last few hundred ms of what the sink received, with generous waits, so busy cores
 * slow the test down instead of failing it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import wrtc from '@roamhq/wrtc'
import { Peer, type PeerOptions } from '../../src/net/peer.ts'
import { detectTones, hasTone } from '../../src/audio/goertzel.ts'
import { dbfs } from '../../src/audio/level.ts'
import { readOpusFmtp } from '../../src/net/opus.ts'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { attachSink, createPcmSource, createToneSource, createWavFileWriter, type AudioSourceHandle, type AudioWrtc } from '../../src/node/audio-io.ts'
import { createTone } from '../../src/audio/tone.ts'
import { decodeWav, encodeWav } from '../../src/audio/wav.ts'
import { waitFor } from '../helpers/wait.ts'

const audioWrtc = wrtc as unknown as AudioWrtc
const created: RTCPeerConnection[] = []
// Counts every connection made, to check none is recreated and all end closed.
class TrackedPC extends (wrtc.RTCPeerConnection as unknown as typeof RTCPeerConnection) {
  constructor(config?: RTCConfiguration) {
    super(config)
    created.push(this)
  }
}
const trackedWrtc: PeerOptions['wrtc'] = { RTCPeerConnection: TrackedPC }

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Only loopback host candidates cross the "wire": nothing but 127.0.0.1 is ever contacted. */
function pair(opts: Partial<PeerOptions> = {}) {
  const a = new Peer({ wrtc: trackedWrtc, polite: false, ...opts })
  const b = new Peer({ wrtc: trackedWrtc, polite: true, ...opts })
  const send = (to: Peer) => (msg: unknown) => {
    const m = msg as { type: string; candidate?: string }
    if (m.type === 'candidate' && !/ 127\.0\.0\.1 \d+ typ host/.test(m.candidate ?? '')) return
    const wire = JSON.parse(JSON.stringify(msg)) as unknown
    setImmediate(() => to.signal(wire))
  }
  a.on('signal', send(b))
  b.on('signal', send(a))
  cleanups.push(() => {
    a.destroy()
    b.destroy()
  })
  return { a, b }
}

function tone(freq: number): AudioSourceHandle {
  const src = createToneSource(audioWrtc, { freq, amplitude: 0.3 })
  cleanups.push(() => src.stop())
  return src
}

/** Records what a remote track plays; `recent()` is the last `ms` of audio. */
function record(track: MediaStreamTrack) {
  const frames: Int16Array[] = []
  const stop = attachSink(audioWrtc, track, (f) => {
    frames.push(f)
    if (frames.length > 500) frames.splice(0, frames.length - 500)
  })
  cleanups.push(stop)
  return {
    frames,
    recent(ms = 300): Int16Array {
      const n = ms / 10
      const out = new Int16Array(n * 480)
      frames.slice(-n).forEach((f, i) => out.set(f, i * 480))
      return out
    },
    hears(freq: number): boolean {
      return frames.length >= 30 && hasTone(detectTones(this.recent(), 48000, [freq])[0]!)
    },
    silent(): boolean {
      return frames.length >= 30 && dbfs(this.recent()) < -50
    },
    stop,
  }
}

function nextTrack(p: Peer): Promise<{ track: MediaStreamTrack; stream: MediaStream | null }> {
  return new Promise((resolve) => {
    const off = p.on('track', (track, stream) => {
      off()
      resolve({ track, stream })
    })
  })
}
const connected = (p: Peer) => new Promise<void>((r) => (p.connected ? r() : p.once('connect', r)))

describe('Peer over @roamhq/wrtc (loopback)', () => {
  it('carries a 440 Hz tone (not 1000 Hz); mute gives silence with DTX; Opus settings are negotiated', async () => {
    const { a, b } = pair()
    const src = tone(440)
    const gotTrack = nextTrack(b)
    a.addTrack(src.track, src.stream)
    await Promise.all([connected(a), connected(b)])
    const { track, stream } = await gotTrack
    expect(stream?.getTracks()).toContain(track)
    const rec = record(track)

    await waitFor('B to hear 440 Hz', () => rec.hears(440))
    const [r440, r1000] = detectTones(rec.recent(), 48000, [440, 1000])
    expect(r440!.ratio).toBeGreaterThan(0.8)
    expect(hasTone(r1000!)).toBe(false)
    expect(r1000!.ratio).toBeLessThan(0.01)

    // Our munged fmtp (from B's answer) is what A's encoder runs with.
    const statsA = await a.getStats()
    const out = statsA.outbound[0]!
    expect(out.mimeType?.toLowerCase()).toBe('audio/opus')
    const fmtp = readOpusFmtp(`a=rtpmap:111 opus/48000/2\r\na=fmtp:111 ${out.sdpFmtpLine ?? ''}\r\n`)
    expect(fmtp).toMatchObject({ usedtx: '1', useinbandfec: '1', maxaveragebitrate: '32000', stereo: '0' })
    const statsB = await b.getStats()
    expect(statsB.inbound[0]!.packetsReceived).toBeGreaterThan(10)
    expect(statsB.rttMs).not.toBeNull()

    // Mute: B hears silence, and DTX cuts the packet rate.
    const packets = async () => (await a.getStats()).outbound[0]!.packetsSent
    let p0 = await packets()
    await sleep(2000)
    const unmutedRate = (await packets()) - p0
    src.track.enabled = false
    await waitFor('B to hear silence', () => rec.silent() && !rec.hears(440))
    await sleep(500)
    p0 = await packets()
    await sleep(2000)
    const mutedRate = (await packets()) - p0
    if (process.env.PEER_AUDIO_DEBUG) console.log({ unmutedRate, mutedRate })
    expect(mutedRate).toBeLessThan(unmutedRate * 0.5)

    src.track.enabled = true
    await waitFor('B to hear 440 Hz again', () => rec.hears(440))
  })

  it('adds and removes a second track later on the same connection (renegotiation, both directions, with glare)', async () => {
    const { a, b } = pair()
    const t440 = tone(440)
    a.addTrack(t440.track, t440.stream)
    const first = nextTrack(b)
    await Promise.all([connected(a), connected(b)])
    const rec440 = record((await first).track)
    await waitFor('440 Hz', () => rec440.hears(440))
    const pcsBefore = created.length
    const negotiationsBefore = a.counters.negotiations + b.counters.negotiations

    // Both sides add a track in the same tick: the offers cross and perfect negotiation settles it.
    const t1000 = tone(1000)
    const t660 = tone(660)
    const atB = nextTrack(b)
    const atA = nextTrack(a)
    a.addTrack(t1000.track, t1000.stream)
    b.addTrack(t660.track, t660.stream)
    const rec1000 = record((await atB).track)
    const rec660 = record((await atA).track)
    await waitFor('B to hear 1000 Hz on the new track', () => rec1000.hears(1000))
    await waitFor('A to hear 660 Hz from B', () => rec660.hears(660))
    expect(rec440.hears(440)).toBe(true)
    expect(rec1000.hears(440)).toBe(false)
    expect(a.counters.negotiations + b.counters.negotiations).toBeGreaterThan(negotiationsBefore)
    expect(created.length).toBe(pcsBefore) // renegotiated, not recreated
    expect([a.connectionState, b.connectionState]).toEqual(['connected', 'connected'])

    // Remove the 1000 Hz track: B is told, that track goes quiet, the 440 Hz one carries on.
    const ended = new Promise<MediaStreamTrack>((r) => b.once('trackended', (t) => r(t)))
    a.removeTrack(t1000.track)
    expect(await ended).toBe((await atB).track)
    rec1000.frames.length = 0
    await sleep(1000)
    expect(rec1000.frames.length === 0 || !rec1000.hears(1000)).toBe(true)
    expect(rec440.hears(440)).toBe(true)
    expect(b.remoteTracks.map((r) => r.track)).not.toContain((await atB).track)
    expect(created.length).toBe(pcsBefore)
  })

  it('round-trips binary data on the data channel, both ways, in order', async () => {
    const { a, b } = pair()
    await Promise.all([connected(a), connected(b)])
    const atB: Uint8Array[] = []
    b.on('data', (d) => {
      atB.push(d)
      b.send(d.map((x) => x ^ 0xff)) // echo, inverted
    })
    const atA: Uint8Array[] = []
    a.on('data', (d) => atA.push(d))
    const backing = Uint8Array.from({ length: 100 }, (_, i) => i)
    const msgs = [Uint8Array.from([1, 2, 3]), backing.subarray(10, 20), new Uint8Array(60_000).fill(7), new Uint8Array(0)]
    for (const m of msgs) a.send(m)
    await waitFor('echoes', () => atA.length === msgs.length)
    expect(atB).toEqual(msgs)
    expect(atA).toEqual(msgs.map((m) => m.map((x) => x ^ 0xff)))
  })

  it('ICE restart renegotiates on the same connection and audio keeps flowing', async () => {
    const { a, b } = pair()
    const src = tone(440)
    const gotTrack = nextTrack(b)
    a.addTrack(src.track, src.stream)
    await Promise.all([connected(a), connected(b)])
    const rec = record((await gotTrack).track)
    await waitFor('440 Hz', () => rec.hears(440))
    const before = a.counters.negotiations
    const pcs = created.length
    const pcA = created[created.length - 2]!
    const ufrag = () => /a=ice-ufrag:(\S+)/.exec(pcA.localDescription?.sdp ?? '')?.[1]
    const ufragBefore = ufrag()
    a.restartIce()
    await waitFor('restart offer answered', () => a.counters.negotiations > before && pcA.signalingState === 'stable' && a.connectionState === 'connected')
    expect(ufrag()).not.toBe(ufragBefore) // new ICE credentials: a real restart
    rec.frames.length = 0
    await waitFor('440 Hz after restart', () => rec.hears(440))
    expect(created.length).toBe(pcs)
    expect(a.destroyed || b.destroyed).toBe(false)
  })

  it('plays a looped WAV clip and records what arrives to a WAV file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stoop-peer-audio-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    // A 16 kHz stereo 660 Hz clip, as a file would give us: the source downmixes and resamples.
    const mono = createTone({ freq: 660, sampleRate: 16000, frameSize: 1600, amplitude: 0.3 }).take(3)
    const stereo = new Int16Array(mono.length * 2)
    mono.forEach((v, i) => stereo.set([v, v], 2 * i))
    const clip = decodeWav(encodeWav({ sampleRate: 16000, channels: 2, samples: stereo }))
    const src = createPcmSource(audioWrtc, clip, { loop: true })
    cleanups.push(() => src.stop())

    const { a, b } = pair()
    const gotTrack = nextTrack(b)
    a.addTrack(src.track, src.stream)
    const path = join(dir, 'recv.wav')
    const writer = await createWavFileWriter(path, { sampleRate: 48000, channels: 1 })
    const rec = record((await gotTrack).track)
    await waitFor('660 Hz', () => rec.hears(660))
    const stop = attachSink(audioWrtc, (await gotTrack).track, (f) => writer.write(f))
    await sleep(1000)
    stop()
    await writer.close()
    const got = decodeWav(new Uint8Array(readFileSync(path)))
    expect(got.sampleRate).toBe(48000)
    expect(got.samples.length).toBeGreaterThan(48000 * 0.5)
    const [r660, r440] = detectTones(got.samples.subarray(-24000), 48000, [660, 440])
    expect(hasTone(r660!)).toBe(true)
    expect(hasTone(r440!)).toBe(false)
  })

  it('destroy closes both ends and leaves no connections, timers or handles behind', async () => {
    const resourcesBefore = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length
    const { a, b } = pair()
    const src = tone(440)
    const gotTrack = nextTrack(b)
    a.addTrack(src.track, src.stream)
    await Promise.all([connected(a), connected(b)])
    const rec = record((await gotTrack).track)
    await waitFor('440 Hz', () => rec.hears(440))

    const closedB = new Promise<string | null>((r) => b.once('close', (err) => r(err?.code ?? null)))
    const closesA: unknown[] = []
    a.on('close', (e) => closesA.push(e))
    a.destroy()
    a.destroy()
    expect(closesA).toEqual([null])
    expect(await closedB).toBe('remote-closed') // B notices A leaving without any signalling
    rec.stop()
    src.stop()
    const mine = created.slice(-2)
    expect(mine.map((pc) => [pc.connectionState, pc.signalingState])).toEqual([
      ['closed', 'closed'],
      ['closed', 'closed'],
    ])
    await sleep(200)
    const resourcesAfter = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length
    expect(resourcesAfter).toBeLessThanOrEqual(resourcesBefore)
  })
})
