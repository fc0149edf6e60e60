/**
 * The forwarder passes RTP payloads through byte for byte. Publisher and
 * subscriber are werift peers here (RTP access on both ends), the payloads are
 * random bytes standing in for end-to-end encrypted Opus frames the relay cannot
 * read. Loopback only.
 */
import { randomBytes } from 'node:crypto'
import {
  MediaStreamTrack,
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  useOPUS,
  useSdesMid,
  type RTCPeerConnectionConfig,
} from 'werift'
import { afterEach, describe, expect, it } from 'vitest'
import { Forwarder, type SessionDescription } from '../../relay/sfu/forwarder.ts'
import { waitFor as until } from '../helpers/wait.ts'

const CONFIG: RTCPeerConnectionConfig = {
  codecs: { audio: [useOPUS()], video: [] },
  headerExtensions: { audio: [useSdesMid()], video: [] },
  iceServers: [],
  iceAdditionalHostAddresses: ['127.0.0.1'],
  iceUseIpv6: false,
  bundlePolicy: 'max-bundle',
}

function loopbackOnly(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || / 127\.0\.0\.1 \d+ typ host/.test(l))
    .join('\r\n')
}

describe('forwarded RTP', () => {
  const cleanup: (() => unknown)[] = []
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })

  it('keeps payload bytes, sequence numbers and timestamps; rewrites SSRC', async () => {
    const subPc = new RTCPeerConnection(CONFIG)
    cleanup.push(() => subPc.close())
    const received: RtpPacket[] = []
    subPc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => received.push(rtp))
    })
    let offeredSsrc = -1
    const errors: unknown[] = []
    const fwd = new Forwarder({
      peerConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false },
      onError: (err) => errors.push(err),
      onOffer: (id, offer) => {
        offeredSsrc = Number(/a=ssrc:(\d+)/.exec(offer.sdp)?.[1])
        const answer = async (): Promise<SessionDescription> => {
          await subPc.setRemoteDescription({ type: 'offer', sdp: loopbackOnly(offer.sdp) })
          await subPc.setLocalDescription(await subPc.createAnswer())
          return { type: 'answer', sdp: loopbackOnly(subPc.localDescription!.sdp) }
        }
        answer()
          .then((a) => fwd.acceptAnswer(id, a))
          .catch((err: unknown) => errors.push(err))
      },
    })
    cleanup.push(() => fwd.close())

    const pubPc = new RTCPeerConnection(CONFIG)
    cleanup.push(() => pubPc.close())
    const track = new MediaStreamTrack({ kind: 'audio' })
    pubPc.addTransceiver(track, { direction: 'sendonly' })
    await pubPc.setLocalDescription(await pubPc.createOffer())
    const answer = await fwd.addPublisher('pub', { type: 'offer', sdp: loopbackOnly(pubPc.localDescription!.sdp) })
    await pubPc.setRemoteDescription({ type: 'answer', sdp: loopbackOnly(answer.sdp) })
    fwd.addSubscriber('sub')
    fwd.subscribe('sub', 'pub')
    await until('both connections', () => pubPc.connectionState === 'connected' && subPc.connectionState === 'connected')

    // Send until the subscriber has 100 packets; the first few can race DTLS on the relay's side.
    const sent = new Map<number, { payload: Buffer; timestamp: number; marker: boolean }>()
    const ssrc = 0x1234_5678
    let seq = 65_500 // crosses the 16-bit wrap
    while (received.length < 100) {
      const payload = randomBytes(20 + Math.floor(Math.random() * 200))
      const timestamp = (0xffff_f000 + seq * 960) >>> 0 // crosses the 32-bit wrap
      const marker = seq % 7 === 0
      sent.set(seq & 0xffff, { payload, timestamp, marker })
      track.writeRtp(new RtpPacket(new RtpHeader({ ssrc, sequenceNumber: seq & 0xffff, timestamp, payloadType: 111, marker }), payload))
      seq++
      await new Promise((r) => setTimeout(r, 5))
      if (seq > 70_000) throw new Error(`only ${received.length} packets arrived`)
    }

    for (const rtp of received) {
      const orig = sent.get(rtp.header.sequenceNumber)
      expect(orig, `seq ${rtp.header.sequenceNumber}`).toBeDefined()
      expect(Buffer.compare(rtp.payload, orig!.payload)).toBe(0)
      expect(rtp.header.timestamp).toBe(orig!.timestamp)
      expect(rtp.header.marker).toBe(orig!.marker)
      expect(rtp.header.ssrc).toBe(offeredSsrc)
      expect(rtp.header.payloadType).toBe(111)
    }
    expect(new Set(received.map((r) => r.header.sequenceNumber)).size).toBe(received.length)
    const stats = fwd.stats()
    expect(stats.packetsOut).toBeGreaterThanOrEqual(received.length)
    // All through the direct path (rtp-out.ts; AES-GCM between werift peers), across the wraps.
    expect(fwd.packetsDirect).toBe(stats.packetsOut)
    expect(stats.bytesOut).toBeGreaterThanOrEqual(received.reduce((n, r) => n + r.payload.length, 0))
    expect(errors).toEqual([])
  })

  it('leaves no sockets or timers open after close', async () => {
    await new Promise((r) => setTimeout(r, 200))
    const left = process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap' || r === 'TCPWrap' || r === 'Timeout')
    expect(left).toEqual([])
  })
})
