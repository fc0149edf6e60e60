/**
 * Free text inside entries (titles, topics, display names): sealed under an
 * epoch's secret since entry version 3 (sealed-text.ts, docs/room-rules.md §9),
 * so a relay that stores and forwards the log cannot read it. Entries of
 * versions 1 and 2 carry it in plain UTF-8: still read, never written.
 *
 * On the wire a sealed field is `varuint length | sealed bytes`, at most
 * `sealedSize(max text bytes)` long, and must parse as a sealed text (its epoch
 * number readable); anything else is 'malformed'. Whether it opens is not the
 * decoder's business: a reader without the epoch's secret sees ''.
 */
import * as encoding from 'lib0/encoding'
import type * as decoding from 'lib0/decoding'
import { MalformedError, readFixed, readText, readUint } from './codec.ts'
import { sealedEpoch, sealedSize } from './sealed-text.ts'

/** Sealed bytes (version 3 on), or plain text read from an entry of an older version. */
export type TextField = Uint8Array | string

/** Entry versions before sealed text: their free text is plain. */
export const PLAIN_TEXT_BEFORE = 3

export function writeSealedField(enc: encoding.Encoder, sealed: Uint8Array, maxTextBytes: number): void {
  if (sealed.length > sealedSize(maxTextBytes) || sealedEpoch(sealed) === null) throw new RangeError('not a sealed text of the allowed size')
  encoding.writeVarUint8Array(enc, sealed)
}

/** One text field of an entry of `version`. Throws MalformedError. */
export function readTextField(dec: decoding.Decoder, version: number, maxTextBytes: number): TextField {
  if (version < PLAIN_TEXT_BEFORE) return readText(dec, maxTextBytes)
  const len = readUint(dec)
  if (len > sealedSize(maxTextBytes)) throw new MalformedError('sealed text too long')
  const sealed = readFixed(dec, len)
  if (sealedEpoch(sealed) === null) throw new MalformedError('not a sealed text')
  return sealed
}

/** The parts of a field a derived state keeps: plain text (old entries) or the sealed bytes. */
export function textParts(field: TextField): { plain: string; sealed?: Uint8Array } {
  return typeof field === 'string' ? { plain: field } : { plain: '', sealed: field }
}
