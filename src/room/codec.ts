/**
 * Small strict binary helpers on top of lib0 encoding: fixed-size byte fields,
 * bounded UTF-8 strings (fatal decoding), ids. Decoders throw `MalformedError`,
 * which the entry decoders turn into a 'malformed' result.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { sha256 } from '@noble/hashes/sha2.js'
import { toBase64url, fromBase64url } from '../identity/index.ts'
import { CodedError } from '../base/errors.ts'

/** Bytes that do not decode; readers count the entry as 'malformed'. */
export class MalformedError extends CodedError<'malformed'> {
  constructor(message: string) {
    super('malformed', message)
  }
}

export const ID_BYTES = 16
export const ROOM_ID_BYTES = 16
export const KEY_BYTES = 32
export const SIG_BYTES = 64

const utf8 = new TextEncoder()
const utf8Fatal = new TextDecoder('utf-8', { fatal: true })

export function writeFixed(enc: encoding.Encoder, bytes: Uint8Array, len: number): void {
  if (bytes.length !== len) throw new RangeError(`expected ${len} bytes, got ${bytes.length}`)
  encoding.writeUint8Array(enc, bytes)
}

export function readFixed(dec: decoding.Decoder, len: number): Uint8Array {
  if (dec.arr.length - dec.pos < len) throw new MalformedError('truncated')
  return decoding.readUint8Array(dec, len)
}

export function writeText(enc: encoding.Encoder, text: string, maxBytes: number): void {
  const bytes = utf8.encode(text)
  if (bytes.length > maxBytes) throw new RangeError(`text longer than ${maxBytes} bytes`)
  encoding.writeVarUint8Array(enc, bytes)
}

export function readText(dec: decoding.Decoder, maxBytes: number): string {
  const len = readUint(dec)
  if (len > maxBytes) throw new MalformedError('text too long')
  const bytes = readFixed(dec, len)
  try {
    return utf8Fatal.decode(bytes)
  } catch {
    throw new MalformedError('invalid utf-8')
  }
}

export function readUint(dec: decoding.Decoder): number {
  let n: number
  try {
    n = decoding.readVarUint(dec)
  } catch {
    throw new MalformedError('bad varuint')
  }
  // lib0 reads some varuints past 2^53 without complaint; no field of ours may be one (fuzz).
  if (!Number.isSafeInteger(n)) throw new MalformedError('varuint beyond 2^53')
  return n
}

export function readByte(dec: decoding.Decoder): number {
  if (dec.pos >= dec.arr.length) throw new MalformedError('truncated')
  return decoding.readUint8(dec)
}

/** Id of a signed blob: base64url of the first 16 bytes of sha256(bytes). */
export function blobId(bytes: Uint8Array): string {
  return toBase64url(sha256(bytes).subarray(0, ID_BYTES))
}

/** Raw 16 bytes of an id string; throws RangeError when the id is not one. */
export function idBytes(id: string, what = 'id'): Uint8Array {
  const b = fromBase64url(id)
  if (!b || b.length !== ID_BYTES) throw new RangeError(`${what} is not a 16-byte base64url id`)
  return b
}

export { toBase64url, fromBase64url }
