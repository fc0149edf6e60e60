/**
 * The werift RTP forwarder between real libwebrtc clients (@roamhq/wrtc), over
 * 127.0.0.1 only: publishers send sine tones, listeners decode what the
 * forwarder relays and Goertzel-detect which tone arrived on which track.
 *
 * Audio in and out goes through src/node/audio-io.ts (paced tone source, 48 kHz
 * mono sink).
 */
import wrtc from '@roamhq/wrtc'
import { afterEach, describe, expect, it } from 'vitest'
import { Forwarder, type SessionDescription } from '../../relay/sfu/forwarder.ts'
import { SfuErrorCode } from '../../relay/sfu/errors.ts'
import { attachSink, createToneSource } from '../../src/node/audio-io.ts'
import { SAMPLE_RATE } from '../../src/audio/tone.ts'
import { detectTones, hasTone } from '../../src/audio/goertzel.ts'
import { waitFor as until } from '../helpers/wait.ts'

/** Keep only 127.0.0.1 UDP candidates so no packet leaves loopback. */
export function loopbackOnly(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || / 127\.0\.0\.1 \d+ typ host/.test(l) && / udp /i.test(l))
    .join('\r\n')
}

const LOOPBACK_PEER_CONFIG = { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }

async function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return
  await new Promise<void>((ok) => {
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') ok()
    })
  })
}

interface TonePublisher {
  offer: SessionDescription
  accept(answer: SessionDescription): Promise<void>
  close(): void
}

/** A wrtc peer that sends a continuous sine. */
async function tonePublisher(freq: number): Promise<TonePublisher> {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] })
  const source = createToneSource(wrtc, { freq })
  pc.addTransceiver(source.track, { direction: 'sendonly' })
  await pc.setLocalDescription(await pc.createOffer())
  await gathered(pc)
  return {
    offer: { type: 'offer', sdp: loopbackOnly(pc.localDescription!.sdp) },
    accept: (answer) => pc.setRemoteDescription({ type: answer.type, sdp: loopbackOnly(answer.sdp) }),
    close() {
      source.stop()
      pc.close()
    },
  }
}

/** A wrtc peer that answers the forwarder's offers and keeps the last 200 ms of audio per stream id. */
function listener() {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] })
  const recent = new Map<string, Int16Array>()
  const sinks: (() => void)[] = []
  const keep = SAMPLE_RATE / 5
  // A parked transceiver that is reused fires ontrack again for the same track
  // with the new publisher's stream id: keep one sink per track, remap its id.
  const streamOf = new Map<string, string>()
  pc.ontrack = (ev) => {
    const known = streamOf.has(ev.track.id)
    streamOf.set(ev.track.id, ev.streams[0]?.id ?? ev.track.id)
    if (known) return
    sinks.push(
      attachSink(wrtc, ev.track, (frame) => {
        const streamId = streamOf.get(ev.track.id)!
        const prev = recent.get(streamId) ?? new Int16Array(0)
        const joined = new Int16Array(prev.length + frame.length)
        joined.set(prev)
        joined.set(frame, prev.length)
        recent.set(streamId, joined.subarray(Math.max(0, joined.length - keep)))
      }),
    )
  }
  return {
    pc,
    async answer(offer: SessionDescription): Promise<SessionDescription> {
      await pc.setRemoteDescription({ type: 'offer', sdp: loopbackOnly(offer.sdp) })
      await pc.setLocalDescription(await pc.createAnswer())
      await gathered(pc)
      return { type: 'answer', sdp: loopbackOnly(pc.localDescription!.sdp) }
    },
    /** Drops the audio kept for `streamId`. */
    forget(streamId: string): void {
      recent.delete(streamId)
    },
    /** Whether the last 200 ms of `streamId` carries `freq` (and not the others). */
    hears(streamId: string, freq: number, absent: number[]): boolean {
      const block = recent.get(streamId)
      if (!block || block.length < keep) return false
      const [want, ...others] = detectTones(block, SAMPLE_RATE, [freq, ...absent])
      return hasTone(want!) && others.every((r) => !hasTone(r, { minRatio: 0.05 }))
    },
    close() {
      for (const stop of sinks) stop()
      pc.close()
    },
  }
}

