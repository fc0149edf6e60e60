/**
 * The kind-specific part of an entry (what each kind carries, after entry.ts's
 * header and before its signature) and its bytes: the kinds and their numbers,
 * the body types, and the writer and reader of every kind but the chat and
 * moderation ones (entry-moderation.ts). Kept apart from entry.ts, which frames
 * a body into a signed entry. Readers throw MalformedError or RangeError; the
 * caller (decodeEntry) turns that into null.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { keyId } from '../identity/index.ts'
import { ID_BYTES, KEY_BYTES, SIG_BYTES, MalformedError, fromBase64url, idBytes, readByte, readFixed, readUint, toBase64url, writeFixed } from './codec.ts'
import { decodeLinkGrant, MAX_LINK_GRANT_BYTES, type LinkGrant } from './link-grant.ts'
import { readModerationBody, type ModerationBody } from './entry-moderation.ts'
import { readTextField, writeSealedField, type TextField } from './entry-text.ts'

/** Caps on free text (UTF-8 bytes before sealing; a sealed field is at most sealedSize of it). */
export const MAX_TITLE_BYTES = 200
export const MAX_TOPIC_BYTES = 1000
export const MAX_NAME_BYTES = 100
export const NONCE_BYTES = 16
/** X25519 public keys (a member's encryption key, an epoch's ephemeral key). */
export const ENC_KEY_BYTES = 32
/** An epoch secret's key check (the link's `c`), see room/epoch-keys.ts. */
export const CHECK_BYTES = 12
/** A box names its recipient by the first bytes of the recipient's identity key. */
export const BOX_TAG_BYTES = 8
/** A box is the 32-byte epoch secret under a one-time key. */
export const BOX_BYTES = 32
/** Boxes per seal entry: a full seal entry stays under MAX_ENTRY_BYTES. */
export const MAX_BOXES = 40

export const KIND = {
  genesis: 0,
  grant: 1,
  revoke: 2,
  ban: 3,
  unban: 4,
  invite: 5,
  accept: 6,
  decline: 7,
  leave: 8,
  move: 9,
  raise: 10,
  lower: 11,
  profile: 12,
  meta: 13,
  end: 14,
  redeem: 15,
  key: 16,
  epoch: 17,
  seal: 18,
  chat: 19,
  hide: 20,
  mute: 21,
  kick: 22,
  record: 23,
  transfer: 24,
} as const

export type EntryKind = keyof typeof KIND
export const KIND_NAMES = Object.keys(KIND) as EntryKind[]

/** Kind-specific content of an entry, as an author writes it. */
export type EntryBody =
  | { kind: 'genesis'; nonce: Uint8Array; title: Uint8Array; topic: Uint8Array }
  | { kind: 'grant'; auth: string; role: 'moderator'; subject: string }
  | { kind: 'revoke'; auth: string; target: string }
  | { kind: 'ban'; auth: string; subject: string }
  | { kind: 'unban'; auth: string; target: string }
  | { kind: 'invite'; auth: string; subject: string }
  | { kind: 'accept'; invite: string }
  | { kind: 'decline'; invite: string }
  | { kind: 'leave'; seat: string }
  | { kind: 'move'; auth: string; seat: string }
  | { kind: 'raise'; nonce: Uint8Array }
  | { kind: 'lower'; raise: string }
  | { kind: 'profile'; seq: number; name: Uint8Array; muted: boolean }
  | { kind: 'meta'; auth: string; title: Uint8Array; topic: Uint8Array }
  | { kind: 'end'; auth: string }
  | { kind: 'redeem'; grant: Uint8Array; proof: Uint8Array }
  | { kind: 'key'; enc: Uint8Array }
  | { kind: 'epoch'; auth: string; n: number; parent: string; member: Uint8Array; check: Uint8Array }
  | { kind: 'seal'; auth: string; epoch: string; eph: Uint8Array; boxes: readonly SealedBox[] }
  | ModerationBody

/** An epoch secret sealed to one member (docs/room-rules.md §8). */
export interface SealedBox {
  /** First BOX_TAG_BYTES of the recipient's identity key. */
  to: Uint8Array
  box: Uint8Array
}

