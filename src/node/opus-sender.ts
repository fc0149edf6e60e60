/**
 * The sending half of the Node media path, before RTP: 10 ms PCM frames in (480 mono samples at
 * 48 kHz, what the headless peer's sources produce), Opus packets out, each passed through an
 * optional per-frame transform (end-to-end encryption) on its way.
 *
 * Invariants:
 * - Two 10 ms frames make one 20 ms packet (or one per frame with `ptimeMs: 10`); the RTP
 *   timestamp counts samples from a random start (RFC 3550) and advances for every packet
 *   encoded, sent or not, so the receiver sees losses and DTX pauses as timestamp gaps.
 * - DTX: a packet of 1-2 bytes is silence and is not sent; the first packet after one carries
 *   the RTP marker (start of a talkspurt, RFC 7587 §4.2 / RFC 3551).
 * - Transforms run concurrently but packets leave in encoding order: each waits for the one
 *   before it. A transform that answers null or throws drops that packet, counted.
 * - `destroy()` frees the encoder; packets still in a transform are dropped.
 */
import { randomInt } from 'node:crypto'
import { CodedError } from '../base/errors.ts'
import type { OpusEncoder, OpusEncoderOptions, OpusRuntime } from './opus-codec.ts'

/** A per-frame payload transform (SFrame encrypt or decrypt): the new payload, or null to drop it. */
export type FrameTransform = (payload: Uint8Array) => Promise<Uint8Array | null>

export interface OutgoingPacket {
  payload: Uint8Array
  /** RTP timestamp (48 kHz), already wrapped to 32 bits. */
  timestamp: number
  marker: boolean
}

export interface OpusSenderOptions {
  opus: OpusRuntime
  encoder?: OpusEncoderOptions
  /** Packet duration: 10 or 20 ms. Default 20. */
  ptimeMs?: 10 | 20
  transform?: FrameTransform
  onPacket: (packet: OutgoingPacket) => void
}

export interface OpusSenderStats {
  frames: number
  packets: number
  bytes: number
  /** Packets of DTX silence, not sent. */
  dtx: number
  /** Packets the transform refused (null) or failed on, and packets `onPacket` threw on. */
  dropped: { transform: number; transformError: number; sendError: number }
  /** Time spent encoding, ms (CPU cost of this stream's encoder). */
  encodeMs: number
}

const FRAME = 480

export class OpusSender {
  readonly #opts: OpusSenderOptions
  readonly #encoder: OpusEncoder
  readonly #perPacket: number
  #pending: Int16Array[] = []
  #timestamp = randomInt(0, 2 ** 32)
  #talking = false
  #order: Promise<void> = Promise.resolve()
  #destroyed = false
  readonly stats: OpusSenderStats = { frames: 0, packets: 0, bytes: 0, dtx: 0, dropped: { transform: 0, transformError: 0, sendError: 0 }, encodeMs: 0 }

  constructor(opts: OpusSenderOptions) {
    this.#opts = opts
    this.#perPacket = (opts.ptimeMs ?? 20) / 10
    if (this.#perPacket !== 1 && this.#perPacket !== 2) throw new CodedError('bad-ptime', 'ptimeMs must be 10 or 20')
    this.#encoder = opts.opus.createEncoder(opts.encoder)
  }

  /** Takes one 10 ms frame (480 samples). */
  push(frame: Int16Array): void {
    if (this.#destroyed) return
    if (frame.length !== FRAME) throw new CodedError('frame-size-mismatch', `frame of ${frame.length} samples, expected ${FRAME}`)
    this.stats.frames++
    this.#pending.push(frame)
    if (this.#pending.length < this.#perPacket) return
    const pcm = this.#pending.length === 1 ? this.#pending[0]! : concat(this.#pending)
    this.#pending = []
    const started = performance.now()
    const payload = this.#encoder.encode(pcm)
    this.stats.encodeMs += performance.now() - started
    const timestamp = this.#timestamp
    this.#timestamp = (this.#timestamp + pcm.length) >>> 0
    if (payload.length <= 2) {
      this.stats.dtx++
      this.#talking = false
      return
    }
    const marker = !this.#talking
    this.#talking = true
    this.#send(payload, timestamp, marker)
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#encoder.destroy()
  }

  #send(payload: Uint8Array, timestamp: number, marker: boolean): void {
    const transform = this.#opts.transform
    const ready: Promise<Uint8Array | 'dropped' | 'failed'> = transform
      ? Promise.resolve()
          .then(() => transform(payload))
          .then(
            (out) => out ?? 'dropped',
            (err: unknown) => {
              void err // a failing transform must not stop the stream: that packet is dropped, counted
              return 'failed' as const
            },
          )
      : Promise.resolve(payload)
    const previous = this.#order
    this.#order = (async () => {
      const out = await ready
      await previous
      if (this.#destroyed) return
      if (out === 'dropped') this.stats.dropped.transform++
      else if (out === 'failed') this.stats.dropped.transformError++
      else {
        this.stats.packets++
        this.stats.bytes += out.length
        this.#opts.onPacket({ payload: out, timestamp, marker })
      }
    })().catch((err: unknown) => {
      void err // the chain must not reject: later packets wait on it
      this.stats.dropped.sendError++
    })
  }
}

function concat(frames: Int16Array[]): Int16Array {
  const out = new Int16Array(frames.length * FRAME)
  frames.forEach((f, i) => out.set(f, i * FRAME))
  return out
}
