/**
 * Summarises an `RTCStatsReport` into the few numbers the debug panel and `stoop peer --json`
 * show: round-trip time, jitter, packet loss and byte counts. Pure: takes the report's values.
 * Fields a browser or @roamhq/wrtc does not report come out as null, never NaN.
 */

export interface InboundAudioStats {
  /** Remote track's `trackIdentifier`, when reported. */
  trackId: string | null
  mid: string | null
  packetsReceived: number
  packetsLost: number
  /** packetsLost / (packetsReceived + packetsLost), 0..1. */
  lossRate: number
  jitterMs: number | null
  bytesReceived: number
  /** 0..1, when the implementation reports it. */
  audioLevel: number | null
  fecPacketsReceived: number
  concealedSamples: number
  /** e.g. 'audio/opus', and the negotiated fmtp line, when reported. */
  mimeType: string | null
  sdpFmtpLine: string | null
}

export interface OutboundAudioStats {
  mid: string | null
  packetsSent: number
  bytesSent: number
  targetBitrate: number | null
  mimeType: string | null
  sdpFmtpLine: string | null
}

export interface PeerStats {
  /** Current RTT of the selected candidate pair (else RTCP's remote-inbound), ms. */
  rttMs: number | null
  /** Transport totals (all media and data). */
  bytesSent: number
  bytesReceived: number
  /** Loss over all inbound audio, 0..1. */
  packetLoss: number
  inbound: InboundAudioStats[]
  outbound: OutboundAudioStats[]
}

type Stat = Record<string, unknown> & { type?: unknown; id?: unknown }

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null)
const str = (x: unknown): string | null => (typeof x === 'string' ? x : null)

export function summarizeStats(entries: Iterable<unknown>): PeerStats {
  const all: Stat[] = []
  for (const e of entries) if (typeof e === 'object' && e !== null) all.push(e as Stat)
  const byId = new Map(all.map((s) => [s.id, s]))
  const codecOf = (s: Stat) => {
    const c = byId.get(s.codecId)
    return { mimeType: str(c?.mimeType), sdpFmtpLine: str(c?.sdpFmtpLine) }
  }

  let pairRtt: number | null = null
  let remoteRtt: number | null = null
  let bytesSent = 0
  let bytesReceived = 0
  let sawTransport = false
  const inbound: InboundAudioStats[] = []
  const outbound: OutboundAudioStats[] = []

  for (const s of all) {
    if (s.type === 'transport') {
      sawTransport = true
      bytesSent += num(s.bytesSent) ?? 0
      bytesReceived += num(s.bytesReceived) ?? 0
      const pair = byId.get(s.selectedCandidatePairId)
      const rtt = num(pair?.currentRoundTripTime)
      if (rtt !== null) pairRtt = rtt * 1000
    } else if (s.type === 'candidate-pair' && pairRtt === null && s.nominated === true && s.state === 'succeeded') {
      const rtt = num(s.currentRoundTripTime)
      if (rtt !== null) pairRtt = rtt * 1000
    } else if (s.type === 'remote-inbound-rtp') {
      const rtt = num(s.roundTripTime)
      if (rtt !== null) remoteRtt = rtt * 1000
    } else if (s.type === 'inbound-rtp' && (s.kind ?? s.mediaType) === 'audio') {
      const received = num(s.packetsReceived) ?? 0
      const lost = Math.max(0, num(s.packetsLost) ?? 0)
      const jitter = num(s.jitter)
      inbound.push({
        trackId: str(s.trackIdentifier),
        mid: str(s.mid),
        packetsReceived: received,
        packetsLost: lost,
        lossRate: received + lost > 0 ? lost / (received + lost) : 0,
        jitterMs: jitter === null ? null : jitter * 1000,
        bytesReceived: num(s.bytesReceived) ?? 0,
        audioLevel: num(s.audioLevel),
        fecPacketsReceived: num(s.fecPacketsReceived) ?? 0,
        concealedSamples: num(s.concealedSamples) ?? 0,
        ...codecOf(s),
      })
    } else if (s.type === 'outbound-rtp' && (s.kind ?? s.mediaType) === 'audio') {
      outbound.push({ mid: str(s.mid), packetsSent: num(s.packetsSent) ?? 0, bytesSent: num(s.bytesSent) ?? 0, targetBitrate: num(s.targetBitrate), ...codecOf(s) })
    }
  }
  if (!sawTransport) {
    for (const s of all) if (s.type === 'candidate-pair' && s.nominated === true) {
      bytesSent += num(s.bytesSent) ?? 0
      bytesReceived += num(s.bytesReceived) ?? 0
    }
  }
  const rec = inbound.reduce((a, s) => a + s.packetsReceived, 0)
  const lost = inbound.reduce((a, s) => a + s.packetsLost, 0)
  // A zero pair RTT on loopback is a real reading; prefer it over RTCP's coarser estimate.
  return { rttMs: pairRtt ?? remoteRtt, bytesSent, bytesReceived, packetLoss: rec + lost > 0 ? lost / (rec + lost) : 0, inbound, outbound }
}
