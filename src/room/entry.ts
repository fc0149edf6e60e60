/**
 * Signed log entries: the only thing ever written to a room doc.
 *
 * Layout: u8 version (3) | u8 kind | roomId 16 | author pubkey 32 | varuint time ms
 *         | u8 n | n prev ids 16 each | kind-specific body | signature 64 over all preceding bytes.
 * `prev` names the entries its author had seen (the heads of its log, at most
 * MAX_PREV, in increasing byte order): the causal order of docs/room-rules.md §3a.
 * Version 1 (written before causal references) has no `n | prev` and is still
 * read, as an entry that names nothing as seen; it is never written. Version 3
 * seals free text (title, topic, name) under an epoch's secret (entry-text.ts);
 * versions 1 and 2 carry it plain and are still read, never written.
 * References to other entries are their 16-byte ids (raw in the binary form,
 * base64url in the decoded form). Entry id = base64url(sha256(entry bytes)[0..16]).
 *
 * Privileged kinds carry `auth`: the id of the entry that gives the author the
 * power to write it (the genesis for the owner, a moderator grant or moderator
 * redeem for a moderator). See docs/room-rules.md.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { keyId, type Identity } from '../identity/index.ts'
import {
  ID_BYTES, KEY_BYTES, ROOM_ID_BYTES, SIG_BYTES, MalformedError, blobId, fromBase64url, idBytes, readByte, readFixed, readUint,
  toBase64url, writeFixed,
} from './codec.ts'
import { decodeLinkGrant, MAX_LINK_GRANT_BYTES, type LinkGrant } from './link-grant.ts'
import { isModerationBody, readModerationBody, writeModerationBody, type ModerationBody } from './entry-moderation.ts'
import { readTextField, writeSealedField, type TextField } from './entry-text.ts'

export const ENTRY_VERSION = 3
/** The format before causal references: read, never written. */
export const LEGACY_ENTRY_VERSION = 1
/** The format before sealed text (free text in plain UTF-8): read, never written. */
export const PLAIN_TEXT_ENTRY_VERSION = 2
/** Bound on `prev`: the heads of a busy room fit, and an entry stays small (17 bytes for one head). */
export const MAX_PREV = 8
/** Hard cap on one entry; larger blobs in the log are 'malformed'. */
export const MAX_ENTRY_BYTES = 2048
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
const KIND_NAMES = Object.keys(KIND) as EntryKind[]

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

/** An entry as decoded from the log. The signature is NOT verified by decoding. */
export type Entry = DecodedBody & {
  id: string
  bytes: Uint8Array
  version: typeof ENTRY_VERSION | typeof PLAIN_TEXT_ENTRY_VERSION | typeof LEGACY_ENTRY_VERSION
  /** Ids of the entries its author had seen (empty for version 1). */
  prev: readonly string[]
  roomId: string
  author: string
  authorKey: Uint8Array
  time: number
  /** The bytes the signature covers. */
  signed: Uint8Array
  sig: Uint8Array
}

function writeKey(enc: encoding.Encoder, id: string): void {
  const bytes = fromBase64url(id)
  if (!bytes || bytes.length !== KEY_BYTES) throw new RangeError('subject is not a 32-byte base64url key')
  writeFixed(enc, bytes, KEY_BYTES)
}

function writeBody(enc: encoding.Encoder, body: EntryBody): void {
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

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

/** `prev` in its one canonical form (sorted by bytes, no repeats), so an entry cannot be re-encoded under another id. */
function writePrev(enc: encoding.Encoder, prev: readonly string[]): void {
  const ids = [...new Set(prev)].map((id) => idBytes(id, 'prev')).sort(compareBytes)
  if (ids.length > MAX_PREV) throw new RangeError(`more than ${MAX_PREV} prev references`)
  encoding.writeUint8(enc, ids.length)
  for (const id of ids) writeFixed(enc, id, ID_BYTES)
}

function readPrev(dec: decoding.Decoder): string[] {
  const n = readByte(dec)
  if (n > MAX_PREV) throw new MalformedError('too many prev references')
  const ids: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const id = readFixed(dec, ID_BYTES)
    if (i > 0 && compareBytes(ids[i - 1]!, id) >= 0) throw new MalformedError('prev not in increasing order')
    ids.push(id)
  }
  return ids.map(toBase64url)
}

