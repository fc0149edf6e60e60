/**
 * A bench listener's receive path, cheap enough that a 2-core box can run hundreds of
 * listeners next to the relay it measures (werift's full receive path cost the
 * listeners more CPU than the relay spent forwarding to them).
 *
 * Once a listener's werift connection is up, its UDP transport's data handler is
 * wrapped: SRTP packets (RTP version 2, not RTCP) are handed to `onRtp` and never
 * reach werift's RTP stack; STUN, DTLS and RTCP go on to werift as before. The
 * listener reads sequence number and SSRC from the clear header of every packet (loss)
 * and has werift's own SRTP session verify and decrypt a sample (latency, and proof
 * that the relay's direct SRTP path makes packets a werift receiver accepts).
 */
import type { RTCPeerConnection } from 'werift'

interface Transport {
  onData: (data: Buffer, addr: unknown) => void
}
interface Dtls {
  srtp?: { decrypt(data: Buffer): Buffer }
  iceTransport?: { connection?: { nominated?: { protocol?: { transport?: Transport } } } }
}

export interface SrtpTap {
  /** Verifies and decrypts one SRTP packet with werift's session (throws if its tag is wrong). */
  decrypt(data: Buffer): Buffer
  /** Restores werift's handler. */
  stop(): void
}

/** Wraps the UDP handler of `pc`'s (bundled) transport; null if werift's internals are not as expected. */
export function tapSrtp(pc: RTCPeerConnection, onRtp: (data: Buffer) => void): SrtpTap | null {
  const dtls = (pc.getTransceivers()[0]?.receiver as unknown as { dtlsTransport?: Dtls } | undefined)?.dtlsTransport
  const transport = dtls?.iceTransport?.connection?.nominated?.protocol?.transport
  const srtp = dtls?.srtp
  if (!transport || !srtp || typeof transport.onData !== 'function') return null
  const original = transport.onData
  transport.onData = (data, addr) => {
    // RTP v2 whose second byte is not an RTCP packet type (200-206, RFC 5761 demultiplexing).
    if (data.length >= 12 && (data[0]! & 0xc0) === 0x80 && !(data[1]! >= 192 && data[1]! <= 223)) onRtp(data)
    else original.call(transport, data, addr)
  }
  return {
    decrypt: (data) => srtp.decrypt(data),
    stop: () => {
      transport.onData = original
    },
  }
}

/** Offset of the payload in a plain RTP packet (after CSRCs and the header extension). */
export function rtpPayloadOffset(p: Buffer): number {
  let o = 12 + 4 * (p[0]! & 0x0f)
  if (p[0]! & 0x10) o += 4 + 4 * p.readUInt16BE(o + 2)
  return o
}
