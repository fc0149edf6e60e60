/**
 * Node audio in and out of WebRTC tracks through @roamhq/wrtc's non-standard
 * RTCAudioSource / RTCAudioSink, plus a WAV file writer for recordings.
 *
 * Sources are paced in real time on a drift-free schedule (pacer.ts): frame k is due at
 * start + k·10 ms, computed from the start time, so timer lateness never accumulates; after a
 * long stall the backlog beyond `maxBurst` frames is skipped rather than flooding the receiver.
 * Sinks hand out 10 ms mono Int16 frames at 48 kHz whatever the track delivers (libwebrtc starts
 * at 16 kHz until the first packet is decoded, and may deliver stereo).
 *
 * The wrtc implementation, clock and timers are passed in. Stopping a source stops its track and
 * its timer; stopping a sink detaches it. Neither closes any peer connection.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { createTone, FRAME_SIZE, SAMPLE_RATE, type ToneOptions } from '../audio/tone.ts'
import { pace, type Pacer, type PacingOptions } from './pacer.ts'
import { createFramer, createResampler, downmix, type Resampler } from '../audio/pcm.ts'
import { createWavStreamEncoder, type PcmAudio, type PcmFormat } from '../audio/wav.ts'
import { CodedError } from '../base/errors.ts'

/** What @roamhq/wrtc's `onData` takes and its sink's `ondata` gives. */
export interface AudioData {
  samples: Int16Array
  sampleRate: number
  bitsPerSample?: number
  channelCount?: number
  numberOfFrames?: number
}

/** The part of @roamhq/wrtc used here (pass the module itself). */
export interface AudioWrtc {
  MediaStream: new (tracks?: MediaStreamTrack[]) => MediaStream
  nonstandard: {
    RTCAudioSource: new () => { createTrack(): MediaStreamTrack; onData(data: AudioData): void }
    RTCAudioSink: new (track: MediaStreamTrack) => { stop(): void; ondata: unknown }
  }
}

export type { PacingOptions } from './pacer.ts'

export interface AudioSourceHandle {
  track: MediaStreamTrack
  /** A stream holding `track`, for Peer.addTrack. */
  stream: MediaStream
  readonly framesSent: number
  readonly framesSkipped: number
  /** Stops pacing and the track. Idempotent. */
  stop(): void
}

/**
 * A source fed by `nextFrame()` (480 mono samples at 48 kHz) every 10 ms. `nextFrame` returning
 * null ends the source (its track is stopped, `onEnd` called).
 */
export function createFrameSource(wrtc: AudioWrtc, nextFrame: () => Int16Array | null, opts: PacingOptions & { onEnd?: () => void } = {}): AudioSourceHandle {
  const source = new wrtc.nonstandard.RTCAudioSource()
  const track = source.createTrack()
  const stream = new wrtc.MediaStream([track])
  let sent = 0
  let skipped = 0
  let stopped = false
  let pacer: Pacer | null = null
  const stop = () => {
    if (stopped) return
    stopped = true
    pacer?.stop()
    track.stop()
  }
  pacer = pace(opts, (skip) => {
    const samples = nextFrame()
    if (samples === null) {
      stop()
      opts.onEnd?.()
      return false
    }
    if (skip) {
      skipped++
      return true
    }
    if (samples.length !== FRAME_SIZE) throw new CodedError('frame-size-mismatch', `frame of ${samples.length} samples, expected ${FRAME_SIZE}`)
    source.onData({ samples, sampleRate: SAMPLE_RATE, bitsPerSample: 16, channelCount: 1, numberOfFrames: FRAME_SIZE })
    sent++
    return true
  })
  return {
    track,
    stream,
    get framesSent() {
      return sent
    },
    get framesSkipped() {
      return skipped
    },
    stop,
  }
}