/** The unsigned part of an entry (what the signature covers). Throws RangeError on bad input. */
export function encodeUnsigned(roomId: string, author: Uint8Array, time: number, body: EntryBody, prev: readonly string[] = []): Uint8Array {
  if (!Number.isSafeInteger(time) || time < 0) throw new RangeError('time must be a non-negative integer (ms)')
  const enc = encoding.createEncoder()
  encoding.writeUint8(enc, ENTRY_VERSION)
  encoding.writeUint8(enc, KIND[body.kind])
  writeFixed(enc, idBytes(roomId, 'roomId'), ROOM_ID_BYTES)
  writeFixed(enc, author, KEY_BYTES)
  encoding.writeVarUint(enc, time)
  writePrev(enc, prev)
  if (isModerationBody(body)) writeModerationBody(enc, body)
  else writeBody(enc, body)
  return encoding.toUint8Array(enc)
}

/** Appends a signature to unsigned bytes. */
export function attachSignature(unsigned: Uint8Array, sig: Uint8Array): Uint8Array {
  if (sig.length !== SIG_BYTES) throw new RangeError('signature must be 64 bytes')
  const out = new Uint8Array(unsigned.length + SIG_BYTES)
  out.set(unsigned)
  out.set(sig, unsigned.length)
  if (out.length > MAX_ENTRY_BYTES) throw new RangeError(`entry larger than ${MAX_ENTRY_BYTES} bytes`)
  return out
}

/** Encodes and signs an entry naming `prev` as seen; returns the bytes to append to the log. */
export async function signEntry(identity: Identity, roomId: string, time: number, body: EntryBody, prev: readonly string[] = []): Promise<Uint8Array> {
  const unsigned = encodeUnsigned(roomId, identity.publicKey, time, body, prev)
  if (unsigned.length + SIG_BYTES > MAX_ENTRY_BYTES) throw new RangeError(`entry larger than ${MAX_ENTRY_BYTES} bytes`)
  return attachSignature(unsigned, await identity.sign(unsigned))
}

/** Id of an entry: base64url(sha256(bytes)[0..16]). */
export const entryId = blobId

function readId(dec: decoding.Decoder): string {
  return toBase64url(readFixed(dec, ID_BYTES))
}

function readKeyId(dec: decoding.Decoder): string {
  return keyId(readFixed(dec, KEY_BYTES))
}

function readBody(dec: decoding.Decoder, kind: EntryKind, version: number): DecodedBody {
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

/**
 * Decodes one log element. Returns null for anything malformed (wrong type,
 * too large, unknown version/kind, truncated, trailing bytes, bad UTF-8).
 * `id` may be passed when the caller already hashed the bytes.
 */
export function decodeEntry(bytes: unknown, id?: string): Entry | null {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_ENTRY_BYTES) return null
  try {
    const dec = decoding.createDecoder(bytes)
    const version = readByte(dec)
    if (version !== ENTRY_VERSION && version !== PLAIN_TEXT_ENTRY_VERSION && version !== LEGACY_ENTRY_VERSION) return null
    const kind = KIND_NAMES[readByte(dec)]
    if (kind === undefined) return null
    const roomId = toBase64url(readFixed(dec, ROOM_ID_BYTES))
    const authorKey = readFixed(dec, KEY_BYTES)
    const time = readUint(dec)
    const prev = version === LEGACY_ENTRY_VERSION ? [] : readPrev(dec)
    const body = readBody(dec, kind, version)
    const signedLen = dec.pos
    const sig = readFixed(dec, SIG_BYTES)
    if (dec.pos !== bytes.length) return null
    return {
      ...body,
      id: id ?? blobId(bytes),
      bytes,
      version: version as Entry['version'],
      prev,
      roomId,
      author: keyId(authorKey),
      authorKey,
      time,
      signed: bytes.subarray(0, signedLen),
      sig,
    }
  } catch (err) {
    if (err instanceof MalformedError || err instanceof RangeError) return null
    throw err
  }
}

/**
 * The entry ids a body names: its authority, target, invite, seat or raise (a
 * revoke's target may also be a link grant id). A version-1 entry, which has no
 * `prev`, is taken to have seen exactly these.
 */
export function bodyRefs(e: DecodedBody): string[] {
  const refs: string[] = []
  if ('auth' in e) refs.push(e.auth)
  if ('target' in e) refs.push(e.target)
  if ('invite' in e) refs.push(e.invite)
  if ('seat' in e) refs.push(e.seat)
  if ('raise' in e) refs.push(e.raise)
  return refs
}