/** Decoded body: like EntryBody, but a redeem also carries its decoded link grant, and free text may be plain (versions 1-2). */
export type DecodedBody =
  | Exclude<EntryBody, { kind: 'redeem' | 'genesis' | 'profile' | 'meta' }>
  | { kind: 'redeem'; grant: Uint8Array; proof: Uint8Array; link: LinkGrant }
  | { kind: 'genesis'; nonce: Uint8Array; title: TextField; topic: TextField }
  | { kind: 'profile'; seq: number; name: TextField; muted: boolean }
  | { kind: 'meta'; auth: string; title: TextField; topic: TextField }

function writeKey(enc: encoding.Encoder, id: string): void {
  const bytes = fromBase64url(id)
  if (!bytes || bytes.length !== KEY_BYTES) throw new RangeError('subject is not a 32-byte base64url key')
  writeFixed(enc, bytes, KEY_BYTES)
}

/** Writes a body of any kind but the moderation ones. Throws RangeError on bad input. */
export function writeBody(enc: encoding.Encoder, body: EntryBody): void {
  switch (body.kind) {
    case 'genesis':
      writeFixed(enc, body.nonce, NONCE_BYTES)
      writeSealedField(enc, body.title, MAX_TITLE_BYTES)
      writeSealedField(enc, body.topic, MAX_TOPIC_BYTES)
      return
    case 'grant':
      writeFixed(enc, idBytes(body.auth, 'auth'), ID_BYTES)
      encoding.writeUint8(enc, 1)
      writeKey(enc, body.subject)
      return
    case 'ban':
    case 'invite':
      writeFixed(enc, idBytes(body.auth, 'auth'), ID_BYTES)
      writeKey(enc, body.subject)
      return
    case 'revoke':
    case 'unban':
      writeFixed(enc, idBytes(body.auth, 'auth'), ID_BYTES)
      writeFixed(enc, idBytes(body.target, 'target'), ID_BYTES)
      return
    case 'accept':
    case 'decline':
      writeFixed(enc, idBytes(body.invite, 'invite'), ID_BYTES)
      return
    case 'leave':
      writeFixed(enc, idBytes(body.seat, 'seat'), ID_BYTES)
      return
    case 'move':
      writeFixed(enc, idBytes(body.auth, 'auth'), ID_BYTES)
      writeFixed(enc, idBytes(body.seat, 'seat'), ID_BYTES)
      return
    case 'raise':
      writeFixed(enc, body.nonce, NONCE_BYTES)
      return
    case 'lower':
      writeFixed(enc, idBytes(body.raise, 'raise'), ID_BYTES)
      return
    case 'profile':
      encoding.writeVarUint(enc, body.seq)
      writeSealedField(enc, body.name, MAX_NAME_BYTES)
      encoding.writeUint8(enc, body.muted ? 1 : 0)
      return
    case 'meta':
      writeFixed(enc, idBytes(body.auth, 'auth'), ID_BYTES)
      writeSealedField(enc, body.title, MAX_TITLE_BYTES)
      writeSealedField(enc, body.topic, MAX_TOPIC_BYTES)
      return
    case 'end':
      writeFixed(enc, idBytes(body.auth, 'auth'), ID_BYTES)
      return
    case 'redeem':
      if (body.grant.length > MAX_LINK_GRANT_BYTES) throw new RangeError('link grant too large')
      encoding.writeVarUint8Array(enc, body.grant)
      writeFixed(enc, body.proof, SIG_BYTES)
      return
    case 'key':
      writeFixed(enc, body.enc, ENC_KEY_BYTES)
      return
    case 'epoch':
      writeFixed(enc, idBytes(body.auth, 'auth'), ID_BYTES)
      encoding.writeVarUint(enc, body.n)
      writeFixed(enc, idBytes(body.parent, 'parent'), ID_BYTES)
      writeFixed(enc, body.member, KEY_BYTES)
      writeFixed(enc, body.check, CHECK_BYTES)
      return
    case 'seal':
      writeFixed(enc, idBytes(body.auth, 'auth'), ID_BYTES)
      writeFixed(enc, idBytes(body.epoch, 'epoch'), ID_BYTES)
      writeFixed(enc, body.eph, ENC_KEY_BYTES)
      if (body.boxes.length === 0 || body.boxes.length > MAX_BOXES) throw new RangeError(`a seal holds 1 to ${MAX_BOXES} boxes`)
      encoding.writeUint8(enc, body.boxes.length)
      for (const b of body.boxes) {
        writeFixed(enc, b.to, BOX_TAG_BYTES)
        writeFixed(enc, b.box, BOX_BYTES)
      }
      return
  }
}