describe('werift RTP forwarder with wrtc clients', () => {
  const cleanup: (() => unknown)[] = []
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })

  it('forwards one and then two publishers to two listeners', async () => {
    const listeners = new Map([['l1', listener()], ['l2', listener()]])
    const errors: Error[] = []
    const fwd = new Forwarder({
      peerConfig: LOOPBACK_PEER_CONFIG,
      onError: (err) => errors.push(err),
      onOffer: (id, offer) => {
        const l = listeners.get(id)!
        l.answer(offer)
          .then((answer) => fwd.acceptAnswer(id, answer))
          .catch((err: unknown) => errors.push(err as Error))
      },
    })
    cleanup.push(() => fwd.close())
    for (const l of listeners.values()) cleanup.push(() => l.close())

    const alice = await tonePublisher(440)
    cleanup.push(() => alice.close())
    await alice.accept(await fwd.addPublisher('alice', alice.offer))
    for (const id of listeners.keys()) {
      fwd.addSubscriber(id)
      fwd.subscribe(id, 'alice')
    }
    for (const l of listeners.values()) await until('440 Hz from alice', () => l.hears('alice', 440, [1000, 660]))

    const bob = await tonePublisher(660)
    cleanup.push(() => bob.close())
    await bob.accept(await fwd.addPublisher('bob', bob.offer))
    for (const id of listeners.keys()) fwd.subscribe(id, 'bob')
    for (const l of listeners.values()) {
      await until('660 Hz from bob', () => l.hears('bob', 660, [440, 1000]))
      await until('440 Hz from alice still', () => l.hears('alice', 440, [660, 1000]))
    }

    const s = fwd.stats()
    expect(s).toMatchObject({ publishers: 2, subscribers: 2, streams: 4, errors: 0 })
    expect(s.packetsIn).toBeGreaterThan(20)
    // every packet that arrived once all subscriptions were up went out four times
    expect(s.packetsOut).toBeGreaterThan(s.packetsIn)
    expect(s.bytesOut).toBeGreaterThan(s.bytesIn)
    // libwebrtc decoded all of it from the direct path (rtp-out.ts; AES-CM with wrtc), none from werift's sendRtp.
    expect(fwd.packetsDirect).toBe(s.packetsOut)

    // Unsubscribing stops the stream for that listener only.
    const l1 = listeners.get('l1')!
    const l2 = listeners.get('l2')!
    fwd.unsubscribe('l2', 'alice')
    expect(fwd.stats().streams).toBe(3)
    await new Promise((r) => setTimeout(r, 500))
    const outBefore = fwd.stats().packetsOut
    l1.forget('alice')
    l2.forget('alice')
    await new Promise((r) => setTimeout(r, 1000))
    expect(l1.hears('alice', 440, [660])).toBe(true)
    expect(l2.hears('alice', 440, [])).toBe(false)
    expect(l2.hears('bob', 660, [440])).toBe(true)
    // 3 streams over 1 s at 50 packets/s (20 ms Opus frames), with slack for a loaded machine
    expect(fwd.stats().packetsOut - outBefore).toBeGreaterThan(90)

    // A new publisher reuses l2's parked transceiver (same SSRC, rebased sequence numbers).
    const carol = await tonePublisher(880)
    cleanup.push(() => carol.close())
    await carol.accept(await fwd.addPublisher('carol', carol.offer))
    for (const id of listeners.keys()) fwd.subscribe(id, 'carol')
    for (const l of listeners.values()) await until('880 Hz from carol', () => l.hears('carol', 880, [440, 660]))
    expect(l2.pc.getTransceivers()).toHaveLength(2)
    expect(l1.pc.getTransceivers()).toHaveLength(3)
    expect(errors).toEqual([])

    await fwd.removePeer('alice')
    expect(fwd.stats()).toMatchObject({ publishers: 2, streams: 4 })
    await fwd.close()
    expect(fwd.stats()).toMatchObject({ publishers: 0, subscribers: 0, streams: 0 })
    expect(() => fwd.addSubscriber('x')).toThrow(expect.objectContaining({ code: SfuErrorCode.CLOSED }))
  })

  it('a standby subscriber is negotiated and connected but gets nothing until it activates', async () => {
    const l = listener()
    const errors: Error[] = []
    const fwd = new Forwarder({
      peerConfig: LOOPBACK_PEER_CONFIG,
      onError: (err) => errors.push(err),
      onOffer: (id, offer) => {
        l.answer(offer)
          .then((answer) => fwd.acceptAnswer(id, answer))
          .catch((err: unknown) => errors.push(err as Error))
      },
    })
    cleanup.push(() => fwd.close(), () => l.close())
    const alice = await tonePublisher(440)
    cleanup.push(() => alice.close())
    await alice.accept(await fwd.addPublisher('alice', alice.offer))
    fwd.addSubscriber('l', { standby: true })
    fwd.subscribe('l', 'alice')
    await until('the standby connection', () => l.pc.connectionState === 'connected')
    await new Promise((r) => setTimeout(r, 1000))
    expect(fwd.stats()).toMatchObject({ subscribers: 1, standby: 1, streams: 0, packetsOut: 0 })
    expect(l.hears('alice', 440, [])).toBe(false)

    fwd.setStandby('l', false)
    const activated = Date.now()
    await until('440 Hz once active', () => l.hears('alice', 440, [660, 1000]))
    // Nothing to set up: the audio is there within one jitter-buffer fill.
    expect(Date.now() - activated).toBeLessThan(3000)
    expect(fwd.stats()).toMatchObject({ standby: 0, streams: 1 })
    expect(errors).toEqual([])
  })

  it('rejects misuse with stable codes', async () => {
    const fwd = new Forwarder({ peerConfig: LOOPBACK_PEER_CONFIG, onOffer: () => undefined })
    cleanup.push(() => fwd.close())
    fwd.addSubscriber('s')
    expect(() => fwd.addSubscriber('s')).toThrow(expect.objectContaining({ code: SfuErrorCode.DUPLICATE_PEER }))
    expect(() => fwd.addSubscriber('bad id')).toThrow(expect.objectContaining({ code: SfuErrorCode.BAD_ID }))
    expect(() => fwd.subscribe('s', 'nobody')).toThrow(expect.objectContaining({ code: SfuErrorCode.UNKNOWN_PEER }))
    await expect(fwd.acceptAnswer('s', { type: 'answer', sdp: '' })).rejects.toMatchObject({ code: SfuErrorCode.NO_PENDING_OFFER })
    await expect(fwd.addPublisher('p', { type: 'offer', sdp: 'v=0\r\n' })).rejects.toMatchObject({ code: SfuErrorCode.BAD_DESCRIPTION })
    await expect(fwd.addPublisher('p', { type: 'offer', sdp: 'x'.repeat(70_000) })).rejects.toMatchObject({ code: SfuErrorCode.BAD_DESCRIPTION })
  })
})
