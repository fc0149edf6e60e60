/**
 * Opus for Node: libopus compiled to WebAssembly, as shipped by the `@evan/opus` package, driven
 * through its raw C exports (opus_encode, opus_decode, the ctl calls) rather than the package's
 * wrapper. Why (see docs/architecture.md, "Node media path"): the wrapper always decodes with
 * `decode_fec = 0` and conceals a loss as 120 ms, while a jitter buffer needs in-band FEC and
 * concealment of exactly one lost packet; and it loads a prebuilt native addon first, while the
 * WebAssembly build keeps whatever the network sends inside the wasm sandbox (same speed here).
 *
 * One `OpusRuntime` is one wasm instance (16 MiB of address space, mostly untouched): create one
 * per process part that needs Opus (a headless peer) and make every encoder and decoder from it.
 * Encoders and decoders are 48 kHz mono, Int16 PCM. Calls are synchronous and share the
 * runtime's scratch buffers, which JavaScript's single thread makes safe; memory growth is
 * followed by re-reading `memory.buffer`.
 *
 * Bytes from the network never throw: `decode` answers null for a packet libopus refuses.
 * Misuse (wrong frame size, use after destroy) throws a CodedError.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { CodedError } from '../base/errors.ts'
import { MAX_OPUS_PACKET } from './opus-packet.ts'

export const OPUS_RATE = 48_000
/** Largest frame libopus decodes into (120 ms at 48 kHz). */
const MAX_SAMPLES = 5760
const ENCODE_SIZES = new Set([120, 240, 480, 960, 1920, 2880])

const CTL = { bitrate: 4002, vbr: 4006, complexity: 4010, inbandFec: 4012, packetLossPerc: 4014, dtx: 4016, signal: 4024 } as const
const SIGNAL_VOICE = 3001
const APPLICATION_VOIP = 2048

export type OpusErrorCode = 'opus-unavailable' | 'opus-failed' | 'bad-frame-size' | 'codec-destroyed'

export interface OpusEncoderOptions {
  /** Target bitrate, bit/s. Default 32000 (as VOICE_OPUS in src/net/opus.ts). */
  bitrate?: number
  /** In-band FEC (LBRR): a low-rate copy of the previous frame in each packet. Default true. */
  fec?: boolean
  /** The loss the encoder plans FEC for, 0-100 %. FEC is only sent when > 0. Default 10. */
  packetLossPerc?: number
  /** Discontinuous transmission: silence becomes a 1-2 byte packet (not sent) and one every 400 ms. Default true. */
  dtx?: boolean
  /** 0-10; libopus default when unset (9). */
  complexity?: number
}

export interface OpusEncoder {
  /** Encodes one frame (120..2880 samples: 2.5 to 60 ms). A packet of 1-2 bytes is DTX silence. */
  encode(pcm: Int16Array): Uint8Array
  /** Frees the encoder. Idempotent. */
  destroy(): void
}

export interface OpusDecoder {
  /** PCM of `packet`, or null if libopus refuses it. */
  decode(packet: Uint8Array): Int16Array | null
  /**
   * `samples` of the packet *before* `next`, rebuilt from the FEC data `next` carries (plain
   * concealment when it carries none). `samples` is a multiple of 120 (2.5 ms).
   */
  decodeFec(next: Uint8Array, samples: number): Int16Array | null
  /** `samples` of concealment (a multiple of 120): what the decoder predicts after its last frame. */
  conceal(samples: number): Int16Array
  /** Frees the decoder. Idempotent. */
  destroy(): void
}

export interface OpusRuntime {
  createEncoder(opts?: OpusEncoderOptions): OpusEncoder
  createDecoder(): OpusDecoder
}

interface OpusExports {
  memory: WebAssembly.Memory
  malloc(size: number): number
  free(ptr: number): void
  opus_encoder_get_size(channels: number): number
  opus_encoder_init(st: number, rate: number, channels: number, application: number): number
  opus_encode(st: number, pcm: number, frameSize: number, out: number, maxBytes: number): number
  opus_encoder_ctl_set(st: number, cmd: number, value: number): number
  opus_decoder_get_size(channels: number): number
  opus_decoder_init(st: number, rate: number, channels: number): number
  opus_decode(st: number, data: number, len: number, pcm: number, frameSize: number, fec: number): number
}

const NEEDED = ['memory', 'malloc', 'free', 'opus_encoder_get_size', 'opus_encoder_init', 'opus_encode', 'opus_encoder_ctl_set', 'opus_decoder_get_size', 'opus_decoder_init', 'opus_decode'] as const

