/**
 * The werift media path (src/node/werift-audio.ts) on loopback against itself and against
 * @roamhq/wrtc (libwebrtc): Opus RTP both ways, a per-frame transform on the payloads. Audio is
 * proven by a 440 Hz tone detected in the last 300 ms of what the receiving end decoded.
 *
 * The transform is a toy stand-in for SFrame: XOR with a key byte plus a one-byte check, so a
 * receiver can tell a frame it cannot open (counted, dropped, never played) from one it can.
 * Only 127.0.0.1 candidates are ever exchanged.
 */
import { afterEach, describe, expect, it } from 'vitest'
import wrtc from '@roamhq/wrtc'
import { RTCPeerConnection as WeriftPC, type MediaStreamTrack as WeriftTrack } from 'werift'
import { detectTones, hasTone } from '../../src/audio/goertzel.ts'
import { createTone } from '../../src/audio/tone.ts'
import { attachSink, createToneSource, type AudioWrtc } from '../../src/node/audio-io.ts'
import { loadOpus } from '../../src/node/opus-codec.ts'
import { attachWeriftSink, createWeriftFrameSource, weriftAudioConfig, type FrameTransform, type WeriftSinkHandle } from '../../src/node/werift-audio.ts'
import { generateIdentity } from '../../src/identity/index.ts'
import { startRelay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { waitFor } from '../helpers/wait.ts'
import { listeningPeer } from './helpers/room-peers.ts'

const audioWrtc = wrtc as unknown as AudioWrtc
const LOOPBACK = { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }
const opus = loadOpus()

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** XOR with `key`, then a check byte (the XOR of the plaintext): what `open` verifies. */
function seal(key: number): FrameTransform {
  return async (p) => {
    const out = new Uint8Array(p.length + 1)
    let check = 0
    for (let i = 0; i < p.length; i++) {
      out[i] = p[i]! ^ key
      check ^= p[i]!
    }
    out[p.length] = check
    return out
  }
}
function open(key: number): FrameTransform {
  return async (c) => {
    if (c.length < 2) return null
    const out = new Uint8Array(c.length - 1)
    let check = 0
    for (let i = 0; i < out.length; i++) check ^= out[i] = c[i]! ^ key
    return check === c[c.length - 1] ? out : null
  }
}

function loopbackSdp(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || / 127\.0\.0\.1 \d+ typ host/.test(l))
    .join('\r\n')
}

type AnyPC = WeriftPC | RTCPeerConnection
/** Non-trickle offer/answer: each description carries its (loopback) candidates. */
async function connect(offerer: AnyPC, answerer: AnyPC): Promise<void> {
  const describe = async (pc: AnyPC, type: 'offer' | 'answer'): Promise<{ type: typeof type; sdp: string }> => {
    const d = type === 'offer' ? await pc.createOffer() : await pc.createAnswer()
    await pc.setLocalDescription(d as RTCSessionDescriptionInit)
    if (!(pc instanceof WeriftPC)) await waitFor('ICE gathering', () => pc.iceGatheringState === 'complete')
    return { type, sdp: loopbackSdp(pc.localDescription!.sdp) }
  }
  await answerer.setRemoteDescription(await describe(offerer, 'offer'))
  await offerer.setRemoteDescription(await describe(answerer, 'answer'))
}

function weriftPC(): WeriftPC {
  const pc = new WeriftPC(weriftAudioConfig(LOOPBACK))
  cleanups.push(() => pc.close())
  return pc
}
function wrtcPC(): RTCPeerConnection {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] }) as unknown as RTCPeerConnection
  cleanups.push(() => pc.close())
  return pc
}

/** The last 50 frames a receiver produced, and whether they hold `freq`. */
function recorder() {
  const frames: Int16Array[] = []
  return {
    frames,
    push: (f: Int16Array) => {
      frames.push(f)
      if (frames.length > 50) frames.shift()
    },
    recent(): Int16Array {
      const out = new Int16Array(30 * 480)
      frames.slice(-30).forEach((f, i) => out.set(f, i * 480))
      return out
    },
    hears(freq: number): boolean {
      return frames.length >= 30 && hasTone(detectTones(this.recent(), 48_000, [freq])[0]!)
    },
  }
}

function weriftTone(transform?: FrameTransform) {
  const tone = createTone({ freq: 440, amplitude: 0.3 })
  const src = createWeriftFrameSource(() => tone.next(), { opus, ...(transform ? { transform } : {}) })
  cleanups.push(() => src.stop())
  return src
}

