/**
 * The part of @roamhq/wrtc's module shape the headless peer uses (`RTCPeerConnection` for the
 * mesh `Peer` and the relay client; `MediaStream` and `nonstandard.RTCAudioSource/Sink` for
 * audio-io.ts) made of werift and our own Opus path (werift-audio.ts). Passing this object where
 * the wrtc module went moves a participant onto werift with no other change, and puts every Opus
 * payload through the `transform` hooks (end-to-end encryption).
 *
 * Departures from libwebrtc, and why:
 * - Offers and answers are werift's own: werift refuses a description that differs from the
 *   one it created, so an edited one (opus.ts's fmtp munging) is replaced by the original,
 *   which already carries the same voice settings (`weriftOpus()`).
 * - The audio source takes what audio-io.ts gives it, 10 ms of 48 kHz mono; frames of any other
 *   shape are counted and dropped (`badFrames`). A disabled track (`enabled = false`) sends
 *   silence, which DTX then reduces to a packet every 400 ms.
 * - ICE roles stay as the first exchange set them (werift would flip them on renegotiation).
 * - A receiving track is announced ('track') once, and again only with another stream id or
 *   after its transceiver stopped receiving; werift fires it at every negotiation.
 * - The sink hands out a 10 ms frame every 10 ms from its own clock (silence until audio comes),
 *   as libwebrtc's playout does.
 *
 * Everything is passed in or made per object (no module state): one Opus runtime per call.
 */
import { MediaStream, type MediaStreamTrack, type RTCPeerConnectionConfig } from 'werift'
import type { AudioData, AudioWrtc } from './audio-io.ts'
import { loadOpus, type OpusEncoderOptions, type OpusRuntime } from './opus-codec.ts'
import type { JitterOptions } from './jitter-buffer.ts'
import type { OpusReceiverStats } from './opus-receiver.ts'
import type { OpusSenderStats } from './opus-sender.ts'
import { attachWeriftSink, createOpusTrack, type FrameTransform, type OpusTrack, type WeriftSinkHandle } from './werift-audio.ts'
import { weriftPeerConnection } from './werift-peer-connection.ts'

/** Per-frame payload hooks: `receiveFor` gives each remote track its own (SFrame opens per sender), else `receive` for all. */
export interface MediaTransforms {
  send?: FrameTransform
  receive?: FrameTransform
  receiveFor?: (track: MediaStreamTrack) => FrameTransform
}

export interface WeriftWrtcOptions {
  /** Default: a runtime of its own. */
  opus?: OpusRuntime
  transform?: MediaTransforms
  /** werift settings (ICE addresses, ports) for every connection, e.g. loopback for tests. */
  config?: Partial<RTCPeerConnectionConfig>
  encoder?: OpusEncoderOptions
  jitter?: JitterOptions
}

export interface WeriftMediaStats {
  sources: OpusSenderStats[]
  sinks: OpusReceiverStats[]
  /** Source frames that were not 10 ms of 48 kHz mono. */
  badFrames: number
}

/** What audio-io.ts, the mesh Peer and the relay client take as "wrtc". */
export interface WeriftWrtc extends AudioWrtc {
  RTCPeerConnection: new (config?: RTCConfiguration) => RTCPeerConnection
  /** Live sources and sinks (stopped ones leave). */
  stats(): WeriftMediaStats
}

const SILENCE = new Int16Array(480)

export function createWeriftWrtc(opts: WeriftWrtcOptions = {}): WeriftWrtc {
  const opus = opts.opus ?? loadOpus()
  const sources = new Set<OpusTrack>()
  const sinks = new Set<WeriftSinkHandle>()
  let badFrames = 0

  class RTCAudioSource {
    #out: OpusTrack | null = null
    createTrack(): MediaStreamTrack {
      const out = createOpusTrack({ opus, ...(opts.encoder ? { encoder: opts.encoder } : {}), ...(opts.transform?.send ? { transform: opts.transform.send } : {}) })
      sources.add(out)
      out.track.once('ended', () => sources.delete(out))
      this.#out = out
      return out.track
    }
    onData(d: AudioData): void {
      if (d.sampleRate !== 48_000 || (d.channelCount ?? 1) !== 1 || d.samples.length !== 480) {
        badFrames++
        return
      }
      const out = this.#out
      if (!out) return
      out.push(out.track.enabled ? d.samples : SILENCE) // a disabled track sends silence (then DTX), as in libwebrtc
    }
  }

  class RTCAudioSink {
    ondata: ((d: AudioData) => void) | null = null
    readonly #handle: WeriftSinkHandle
    constructor(track: MediaStreamTrack) {
      const receive = opts.transform?.receiveFor?.(track) ?? opts.transform?.receive
      this.#handle = attachWeriftSink(track, (samples) => this.ondata?.({ samples, sampleRate: 48_000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 }), {
        opus,
        ...(receive ? { transform: receive } : {}),
        ...(opts.jitter ? { jitter: opts.jitter } : {}),
      })
      sinks.add(this.#handle)
    }
    stop(): void {
      this.#handle.stop()
      sinks.delete(this.#handle)
    }
  }

  return {
    RTCPeerConnection: weriftPeerConnection(opts.config ?? {}) as unknown as WeriftWrtc['RTCPeerConnection'],
    MediaStream: MediaStream as unknown as AudioWrtc['MediaStream'],
    nonstandard: {
      RTCAudioSource: RTCAudioSource as unknown as AudioWrtc['nonstandard']['RTCAudioSource'],
      RTCAudioSink: RTCAudioSink as unknown as AudioWrtc['nonstandard']['RTCAudioSink'],
    },
    stats: () => ({ sources: [...sources].map((s) => s.stats), sinks: [...sinks].map((s) => s.stats), badFrames }),
  }
}
