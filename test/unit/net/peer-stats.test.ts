import { describe, expect, it } from 'vitest'
import { summarizeStats } from '../../../src/net/peer-stats.ts'

describe('summarizeStats', () => {
  it('reads RTT from the selected pair, jitter and loss from inbound audio, bytes from transport', () => {
    const s = summarizeStats([
      { id: 'T', type: 'transport', bytesSent: 1000, bytesReceived: 2000, selectedCandidatePairId: 'P' },
      { id: 'P', type: 'candidate-pair', currentRoundTripTime: 0.012, nominated: true, state: 'succeeded' },
      { id: 'I', type: 'inbound-rtp', kind: 'audio', trackIdentifier: 't1', mid: '0', packetsReceived: 95, packetsLost: 5, jitter: 0.004, bytesReceived: 9000, audioLevel: 0.2, codecId: 'C' },
      { id: 'C', type: 'codec', mimeType: 'audio/opus', sdpFmtpLine: 'usedtx=1' },
      { id: 'O', type: 'outbound-rtp', kind: 'audio', mid: '0', packetsSent: 50, bytesSent: 4000, targetBitrate: 32000 },
      { id: 'R', type: 'remote-inbound-rtp', roundTripTime: 0.5 },
      { id: 'V', type: 'inbound-rtp', kind: 'video', packetsReceived: 1, packetsLost: 1 },
    ])
    expect(s.rttMs).toBeCloseTo(12)
    expect(s.bytesSent).toBe(1000)
    expect(s.bytesReceived).toBe(2000)
    expect(s.packetLoss).toBeCloseTo(0.05)
    expect(s.inbound).toEqual([
      { trackId: 't1', mid: '0', packetsReceived: 95, packetsLost: 5, lossRate: 0.05, jitterMs: 4, bytesReceived: 9000, audioLevel: 0.2, fecPacketsReceived: 0, concealedSamples: 0, mimeType: 'audio/opus', sdpFmtpLine: 'usedtx=1' },
    ])
    expect(s.outbound).toEqual([{ mid: '0', packetsSent: 50, bytesSent: 4000, targetBitrate: 32000, mimeType: null, sdpFmtpLine: null }])
  })

  it('falls back to RTCP RTT and nominated-pair bytes; empty report is all zero/null, never NaN', () => {
    const s = summarizeStats([
      { id: 'P', type: 'candidate-pair', nominated: true, state: 'in-progress', bytesSent: 7, bytesReceived: 9 },
      { id: 'R', type: 'remote-inbound-rtp', roundTripTime: 0.03 },
      { id: 'I', type: 'inbound-rtp', mediaType: 'audio', jitter: 'x', packetsLost: -3 },
      null,
      7,
    ])
    expect(s.rttMs).toBeCloseTo(30)
    expect([s.bytesSent, s.bytesReceived]).toEqual([7, 9])
    expect(s.inbound[0]?.jitterMs).toBeNull()
    expect(s.inbound[0]?.packetsLost).toBe(0)
    expect(summarizeStats([])).toEqual({ rttMs: null, bytesSent: 0, bytesReceived: 0, packetLoss: 0, inbound: [], outbound: [] })
  })
})
