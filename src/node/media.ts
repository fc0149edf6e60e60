/**
 * The media implementation of a Node participant, one object for both uses of "wrtc": the
 * RTCPeerConnection class of the mesh and the relay client (PeerWrtc), and the audio source and
 * sink classes of audio-io.ts (AudioWrtc).
 *
 * - 'wrtc': @roamhq/wrtc (libwebrtc) as given. Opus is encoded inside libwebrtc, out of reach.
 * - 'werift': werift connections with Opus in our hands (werift-wrtc.ts), so every payload can
 *   be transformed (end-to-end encryption). With `loopbackOnly` it also gathers 127.0.0.1,
 *   which werift leaves out by default.
 */
import type { PeerWrtc } from '../net/peer.ts'
import type { AudioWrtc } from './audio-io.ts'
import { createWeriftWrtc, type MediaTransforms, type WeriftMediaStats } from './werift-wrtc.ts'

export type MediaKind = 'wrtc' | 'werift'
export const MEDIA_KINDS: readonly MediaKind[] = ['wrtc', 'werift']

export interface Media extends PeerWrtc, AudioWrtc {
  readonly kind: MediaKind
  /** Per-stream Opus counters (werift only: libwebrtc's are in getStats). */
  stats(): WeriftMediaStats | null
}

export interface MediaOptions {
  kind: MediaKind
  /** The @roamhq/wrtc module (used for 'wrtc'). */
  wrtc: PeerWrtc & AudioWrtc
  loopbackOnly?: boolean
  /** Per-frame payload transforms ('werift' only). */
  transform?: MediaTransforms
}

export function openMedia(opts: MediaOptions): Media {
  if (opts.kind === 'wrtc') {
    const { RTCPeerConnection, MediaStream, nonstandard } = opts.wrtc
    return { RTCPeerConnection, MediaStream, nonstandard, kind: 'wrtc', stats: () => null }
  }
  const werift = createWeriftWrtc({
    ...(opts.loopbackOnly ? { config: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false } } : {}),
    ...(opts.transform ? { transform: opts.transform } : {}),
  })
  return { ...werift, kind: 'werift', stats: () => werift.stats() }
}
