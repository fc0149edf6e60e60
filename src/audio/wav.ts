/**
 * RIFF/WAVE PCM16 encode and decode (mono or stereo), plus a byte-level incremental writer whose
 * output an I/O layer appends to a file (see src/node/audio-io.ts) and whose header it rewrites on
 * close.
 *
 * Decoding is defensive: every length is checked against the buffer before it is read, the chunk
 * walk always advances by at least 8 bytes and visits at most `MAX_CHUNKS` chunks, so malformed or
 * hostile input fails fast with a `WavError` (stable `code`) and never loops. Byte order is
 * little-endian as the format requires, independent of the host.
 */
import { CodedError } from '../base/errors.ts'

export interface PcmFormat {
  sampleRate: number
  /** 1 (mono) or 2 (stereo, interleaved L R L R ...). */
  channels: 1 | 2
}

export interface PcmAudio extends PcmFormat {
  /** Interleaved samples. */
  samples: Int16Array
}

export type WavErrorCode =
  | 'wav-too-short'
  | 'wav-not-riff'
  | 'wav-no-fmt'
  | 'wav-unsupported-format'
  | 'wav-bad-fmt'
  | 'wav-no-data'
  | 'wav-truncated'
  | 'wav-too-many-chunks'
  | 'wav-bad-input'

export class WavError extends CodedError<WavErrorCode> {}

export const WAV_HEADER_BYTES = 44
/** Upper bound on chunks visited while looking for `fmt ` and `data`. */
export const MAX_CHUNKS = 64
const FORMAT_PCM = 1
const FORMAT_EXTENSIBLE = 0xfffe

function checkFormat(f: PcmFormat): void {
  if (f.channels !== 1 && f.channels !== 2) throw new WavError('wav-bad-input', `channels must be 1 or 2, got ${String(f.channels)}`)
  if (!Number.isInteger(f.sampleRate) || f.sampleRate <= 0 || f.sampleRate > 0xffffffff / 4) throw new WavError('wav-bad-input', `bad sampleRate ${f.sampleRate}`)
}

/**
 * The canonical 44-byte header for `dataBytes` bytes of PCM16. Sizes are clamped to what a
 * 32-bit RIFF can express.
 */
export function wavHeader(format: PcmFormat, dataBytes: number): Uint8Array {
  checkFormat(format)
  const data = Math.min(Math.max(0, Math.floor(dataBytes)), 0xffffffff - 36)
  const out = new Uint8Array(WAV_HEADER_BYTES)
  const v = new DataView(out.buffer)
  const ascii = (off: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[off + i] = s.charCodeAt(i)
  }
  const blockAlign = format.channels * 2
  ascii(0, 'RIFF')
  v.setUint32(4, 36 + data, true)
  ascii(8, 'WAVE')
  ascii(12, 'fmt ')
  v.setUint32(16, 16, true)
  v.setUint16(20, FORMAT_PCM, true)
  v.setUint16(22, format.channels, true)
  v.setUint32(24, format.sampleRate, true)
  v.setUint32(28, format.sampleRate * blockAlign, true)
  v.setUint16(32, blockAlign, true)
  v.setUint16(34, 16, true)
  ascii(36, 'data')
  v.setUint32(40, data, true)
  return out
}

/** Int16 samples as little-endian bytes. */
export function pcm16Bytes(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2)
  const v = new DataView(out.buffer)
  for (let i = 0; i < samples.length; i++) v.setInt16(i * 2, samples[i] ?? 0, true)
  return out
}

/** A complete WAV file. `samples.length` must be a multiple of `channels`. */
export function encodeWav(audio: PcmAudio): Uint8Array {
  checkFormat(audio)
  if (audio.samples.length % audio.channels !== 0) throw new WavError('wav-bad-input', 'sample count is not a multiple of channels')
  const body = pcm16Bytes(audio.samples)
  const out = new Uint8Array(WAV_HEADER_BYTES + body.length)
  out.set(wavHeader(audio, body.length), 0)
  out.set(body, WAV_HEADER_BYTES)
  return out
}

export interface DecodeOptions {
  /**
   * Accept a `data` chunk that claims more bytes than the file holds (a recording whose writer
   * never patched the header) and return what is there. Default false: 'wav-truncated'.
   */
  allowTruncated?: boolean
}

const tag = (b: Uint8Array, off: number) => String.fromCharCode(b[off] ?? 0, b[off + 1] ?? 0, b[off + 2] ?? 0, b[off + 3] ?? 0)