/** A real-time sine source (see src/audio/tone.ts for the options). */
export function createToneSource(wrtc: AudioWrtc, opts: Omit<ToneOptions, 'sampleRate' | 'frameSize'> & PacingOptions): AudioSourceHandle {
  const tone = createTone({ freq: opts.freq, amplitude: opts.amplitude ?? 0.25 })
  return createFrameSource(wrtc, () => tone.next(), opts)
}

/** PCM (e.g. from decodeWav) as mono 48 kHz, padded to whole 10 ms frames. */
export function toFrames(audio: PcmAudio): Int16Array {
  let mono = downmix(audio.samples, audio.channels)
  if (audio.sampleRate !== SAMPLE_RATE) mono = createResampler(audio.sampleRate, SAMPLE_RATE).push(mono)
  const padded = new Int16Array(Math.ceil(mono.length / FRAME_SIZE) * FRAME_SIZE)
  padded.set(mono)
  return padded
}

/** A source playing PCM samples once (then ending) or in a loop. */
export function createPcmSource(wrtc: AudioWrtc, audio: PcmAudio, opts: PacingOptions & { loop?: boolean; onEnd?: () => void } = {}): AudioSourceHandle {
  const pcm = toFrames(audio)
  if (pcm.length === 0) throw new CodedError('empty-audio', 'no samples')
  let pos = 0
  return createFrameSource(
    wrtc,
    () => {
      if (pos >= pcm.length) {
        if (!opts.loop) return null
        pos = 0
      }
      const frame = pcm.slice(pos, pos + FRAME_SIZE)
      pos += FRAME_SIZE
      return frame
    },
    opts,
  )
}

/**
 * Receives a remote audio track as 10 ms frames (480 mono Int16 samples at 48 kHz), downmixing
 * and resampling as needed. Returns `stop()` (idempotent).
 */
export function attachSink(wrtc: AudioWrtc, track: MediaStreamTrack, onFrame: (frame: Int16Array) => void): () => void {
  const sink = new wrtc.nonstandard.RTCAudioSink(track)
  const framer = createFramer(FRAME_SIZE)
  let resampler: Resampler | null = null
  let stopped = false
  sink.ondata = (d: AudioData) => {
    if (stopped) return
    let mono = downmix(d.samples, d.channelCount ?? 1)
    if (d.sampleRate !== SAMPLE_RATE) {
      if (resampler?.from !== d.sampleRate) resampler = createResampler(d.sampleRate, SAMPLE_RATE)
      mono = resampler.push(mono)
    } else {
      resampler = null
    }
    for (const frame of framer.push(mono)) onFrame(frame)
  }
  return () => {
    if (stopped) return
    stopped = true
    sink.ondata = null
    sink.stop()
  }
}

export interface WavFileWriter {
  /** Queues samples (interleaved if stereo) for appending. */
  write(samples: Int16Array): void
  /** Flushes, writes the final header, closes the file. Idempotent. */
  close(): Promise<void>
  readonly dataBytes: number
}

/** Writes a WAV file incrementally; the header gets its real sizes on close(). */
export async function createWavFileWriter(path: string, format: PcmFormat): Promise<WavFileWriter> {
  const enc = createWavStreamEncoder(format)
  const fh: FileHandle = await open(path, 'w')
  let chain: Promise<unknown> = fh.write(enc.start())
  let failure: unknown = null
  let closing: Promise<void> | null = null
  const track = (p: Promise<unknown>) => {
    chain = p.catch((err: unknown) => {
      failure ??= err // reported by close()
    })
  }
  track(chain)
  return {
    get dataBytes() {
      return enc.dataBytes
    },
    write(samples) {
      if (closing) throw new CodedError('writer-closed', 'writer closed')
      const bytes = enc.append(samples)
      track(chain.then(() => fh.write(bytes)))
    },
    close() {
      closing ??= (async () => {
        await chain
        const { offset, header } = enc.finish()
        try {
          if (failure === null) await fh.write(header, 0, header.length, offset)
        } finally {
          await fh.close()
        }
        if (failure !== null) throw failure
      })()
      return closing
    },
  }
}
