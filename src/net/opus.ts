/**
 * Opus voice settings applied by rewriting the `a=fmtp` line of every Opus payload type in an
 * SDP, plus `a=ptime` in its media section.
 *
 * Why munge the *local* description: Opus fmtp parameters describe what the side that wrote them
 * wants to *receive* (RFC 7587 §6.1); libwebrtc configures its encoder from the remote
 * description. Both peers munge what they send, so each direction gets the settings.
 *
 * Defaults (`VOICE_OPUS`), chosen for a room of talking people:
 * - mono (`stereo=0; sprop-stereo=0`): voice gains nothing from stereo; halves encoder work.
 * - 32 kbps (`maxaveragebitrate=32000`): Opus fullband speech is near transparent from about
 *   24 kbps; 32k leaves room for in-band FEC (LBRR frames cost bits when loss is reported) while
 *   a speaker in a mesh of 8 still sends only ~7 × (32 + ~20 kbps IP/UDP/SRTP overhead at 50
 *   packets/s) ≈ 360 kbps up.
 * - DTX (`usedtx=1`): during silence the encoder sends a comfort-noise frame every 400 ms instead
 *   of 50 packets/s; most of a room is silent most of the time.
 * - in-band FEC (`useinbandfec=1`): a low-rate copy of the previous frame rides in each packet,
 *   so single losses are repaired without retransmission delay.
 * - ptime 20: Opus' and WebRTC's default; 10 ms would double header overhead, 40-60 ms add
 *   latency and make each loss a longer gap.
 *
 * Pure string functions; no other SDP lines are touched and line endings are preserved.
 */
import { CodedError } from '../base/errors.ts'

export interface OpusParams {
  /** Target average bitrate in bit/s (RFC 7587 allows 6000..510000). */
  maxAverageBitrate: number
  stereo: boolean
  dtx: boolean
  fec: boolean
  /** Packet duration in ms (`a=ptime`). */
  ptimeMs: number
}

export const VOICE_OPUS: Readonly<OpusParams> = Object.freeze({ maxAverageBitrate: 32_000, stereo: false, dtx: true, fec: true, ptimeMs: 20 })

/** Parses `a=fmtp` parameters (`k=v;k2=v2`) into ordered pairs. */
export function parseFmtp(params: string): Array<[string, string]> {
  return params
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => {
      const eq = p.indexOf('=')
      return eq < 0 ? [p, ''] : [p.slice(0, eq).trim(), p.slice(eq + 1).trim()]
    })
}

function formatFmtp(pairs: Array<[string, string]>): string {
  return pairs.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(';')
}

/** Params as the fmtp keys they become. */
export function opusFmtpParams(p: OpusParams): Array<[string, string]> {
  return [
    ['stereo', p.stereo ? '1' : '0'],
    ['sprop-stereo', p.stereo ? '1' : '0'],
    ['usedtx', p.dtx ? '1' : '0'],
    ['useinbandfec', p.fec ? '1' : '0'],
    ['maxaveragebitrate', String(p.maxAverageBitrate)],
  ]
}

/**
 * Returns `sdp` with Opus configured per `params` (merged over `VOICE_OPUS`). Existing fmtp keys
 * are updated in place, missing ones appended, a missing fmtp line is created after the rtpmap.
 * SDP without Opus is returned unchanged.
 */
export function mungeOpus(sdp: string, params: Partial<OpusParams> = {}): string {
  const p: OpusParams = { ...VOICE_OPUS, ...params }
  if (!Number.isInteger(p.maxAverageBitrate) || p.maxAverageBitrate < 6000 || p.maxAverageBitrate > 510000) throw new CodedError('invalid-opus-params', 'maxAverageBitrate must be an integer in 6000..510000')
  if (![10, 20, 40, 60].includes(p.ptimeMs)) throw new CodedError('invalid-opus-params', 'ptimeMs must be 10, 20, 40 or 60')
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n'
  const trailing = sdp.endsWith(eol)
  const lines = (trailing ? sdp.slice(0, -eol.length) : sdp).split(eol)
  const wanted = opusFmtpParams(p)

  // Split into sections: [session, m-section, m-section, ...].
  const sections: string[][] = [[]]
  for (const line of lines) {
    if (line.startsWith('m=')) sections.push([])
    sections[sections.length - 1]?.push(line)
  }
  const out = sections.map((sec, i) => (i === 0 ? sec : mungeSection(sec, wanted, p.ptimeMs)))
  return out.flat().join(eol) + (trailing ? eol : '')
}

function mungeSection(lines: string[], wanted: Array<[string, string]>, ptimeMs: number): string[] {
  if (!lines[0]?.startsWith('m=audio')) return lines
  const pts = new Set<string>()
  for (const l of lines) {
    const m = /^a=rtpmap:(\d+) opus\/48000(?:\/\d+)?$/i.exec(l)
    if (m?.[1]) pts.add(m[1])
  }
  if (pts.size === 0) return lines
  const result: string[] = []
  const hasFmtp = new Set<string>()
  for (const l of lines) {
    const m = /^a=fmtp:(\d+) (.*)$/.exec(l)
    if (m?.[1] && m[2] !== undefined && pts.has(m[1])) {
      hasFmtp.add(m[1])
      const pairs = parseFmtp(m[2])
      for (const [k, v] of wanted) {
        const at = pairs.find(([key]) => key.toLowerCase() === k)
        if (at) at[1] = v
        else pairs.push([k, v])
      }
      result.push(`a=fmtp:${m[1]} ${formatFmtp(pairs)}`)
    } else if (/^a=ptime:/.test(l)) {
      continue // re-added below, once
    } else {
      result.push(l)
    }
  }
  for (const pt of pts) {
    if (hasFmtp.has(pt)) continue
    const at = result.findIndex((l) => l.startsWith(`a=rtpmap:${pt} `))
    result.splice(at + 1, 0, `a=fmtp:${pt} ${formatFmtp(wanted)}`)
  }
  result.push(`a=ptime:${ptimeMs}`)
  return result
}

/** Reads back the fmtp parameters of the first Opus payload type (for tests and stats). */
export function readOpusFmtp(sdp: string): Record<string, string> | null {
  const pt = /a=rtpmap:(\d+) opus\/48000/i.exec(sdp)?.[1]
  if (!pt) return null
  const line = new RegExp(`a=fmtp:${pt} ([^\\r\\n]*)`).exec(sdp)?.[1]
  return line === undefined ? {} : Object.fromEntries(parseFmtp(line))
}
