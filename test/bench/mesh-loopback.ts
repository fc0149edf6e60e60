/**
 * Keeps bench peers on 127.0.0.1: wraps an RTCPeerConnection implementation so
 * that remote ICE candidates on any other address (the machine's eth0 and IPv6
 * addresses, which libwebrtc gathers too) are dropped before they reach ICE.
 * Every connectivity check and media packet then goes to 127.0.0.1.
 */
import type { PeerWrtc } from '../../src/net/peer.ts'

const LOOPBACK = / 127\.0\.0\.1 \d+ typ host/

export interface LoopbackWrtc extends PeerWrtc {
  /** Remote candidates dropped because they were not on 127.0.0.1. */
  readonly dropped: number
  /** Remote candidates passed on. */
  readonly kept: number
}

/** `onCreate` sees each connection made (benches read raw stats and SDP from it). */
export function loopbackOnly(base: PeerWrtc, onCreate?: (pc: RTCPeerConnection) => void): LoopbackWrtc {
  const counts = { dropped: 0, kept: 0 }
  function create(config?: RTCConfiguration): RTCPeerConnection {
    const pc = new base.RTCPeerConnection(config)
    const add = pc.addIceCandidate.bind(pc)
    pc.addIceCandidate = (init?: RTCIceCandidateInit | null): Promise<void> => {
      const line = init?.candidate ?? ''
      if (line !== '' && !LOOPBACK.test(line)) {
        counts.dropped++
        return Promise.resolve()
      }
      counts.kept++
      return add(init)
    }
    onCreate?.(pc)
    return pc
  }
  return {
    RTCPeerConnection: create as unknown as PeerWrtc['RTCPeerConnection'],
    get dropped() {
      return counts.dropped
    },
    get kept() {
      return counts.kept
    },
  }
}
