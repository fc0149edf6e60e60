/**
 * Audio over werift RTCPeerConnections with the Opus payloads in our hands, so each frame can be
 * transformed (end-to-end encrypted) on its way: the headless peer's alternative to
 * @roamhq/wrtc, which encodes inside libwebrtc and exposes no encoded-frame hook.
 *
 * - A source paces 10 ms PCM frames in real time (pacer.ts), encodes them (opus-sender.ts) and
 *   writes one RTP packet per Opus packet to a werift track: seq numbers consecutive over the
 *   packets sent, timestamps over the audio encoded (DTX and dropped packets are gaps).
 * - A sink takes a remote werift track's RTP, decodes it through a jitter buffer with FEC and
 *   concealment (opus-receiver.ts) and hands out a 10 ms frame every 10 ms on its own clock,
 *   like @roamhq/wrtc's RTCAudioSink does from libwebrtc's playout clock.
 * - `weriftAudioConfig` is the peer connection configuration both ends need: Opus only, with
 *   the fmtp of VOICE_OPUS (src/net/opus.ts), so libwebrtc peers send what we expect.
 *
 * The Opus runtime, transforms, clock and timers are passed in. Stopping a source stops its track
 * and frees its encoder; stopping a sink unsubscribes and frees its decoder. Neither closes any
 * peer connection.
 */
import { randomInt } from 'node:crypto'
import { MediaStream, MediaStreamTrack, RtpHeader, RtpPacket, useOPUS, type RTCPeerConnectionConfig } from 'werift'
import { opusFmtpParams, VOICE_OPUS } from '../net/opus.ts'
import { OpusSender, type FrameTransform, type OpusSenderStats } from './opus-sender.ts'
import { OpusReceiver, type OpusReceiverStats } from './opus-receiver.ts'
import type { OpusEncoderOptions, OpusRuntime } from './opus-codec.ts'
import type { JitterOptions } from './jitter-buffer.ts'
import { pace, type Pacer, type PacingOptions } from './pacer.ts'

export type { FrameTransform } from './opus-sender.ts'

/** Opus with the voice settings of src/net/opus.ts, as werift writes it in its SDP. */
export function weriftOpus(): ReturnType<typeof useOPUS> {
  const fmtp = [['minptime', '10'], ...opusFmtpParams(VOICE_OPUS)].map(([k, v]) => `${k}=${v}`).join(';')
  return useOPUS({ parameters: fmtp })
}

/** werift configuration for an audio-only connection carrying Opus, merged over by `extra`. */
export function weriftAudioConfig(extra: Partial<RTCPeerConnectionConfig> = {}): Partial<RTCPeerConnectionConfig> {
  return { iceServers: [], bundlePolicy: 'max-bundle', ...extra, codecs: { audio: [weriftOpus()], video: [] } }
}

export interface OpusTrackOptions {
  opus: OpusRuntime
  encoder?: OpusEncoderOptions
  /** Applied to every Opus payload before it is sent (e.g. SFrame encryption). */
  transform?: FrameTransform
  ptimeMs?: 10 | 20
}

export interface OpusTrack {
  /** A local werift track: add it to any number of werift connections. */
  track: MediaStreamTrack
  /** Takes the next 10 ms frame (480 mono samples at 48 kHz), in real time. */
  push(frame: Int16Array): void
  readonly stats: OpusSenderStats
  /** Stops the track and frees the encoder. Idempotent. */
  stop(): void
}

/**
 * A werift track fed with PCM: each Opus packet becomes one RTP packet, sequence numbers
 * consecutive over the packets sent (RFC 3550), timestamps over the audio encoded.
 */
