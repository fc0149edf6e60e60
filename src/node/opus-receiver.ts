/**
 * The receiving half of the Node media path, after RTP: Opus packets in (through an optional
 * per-frame transform, end-to-end decryption), a jitter buffer, and 10 ms PCM frames out (480
 * mono samples at 48 kHz, what the headless peer's mixer and recorder take).
 *
 * Invariants:
 * - Bytes from the network never throw. A packet is dropped and counted by reason: the
 *   transform refused it (`transform`: it failed to decrypt or authenticate, so it is never
 *   played) or threw (`transformError`), it is no Opus packet (`malformed`), it has another
 *   payload type than the one negotiated (`payloadType`), it came after its time (`late`) or
 *   twice (`duplicate`), or libopus refused it (`decode`, concealed instead).
 * - `pull()` always returns a frame: decoded audio, FEC-rebuilt or concealed audio for a lost
 *   packet, or silence while buffering or when the sender is silent.
 * - A new SSRC is a new source: jitter buffer and decoder start over.
 */
import type { FrameTransform } from './opus-sender.ts'
import type { OpusDecoder, OpusRuntime } from './opus-codec.ts'
import { JitterBuffer, type JitterOptions, type PlayoutUnit } from './jitter-buffer.ts'
import { opusPacketSamples } from './opus-packet.ts'

export interface IncomingPacket {
  payload: Uint8Array
  timestamp: number
  ssrc: number
  payloadType?: number
}

export type ReceiveDropReason = 'transform' | 'transformError' | 'malformed' | 'payloadType' | 'late' | 'duplicate' | 'decode'

export interface OpusReceiverOptions {
  opus: OpusRuntime
  transform?: FrameTransform
  jitter?: JitterOptions
  /** Accept only this RTP payload type (the negotiated Opus one). Default: any. */
  payloadType?: number
}

export interface OpusReceiverStats {
  packets: number
  bytes: number
  dropped: Record<ReceiveDropReason, number>
  /** Lost packets rebuilt from in-band FEC. */
  fec: number
  /** Packet lengths concealed (loss, underrun, delay growth). */
  concealed: number
  /** 10 ms frames handed out, and how many of them were silence (nothing to play). */
  frames: number
  silentFrames: number
  /** New sources (SSRC changes, timestamp jumps). */
  resets: number
  /** Time spent decoding, ms. */
  decodeMs: number
  depthMs: number
  targetMs: number
}

const FRAME = 480

export class OpusReceiver {
  readonly #opts: OpusReceiverOptions
  #decoder: OpusDecoder
  #jitter: JitterBuffer
  #ssrc: number | null = null
  #pcm = new Int16Array(0)
  #destroyed = false
  #resets = 0
  /** Counters of buffers and decoders already replaced by a new source. */
  #before = { fec: 0, concealed: 0, resets: 0 }
  readonly #stats = {
    packets: 0,
    bytes: 0,
    dropped: { transform: 0, transformError: 0, malformed: 0, payloadType: 0, late: 0, duplicate: 0, decode: 0 } as Record<ReceiveDropReason, number>,
    frames: 0,
    silentFrames: 0,
    decodeMs: 0,
  }

  constructor(opts: OpusReceiverOptions) {
    this.#opts = opts
    this.#decoder = opts.opus.createDecoder()
    this.#jitter = new JitterBuffer(opts.jitter)
  }

  get stats(): OpusReceiverStats {
    const j = this.#jitter.stats
    return {
      ...this.#stats,
      dropped: { ...this.#stats.dropped },
      fec: this.#before.fec + j.fec,
      concealed: this.#before.concealed + j.concealed,
      resets: this.#resets + this.#before.resets + j.resets,
      depthMs: this.#jitter.depthMs,
      targetMs: j.targetMs,
    }
  }

  /** Takes one RTP packet's payload. Never throws. */
  receive(p: IncomingPacket): void {
    if (this.#destroyed) return
    this.#stats.packets++
    this.#stats.bytes += p.payload.length
    if (this.#opts.payloadType !== undefined && p.payloadType !== undefined && p.payloadType !== this.#opts.payloadType) return this.#drop('payloadType')
    const transform = this.#opts.transform
    if (!transform) return this.#accept(p, p.payload)
    Promise.resolve()
      .then(() => transform(p.payload))
      .then(
        (out) => (out ? this.#accept(p, out) : this.#drop('transform')),
        (err: unknown) => {
          void err // a transform that throws on hostile bytes is a refusal like any other
          this.#drop('transformError')
        },
      )
  }

  /** The next 10 ms to play (480 samples). */
  pull(): Int16Array {
    while (this.#pcm.length < FRAME && !this.#destroyed) {
      const unit = this.#jitter.next()
      if (!unit) break
      const decoded = this.#decode(unit)
      const joined = new Int16Array(this.#pcm.length + decoded.length)
      joined.set(this.#pcm)
      joined.set(decoded, this.#pcm.length)
      this.#pcm = joined
    }
    this.#stats.frames++
    if (this.#pcm.length === 0) {
      this.#stats.silentFrames++
      return new Int16Array(FRAME)
    }
    const frame = new Int16Array(FRAME)
    frame.set(this.#pcm.subarray(0, FRAME))
    this.#pcm = this.#pcm.slice(Math.min(FRAME, this.#pcm.length))
    return frame
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#decoder.destroy()
  }

  #accept(p: IncomingPacket, payload: Uint8Array): void {
    if (this.#destroyed) return
    const samples = opusPacketSamples(payload)
    if (samples === null) return this.#drop('malformed')
    if (this.#ssrc !== p.ssrc) this.#newSource(p.ssrc)
    const result = this.#jitter.push({ timestamp: p.timestamp, payload, samples })
    if (result !== 'queued') this.#drop(result)
  }

  #newSource(ssrc: number): void {
    if (this.#ssrc !== null) {
      const j = this.#jitter.stats
      this.#before = { fec: this.#before.fec + j.fec, concealed: this.#before.concealed + j.concealed, resets: this.#before.resets + j.resets }
      this.#resets++
      this.#jitter = new JitterBuffer(this.#opts.jitter)
      this.#decoder.destroy()
      this.#decoder = this.#opts.opus.createDecoder()
      this.#pcm = new Int16Array(0)
    }
    this.#ssrc = ssrc
  }

  #decode(unit: PlayoutUnit): Int16Array {
    const started = performance.now()
    let pcm: Int16Array | null
    if (unit.kind === 'conceal') pcm = this.#decoder.conceal(unit.samples)
    else {
      pcm = unit.kind === 'packet' ? this.#decoder.decode(unit.payload) : this.#decoder.decodeFec(unit.payload, unit.samples)
      if (!pcm) {
        this.#drop('decode')
        pcm = this.#decoder.conceal(unit.samples)
      }
    }
    this.#stats.decodeMs += performance.now() - started
    return pcm
  }

  #drop(reason: ReceiveDropReason): void {
    this.#stats.dropped[reason]++
  }
}
