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
 * The kinds and what their bodies carry are in entry-body.ts (chat and moderation
 * kinds in entry-moderation.ts); this module frames a body into a signed entry.
 *
 * Privileged kinds carry `auth`: the id of the entry that gives the author the
 * power to write it (the genesis for the owner, a moderator grant or moderator
 * redeem for a moderator). See docs/room-rules.md.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { keyId, type Identity } from '../identity/index.ts'
import { ID_BYTES, KEY_BYTES, ROOM_ID_BYTES, SIG_BYTES, MalformedError, blobId, idBytes, readByte, readFixed, readUint, toBase64url, writeFixed } from './codec.ts'
import { isModerationBody, writeModerationBody } from './entry-moderation.ts'
import { KIND, KIND_NAMES, readBody, writeBody, type DecodedBody, type EntryBody } from './entry-body.ts'

export {
  MAX_TITLE_BYTES, MAX_TOPIC_BYTES, MAX_NAME_BYTES, NONCE_BYTES, ENC_KEY_BYTES, CHECK_BYTES, BOX_TAG_BYTES, BOX_BYTES, MAX_BOXES, KIND,
  type EntryKind, type EntryBody, type SealedBox, type DecodedBody,
} from './entry-body.ts'

export const ENTRY_VERSION = 3
/** The format before causal references: read, never written. */
export const LEGACY_ENTRY_VERSION = 1
/** The format before sealed text (free text in plain UTF-8): read, never written. */
export const PLAIN_TEXT_ENTRY_VERSION = 2
/** Bound on `prev`: the heads of a busy room fit, and an entry stays small (17 bytes for one head). */
export const MAX_PREV = 8
/** Hard cap on one entry; larger blobs in the log are 'malformed'. */
export const MAX_ENTRY_BYTES = 2048

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