export function createOpusTrack(opts: OpusTrackOptions): OpusTrack {
  const track = new MediaStreamTrack({ kind: 'audio' })
  let seq = randomInt(0, 0x10000)
  const sender = new OpusSender({
    opus: opts.opus,
    ...(opts.encoder ? { encoder: opts.encoder } : {}),
    ...(opts.transform ? { transform: opts.transform } : {}),
    ...(opts.ptimeMs ? { ptimeMs: opts.ptimeMs } : {}),
    onPacket: (p) => {
      if (track.stopped) return
      const header = new RtpHeader({ sequenceNumber: seq, timestamp: p.timestamp, marker: p.marker, payloadType: 111 })
      seq = (seq + 1) & 0xffff
      track.writeRtp(new RtpPacket(header, Buffer.from(p.payload.buffer, p.payload.byteOffset, p.payload.byteLength)))
    },
  })
  // Whoever stops the track (a caller holding only the track, like Peer users) frees the encoder.
  track.once('ended', () => sender.destroy())
  return {
    track,
    push: (frame) => {
      if (!track.stopped) sender.push(frame)
    },
    get stats() {
      return sender.stats
    },
    stop: () => {
      if (!track.stopped) track.stop()
      sender.destroy()
    },
  }
}

export interface WeriftSourceOptions extends PacingOptions, OpusTrackOptions {
  onEnd?: () => void
}

export interface WeriftSourceHandle {
  track: MediaStreamTrack
  stream: MediaStream
  readonly stats: OpusSenderStats & { framesSkipped: number }
  /** Stops pacing, the track and the encoder. Idempotent. */
  stop(): void
}

/**
 * A source fed by `nextFrame()` (480 mono samples at 48 kHz) every 10 ms, sent as Opus RTP on
 * `track`. `nextFrame` returning null ends it.
 */
export function createWeriftFrameSource(nextFrame: () => Int16Array | null, opts: WeriftSourceOptions): WeriftSourceHandle {
  const out = createOpusTrack(opts)
  const stream = new MediaStream([out.track])
  let stopped = false
  let pacer: Pacer | null = null
  const stop = (): void => {
    if (stopped) return
    stopped = true
    pacer?.stop()
    out.stop()
  }
  pacer = pace(opts, (skip) => {
    const frame = nextFrame()
    if (frame === null) {
      stop()
      opts.onEnd?.()
      return false
    }
    if (!skip) out.push(frame)
    return true
  })
  return {
    track: out.track,
    stream,
    get stats() {
      return { ...out.stats, framesSkipped: pacer?.skipped ?? 0 }
    },
    stop,
  }
}

export interface WeriftSinkOptions extends PacingOptions {
  opus: OpusRuntime
  /** Applied to every received payload before decoding (e.g. SFrame decryption); null drops it. */
  transform?: FrameTransform
  jitter?: JitterOptions
}

export interface WeriftSinkHandle {
  readonly stats: OpusReceiverStats
  /** Unsubscribes, stops the clock, frees the decoder. Idempotent. */
  stop(): void
}

/**
 * Receives a remote werift audio track as 10 ms frames (480 mono Int16 samples at 48 kHz), one
 * every 10 ms from the moment of attaching (silence until audio arrives).
 */
export function attachWeriftSink(track: MediaStreamTrack, onFrame: (frame: Int16Array) => void, opts: WeriftSinkOptions): WeriftSinkHandle {
  const receiver = new OpusReceiver({
    opus: opts.opus,
    ...(opts.transform ? { transform: opts.transform } : {}),
    ...(opts.jitter ? { jitter: opts.jitter } : {}),
  })
  const sub = track.onReceiveRtp.subscribe((rtp) => {
    const h = rtp.header
    receiver.receive({ payload: rtp.payload, timestamp: h.timestamp, ssrc: h.ssrc, payloadType: h.payloadType })
  })
  let stopped = false
  const pacer = pace({ maxBurst: 20, ...opts }, (skip) => {
    const frame = receiver.pull()
    if (!skip && !stopped) onFrame(frame)
    return !stopped
  })
  return {
    get stats() {
      return receiver.stats
    },
    stop() {
      if (stopped) return
      stopped = true
      sub.unSubscribe()
      pacer.stop()
      receiver.destroy()
    },
  }
}