/** Instantiates libopus (synchronous, ~1 ms once compiled). Throws 'opus-unavailable' if the package's wasm is missing or changed. */
export function loadOpus(): OpusRuntime {
  const wasm = instantiate()
  const pcmPtr = wasm.malloc(MAX_SAMPLES * 2)
  const pktPtr = wasm.malloc(MAX_OPUS_PACKET)
  const pcmView = (n: number) => new Int16Array(wasm.memory.buffer, pcmPtr, n)
  const pktView = (n: number) => new Uint8Array(wasm.memory.buffer, pktPtr, n)
  const alloc = (size: number, init: (st: number) => number): number => {
    const st = wasm.malloc(size)
    const rc = init(st)
    if (rc < 0) {
      wasm.free(st)
      throw new CodedError<OpusErrorCode>('opus-failed', `libopus init failed (${rc})`)
    }
    return st
  }
  return {
    createEncoder(opts = {}) {
      let st = alloc(wasm.opus_encoder_get_size(1), (p) => wasm.opus_encoder_init(p, OPUS_RATE, 1, APPLICATION_VOIP))
      const set = (cmd: number, value: number) => {
        const rc = wasm.opus_encoder_ctl_set(st, cmd, value)
        if (rc < 0) throw new CodedError<OpusErrorCode>('opus-failed', `opus ctl ${cmd}=${value} failed (${rc})`)
      }
      set(CTL.bitrate, opts.bitrate ?? 32_000)
      set(CTL.inbandFec, opts.fec === false ? 0 : 1)
      set(CTL.packetLossPerc, opts.packetLossPerc ?? 10)
      set(CTL.dtx, opts.dtx === false ? 0 : 1)
      set(CTL.signal, SIGNAL_VOICE)
      if (opts.complexity !== undefined) set(CTL.complexity, opts.complexity)
      return {
        encode(pcm) {
          if (st === 0) throw new CodedError<OpusErrorCode>('codec-destroyed', 'encoder destroyed')
          if (!ENCODE_SIZES.has(pcm.length)) throw new CodedError<OpusErrorCode>('bad-frame-size', `cannot encode ${pcm.length} samples`)
          pcmView(pcm.length).set(pcm)
          const n = wasm.opus_encode(st, pcmPtr, pcm.length, pktPtr, MAX_OPUS_PACKET)
          if (n < 0) throw new CodedError<OpusErrorCode>('opus-failed', `opus_encode failed (${n})`)
          return pktView(n).slice()
        },
        destroy() {
          if (st !== 0) wasm.free(st)
          st = 0
        },
      }
    },
    createDecoder() {
      let st = alloc(wasm.opus_decoder_get_size(1), (p) => wasm.opus_decoder_init(p, OPUS_RATE, 1))
      const run = (packet: Uint8Array | null, frameSize: number, fec: 0 | 1): Int16Array | null => {
        if (st === 0) throw new CodedError<OpusErrorCode>('codec-destroyed', 'decoder destroyed')
        if (packet && (packet.length === 0 || packet.length > MAX_OPUS_PACKET)) return null
        if (packet) pktView(packet.length).set(packet)
        const n = wasm.opus_decode(st, packet ? pktPtr : 0, packet?.length ?? 0, pcmPtr, frameSize, fec)
        return n < 0 ? null : pcmView(n).slice()
      }
      const checkSize = (samples: number) => {
        if (!Number.isInteger(samples) || samples <= 0 || samples > MAX_SAMPLES || samples % 120 !== 0) throw new CodedError<OpusErrorCode>('bad-frame-size', `cannot conceal ${samples} samples`)
      }
      return {
        decode: (packet) => run(packet, MAX_SAMPLES, 0),
        decodeFec(next, samples) {
          checkSize(samples)
          return run(next, samples, 1)
        },
        conceal(samples) {
          checkSize(samples)
          return run(null, samples, 0) ?? new Int16Array(samples)
        },
        destroy() {
          if (st !== 0) wasm.free(st)
          st = 0
        },
      }
    },
  }
}

function instantiate(): OpusExports {
  const require = createRequire(import.meta.url)
  const imports = {
    wasi_snapshot_preview1: { fd_seek: () => 0, fd_write: () => 0, fd_close: () => 0, proc_exit: () => {} },
    env: { emscripten_notify_memory_growth: () => {} }, // views are re-read from memory.buffer on each call
  }
  let lastError: unknown = null
  for (const file of ['@evan/opus/wasm/simd.wasm', '@evan/opus/wasm/opus.wasm']) {
    try {
      const module = new WebAssembly.Module(readFileSync(require.resolve(file)))
      const exports = new WebAssembly.Instance(module, imports).exports as Record<string, unknown>
      const missing = NEEDED.filter((name) => exports[name] === undefined)
      if (missing.length) throw new CodedError<OpusErrorCode>('opus-unavailable', `${file} lacks ${missing.join(', ')}`)
      return exports as unknown as OpusExports
    } catch (err) {
      lastError = err // no SIMD on this CPU, or the package changed: try the next build
    }
  }
  throw new CodedError<OpusErrorCode>('opus-unavailable', 'libopus (@evan/opus wasm) could not be loaded', { cause: lastError })
}