/** Parses a PCM16 mono/stereo WAV file. Throws `WavError` on anything else. */
export function decodeWav(bytes: Uint8Array, opts: DecodeOptions = {}): PcmAudio {
  if (!(bytes instanceof Uint8Array)) throw new WavError('wav-bad-input', 'expected a Uint8Array')
  if (bytes.length < 12) throw new WavError('wav-too-short', `only ${bytes.length} bytes`)
  if (tag(bytes, 0) !== 'RIFF' || tag(bytes, 8) !== 'WAVE') throw new WavError('wav-not-riff', 'missing RIFF/WAVE signature')
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let format: PcmFormat | null = null
  let off = 12
  for (let n = 0; off + 8 <= bytes.length; n++) {
    if (n >= MAX_CHUNKS) throw new WavError('wav-too-many-chunks', `no data chunk within ${MAX_CHUNKS} chunks`)
    const id = tag(bytes, off)
    const size = v.getUint32(off + 4, true)
    const body = off + 8
    if (id === 'fmt ') {
      if (size < 16 || body + size > bytes.length) throw new WavError('wav-bad-fmt', `fmt chunk of ${size} bytes`)
      let fmtTag = v.getUint16(body, true)
      if (fmtTag === FORMAT_EXTENSIBLE && size >= 40) fmtTag = v.getUint16(body + 24, true) // SubFormat GUID starts with the tag
      const channels = v.getUint16(body + 2, true)
      const sampleRate = v.getUint32(body + 4, true)
      const blockAlign = v.getUint16(body + 12, true)
      const bits = v.getUint16(body + 14, true)
      if (fmtTag !== FORMAT_PCM || bits !== 16) throw new WavError('wav-unsupported-format', `format ${fmtTag} with ${bits} bits; only PCM16 is supported`)
      if (channels !== 1 && channels !== 2) throw new WavError('wav-unsupported-format', `${channels} channels; only mono and stereo are supported`)
      if (sampleRate === 0 || blockAlign !== channels * 2) throw new WavError('wav-bad-fmt', `sampleRate ${sampleRate}, blockAlign ${blockAlign}`)
      format = { sampleRate, channels }
    } else if (id === 'data') {
      if (!format) throw new WavError('wav-no-fmt', 'data chunk before fmt chunk')
      let len = size
      if (body + len > bytes.length) {
        if (!opts.allowTruncated) throw new WavError('wav-truncated', `data chunk claims ${size} bytes, ${bytes.length - body} present`)
        len = bytes.length - body
      }
      len -= len % (format.channels * 2)
      const samples = new Int16Array(len / 2)
      for (let i = 0; i < samples.length; i++) samples[i] = v.getInt16(body + i * 2, true)
      return { ...format, samples }
    }
    // Chunks are word-aligned: odd sizes carry one pad byte. `size` is at most 2^32-1, so this
    // always moves forward and the loop ends when it passes the buffer.
    off = body + size + (size & 1)
  }
  throw new WavError(format ? 'wav-no-data' : 'wav-no-fmt', format ? 'no data chunk' : 'no fmt chunk')
}

/**
 * Incremental writer for recordings of unknown length: `start()` gives a placeholder header,
 * `append()` the bytes for each chunk of samples, and `finish()` the final header to write at
 * offset 0 once the length is known. Holds no samples, only the running byte count.
 */
export interface WavStreamEncoder {
  readonly format: PcmFormat
  readonly dataBytes: number
  start(): Uint8Array
  append(samples: Int16Array): Uint8Array
  finish(): { offset: 0; header: Uint8Array }
}

export function createWavStreamEncoder(format: PcmFormat): WavStreamEncoder {
  checkFormat(format)
  let dataBytes = 0
  return {
    format,
    get dataBytes() {
      return dataBytes
    },
    // Placeholder sizes say "as long as possible" (the streaming convention), so a recording cut
    // off before finish() still decodes with { allowTruncated: true }.
    start: () => wavHeader(format, Number.MAX_SAFE_INTEGER),
    append(samples) {
      if (samples.length % format.channels !== 0) throw new WavError('wav-bad-input', 'sample count is not a multiple of channels')
      dataBytes += samples.length * 2
      return pcm16Bytes(samples)
    },
    finish: () => ({ offset: 0, header: wavHeader(format, dataBytes) }),
  }
}
