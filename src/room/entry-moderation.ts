/**
 * Bodies of the chat and moderation entries (issue 15, docs/room-rules.md §10):
 * chat, hide, mute, kick, record, transfer. Kept apart from entry.ts so the
 * core kinds stay readable; entry.ts dispatches the kinds it does not know here.
 *
 *   chat      sealed text (entry-text.ts: varuint length | sealed bytes, at most
 *             sealedSize(MAX_CHAT_BYTES)), in the field 'chat' of its author
 *   hide      auth 16 | target 16 (a chat entry)
 *   mute      auth 16 | subject key 32
 *   kick      auth 16 | subject key 32 | varuint until (ms)
 *   record    auth 16 | u8 on (0 or 1)
 *   transfer  auth 16 | subject key 32
 *
 * Decoders throw MalformedError (the entry is then 'malformed'); encoders throw
 * RangeError on values that could never be valid.
 */
import * as encoding from 'lib0/encoding'
import type * as decoding from 'lib0/decoding'
import { keyId } from '../identity/index.ts'
import { ID_BYTES, KEY_BYTES, MalformedError, fromBase64url, idBytes, readByte, readFixed, readUint, toBase64url, writeFixed } from './codec.ts'
import { PLAIN_TEXT_BEFORE, readTextField, writeSealedField } from './entry-text.ts'

/**
 * Chat text cap: 500 characters as a text field counts them (UTF-16 code
 * units, like `maxlength`), so at most 1500 UTF-8 bytes; sealed, a full
 * message and 8 causal references stay under the 2 KiB entry cap.
 */
export const MAX_CHAT_CHARS = 500
export const MAX_CHAT_BYTES = 3 * MAX_CHAT_CHARS

export type ModerationBody =
  | { kind: 'chat'; text: Uint8Array }
  | { kind: 'hide'; auth: string; target: string }
  | { kind: 'mute'; auth: string; subject: string }
  | { kind: 'kick'; auth: string; subject: string; until: number }
  | { kind: 'record'; auth: string; on: boolean }
  | { kind: 'transfer'; auth: string; subject: string }

export type ModerationKind = ModerationBody['kind']

const MODERATION_KINDS: ReadonlySet<string> = new Set<ModerationKind>(['chat', 'hide', 'mute', 'kick', 'record', 'transfer'])

export function isModerationBody(body: { kind: string }): body is ModerationBody {
  return MODERATION_KINDS.has(body.kind)
}

function writeKey(enc: encoding.Encoder, id: string): void {
  const bytes = fromBase64url(id)
  if (!bytes || bytes.length !== KEY_BYTES) throw new RangeError('subject is not a 32-byte base64url key')
  writeFixed(enc, bytes, KEY_BYTES)
}

export function writeModerationBody(enc: encoding.Encoder, body: ModerationBody): void {
  if (body.kind === 'chat') return writeSealedField(enc, body.text, MAX_CHAT_BYTES)
  writeFixed(enc, idBytes(body.auth, 'auth'), ID_BYTES)
  switch (body.kind) {
    case 'hide':
      return writeFixed(enc, idBytes(body.target, 'target'), ID_BYTES)
    case 'mute':
    case 'transfer':
      return writeKey(enc, body.subject)
    case 'kick':
      if (!Number.isSafeInteger(body.until) || body.until < 0) throw new RangeError('until must be a non-negative integer (ms)')
      writeKey(enc, body.subject)
      return encoding.writeVarUint(enc, body.until)
    case 'record':
      return encoding.writeUint8(enc, body.on ? 1 : 0)
  }
}

const readId = (dec: decoding.Decoder): string => toBase64url(readFixed(dec, ID_BYTES))
const readKeyId = (dec: decoding.Decoder): string => keyId(readFixed(dec, KEY_BYTES))

export function readModerationBody(dec: decoding.Decoder, kind: ModerationKind): ModerationBody {
  if (kind === 'chat') {
    // A new kind: its text is sealed whatever the entry's version (never plain).
    const text = readTextField(dec, PLAIN_TEXT_BEFORE, MAX_CHAT_BYTES)
    if (typeof text === 'string') throw new MalformedError('chat text is not sealed')
    return { kind, text }
  }
  const auth = readId(dec)
  switch (kind) {
    case 'hide':
      return { kind, auth, target: readId(dec) }
    case 'mute':
    case 'transfer':
      return { kind, auth, subject: readKeyId(dec) }
    case 'kick':
      return { kind, auth, subject: readKeyId(dec), until: readUint(dec) }
    case 'record': {
      const on = readByte(dec)
      if (on > 1) throw new MalformedError('bad record flag')
      return { kind, auth, on: on === 1 }
    }
  }
}