function readBoxes(dec: decoding.Decoder): SealedBox[] {
  const n = readByte(dec)
  if (n === 0 || n > MAX_BOXES) throw new MalformedError('bad box count')
  const boxes: SealedBox[] = []
  for (let i = 0; i < n; i++) boxes.push({ to: readFixed(dec, BOX_TAG_BYTES), box: readFixed(dec, BOX_BYTES) })
  return boxes
}

function readId(dec: decoding.Decoder): string {
  return toBase64url(readFixed(dec, ID_BYTES))
}

function readKeyId(dec: decoding.Decoder): string {
  return keyId(readFixed(dec, KEY_BYTES))
}

/** Reads the body of `kind` (from an entry of `version`). Throws on malformed input. */
export function readBody(dec: decoding.Decoder, kind: EntryKind, version: number): DecodedBody {
  switch (kind) {
    case 'genesis':
      return { kind, nonce: readFixed(dec, NONCE_BYTES), title: readTextField(dec, version, MAX_TITLE_BYTES), topic: readTextField(dec, version, MAX_TOPIC_BYTES) }
    case 'grant': {
      const auth = readId(dec)
      if (readByte(dec) !== 1) throw new MalformedError('unknown role')
      return { kind, auth, role: 'moderator', subject: readKeyId(dec) }
    }
    case 'ban':
    case 'invite':
      return { kind, auth: readId(dec), subject: readKeyId(dec) }
    case 'revoke':
    case 'unban':
      return { kind, auth: readId(dec), target: readId(dec) }
    case 'accept':
    case 'decline':
      return { kind, invite: readId(dec) }
    case 'leave':
      return { kind, seat: readId(dec) }
    case 'move':
      return { kind, auth: readId(dec), seat: readId(dec) }
    case 'raise':
      return { kind, nonce: readFixed(dec, NONCE_BYTES) }
    case 'lower':
      return { kind, raise: readId(dec) }
    case 'profile': {
      const seq = readUint(dec)
      const name = readTextField(dec, version, MAX_NAME_BYTES)
      const m = readByte(dec)
      if (m > 1) throw new MalformedError('bad muted flag')
      return { kind, seq, name, muted: m === 1 }
    }
    case 'meta':
      return { kind, auth: readId(dec), title: readTextField(dec, version, MAX_TITLE_BYTES), topic: readTextField(dec, version, MAX_TOPIC_BYTES) }
    case 'end':
      return { kind, auth: readId(dec) }
    case 'redeem': {
      const len = readUint(dec)
      if (len > MAX_LINK_GRANT_BYTES) throw new MalformedError('link grant too large')
      const grant = readFixed(dec, len)
      const link = decodeLinkGrant(grant)
      if (!link) throw new MalformedError('bad link grant')
      return { kind, grant, proof: readFixed(dec, SIG_BYTES), link }
    }
    case 'key':
      return { kind, enc: readFixed(dec, ENC_KEY_BYTES) }
    case 'epoch':
      return {
        kind, auth: readId(dec), n: readUint(dec), parent: readId(dec), member: readFixed(dec, KEY_BYTES), check: readFixed(dec, CHECK_BYTES),
      }
    case 'seal':
      return { kind, auth: readId(dec), epoch: readId(dec), eph: readFixed(dec, ENC_KEY_BYTES), boxes: readBoxes(dec) }
    default:
      return readModerationBody(dec, kind)
  }
}
