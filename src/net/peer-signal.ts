/**
 * Wire shape of peer-connection signalling, and its validator. Messages arrive from a relay or
 * swarm that may be hostile, so `parseSignal` accepts only these exact shapes with bounded
 * string sizes, and copies out the known fields (nothing else is passed on).
 */

export interface DescriptionSignal {
  type: 'description'
  /** The SDP type: our offers and answers (rollback never goes on the wire). */
  sdpType: 'offer' | 'answer'
  sdp: string
}

export interface CandidateSignal {
  type: 'candidate'
  /** An `a=candidate` attribute value, or '' for end-of-candidates. */
  candidate: string
  sdpMid: string | null
  sdpMLineIndex: number | null
  usernameFragment: string | null
}

export type PeerSignal = DescriptionSignal | CandidateSignal

/** Largest SDP accepted. A few audio m-sections plus data is ~3-6 KiB; 64 KiB is generous. */
export const MAX_SDP_BYTES = 64 * 1024
/** Largest candidate attribute accepted (real ones are ~100-200 bytes). */
export const MAX_CANDIDATE_BYTES = 1024
const MAX_MID = 64
const MAX_UFRAG = 256

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
const optStr = (x: unknown, max: number): x is string | null | undefined => x === undefined || x === null || (typeof x === 'string' && x.length <= max)

/** Returns a clean copy of a valid signal, or null for anything malformed. Never throws. */
export function parseSignal(msg: unknown): PeerSignal | null {
  if (!isObj(msg)) return null
  if (msg.type === 'description') {
    const { sdpType, sdp } = msg
    if ((sdpType !== 'offer' && sdpType !== 'answer') || typeof sdp !== 'string') return null
    if (sdp.length === 0 || sdp.length > MAX_SDP_BYTES || !sdp.startsWith('v=0')) return null
    return { type: 'description', sdpType, sdp }
  }
  if (msg.type === 'candidate') {
    const { candidate, sdpMid, sdpMLineIndex, usernameFragment } = msg
    if (typeof candidate !== 'string' || candidate.length > MAX_CANDIDATE_BYTES) return null
    if (candidate !== '' && !/^(a=)?candidate:/.test(candidate)) return null
    if (!optStr(sdpMid, MAX_MID) || !optStr(usernameFragment, MAX_UFRAG)) return null
    if (sdpMLineIndex !== undefined && sdpMLineIndex !== null && !(Number.isInteger(sdpMLineIndex) && (sdpMLineIndex as number) >= 0 && (sdpMLineIndex as number) < 1024)) return null
    if ((sdpMid === undefined || sdpMid === null) && (sdpMLineIndex === undefined || sdpMLineIndex === null) && candidate !== '') return null
    return {
      type: 'candidate',
      candidate,
      sdpMid: sdpMid ?? null,
      sdpMLineIndex: (sdpMLineIndex as number | null | undefined) ?? null,
      usernameFragment: usernameFragment ?? null,
    }
  }
  return null
}

/**
 * True for a host candidate on 127.0.0.1 or ::1. libwebrtc also gathers the
 * machine's other addresses; local tests and benches keep to loopback with this.
 */
export function isLoopbackCandidate(candidate: string): boolean {
  // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
  const parts = candidate.replace(/^candidate:/, '').split(' ')
  const address = parts[4]
  return address === '127.0.0.1' || address === '::1'
}

/** Drops every `a=candidate` line of an SDP that is not a loopback candidate (non-trickle peers). */
export function loopbackSdp(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((line) => !line.startsWith('a=candidate:') || isLoopbackCandidate(line.slice(2)))
    .join('\r\n')
}