/** A werift sender and a werift receiver; the receiver's sink once the track arrives. */
async function weriftPair(send?: FrameTransform, receive?: FrameTransform) {
  const src = weriftTone(send)
  const tx = weriftPC()
  tx.addTransceiver(src.track, { direction: 'sendonly' })
  const rx = weriftPC()
  const heard = recorder()
  let sink: WeriftSinkHandle | null = null
  rx.onTrack.subscribe((track: WeriftTrack) => {
    sink = attachWeriftSink(track, heard.push, { opus, ...(receive ? { transform: receive } : {}) })
    cleanups.push(() => sink?.stop())
  })
  await connect(tx, rx)
  await waitFor('remote track', () => sink !== null)
  return { src, heard, sink: () => sink! }
}

describe('werift media path', () => {
  it('werift sends Opus RTP that libwebrtc (@roamhq/wrtc) decodes: the tone is heard', async () => {
    const src = weriftTone()
    const tx = weriftPC()
    tx.addTransceiver(src.track, { direction: 'sendonly' })
    const rx = wrtcPC()
    const heard = recorder()
    rx.ontrack = (e) => cleanups.push(attachSink(audioWrtc, e.track, heard.push))
    await connect(tx, rx)
    await waitFor('440 Hz at the wrtc receiver', () => heard.hears(440))
    expect(src.stats.packets).toBeGreaterThan(10)
  })

  it('libwebrtc sends, werift receives and decodes through the jitter buffer: the tone is heard', async () => {
    const src = createToneSource(audioWrtc, { freq: 440, amplitude: 0.3 })
    cleanups.push(() => src.stop())
    const tx = wrtcPC()
    tx.addTrack(src.track, src.stream)
    const rx = weriftPC()
    const heard = recorder()
    let sink: WeriftSinkHandle | null = null
    rx.onTrack.subscribe((track: WeriftTrack) => {
      sink = attachWeriftSink(track, heard.push, { opus })
      cleanups.push(() => sink?.stop())
    })
    await connect(tx, rx)
    await waitFor('440 Hz at the werift receiver', () => heard.hears(440))
    expect(sink!.stats.dropped).toMatchObject({ malformed: 0, decode: 0 })
  })

  it('werift to werift with the transform on both sides: the tone is heard, nothing refused', async () => {
    const { heard, sink } = await weriftPair(seal(0x5a), open(0x5a))
    await waitFor('440 Hz through the transform', () => heard.hears(440))
    expect(sink().stats.dropped.transform).toBe(0)
  })

  it('a receiver that cannot open the frames plays silence and counts every refusal', async () => {
    const { heard, sink } = await weriftPair(undefined, open(0x5a)) // plaintext arrives: the check fails
    await waitFor('refused frames', () => sink().stats.dropped.transform >= 50)
    await waitFor('30 frames played', () => heard.frames.length >= 30)
    expect(heard.hears(440)).toBe(false)
    expect(heard.recent().every((v) => v === 0)).toBe(true)
    expect(sink().stats.silentFrames).toBe(sink().stats.frames)
  })

  it('a receiver without the transform does not hear the tone in the sealed frames', async () => {
    const { heard, sink } = await weriftPair(seal(0x5a), undefined)
    await waitFor('100 packets received', () => sink().stats.packets >= 100)
    expect(heard.frames.length).toBeGreaterThanOrEqual(30)
    expect(heard.hears(440)).toBe(false)
  })

  it('losing one packet in ten is repaired from in-band FEC: the tone is still heard', async () => {
    let n = 0
    const lossy: FrameTransform = async (p) => (++n % 10 === 0 ? null : p)
    const { heard, sink } = await weriftPair(undefined, lossy)
    await waitFor('200 packets received', () => sink().stats.packets >= 200)
    await waitFor('440 Hz despite loss', () => heard.hears(440))
    expect(sink().stats.fec).toBeGreaterThan(5)
  })

  it('headless peers on werift (--media werift) and on wrtc share a mesh room: each hears the others', async () => {
    const relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
    cleanups.push(() => relay.close())
    const links = await createRoomLinks(await generateIdentity(), { title: 'Mixed media', topic: '', origin: relay.url })
    // wrtc cannot encrypt frames: the werift peers keep E2EE off to share a room with it.
    const owner = await listeningPeer('M', { link: links.moderator, speak: { kind: 'tone', freq: 440 }, media: 'werift', e2ee: false })
    cleanups.push(() => owner.stop())
    const second = await listeningPeer('S', { link: links.speaker, speak: { kind: 'tone', freq: 660 }, media: 'wrtc' })
    cleanups.push(() => second.stop())
    const quiet = await listeningPeer('L', { link: links.listener, media: 'werift', e2ee: false })
    cleanups.push(() => quiet.stop())
    // Renegotiations come early here (each speaker adds its track once it is on stage); before
    // werift-peer-connection.ts kept ICE roles, one werift-libwebrtc connection in five stalled.
    const poll = { timeout: 45_000, interval: 250 }
    await expect.poll(() => [owner.hears(660), second.hears(440), quiet.hears(440), quiet.hears(660)], poll).toEqual([true, true, true, true])
  }, 120_000)
})
