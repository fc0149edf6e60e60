/**
 * Link grants: a signed, portable promise "whoever holds this link may join as
 * speaker/moderator", carried in an invite link's fragment and embedded in the
 * joiner's `redeem` entry.
 *
 * Layout (all fixed fields raw bytes):
 *   u8 magic 0x81 | roomId 16 | issuer 32 | auth 16 | u8 role (1 speaker, 2 moderator)
 *   | varuint issuedAt | varuint expiresAt (0 = never) | u8 singleUse | nonce 16 | sig 64
 * The signature covers all preceding bytes. The magic byte differs from an
 * entry's version byte, so a link grant can never be replayed as an entry.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { keyId, randomBytes, type Identity } from '../identity/index.ts'
import {
  ID_BYTES, KEY_BYTES, ROOM_ID_BYTES, SIG_BYTES, MalformedError, blobId, idBytes, readByte, readFixed, readUint, toBase64url, writeFixed,
} from './codec.ts'

export const LINK_GRANT_MAGIC = 0x81
export const MAX_LINK_GRANT_BYTES = 256

export type LinkRole = 'speaker' | 'moderator'

export interface LinkGrant {
  id: string
  bytes: Uint8Array
  roomId: string
  issuer: string
  issuerKey: Uint8Array
  /** Id of the entry that gives the issuer its power (genesis or a moderator grant/redeem). */
  auth: string
  role: LinkRole
  issuedAt: number
  /** Absent when the grant does not expire. */
  expiresAt?: number
  singleUse: boolean
  nonce: Uint8Array
  signed: Uint8Array
  sig: Uint8Array
}

export interface LinkGrantInput {
  roomId: string
  auth: string
  role: LinkRole
  issuedAt: number
  expiresAt?: number
  singleUse: boolean
  nonce?: Uint8Array
}

/** Signs a link grant with the issuer's identity. */
export async function createLinkGrant(issuer: Identity, input: LinkGrantInput): Promise<Uint8Array> {
  const enc = encoding.createEncoder()
  encoding.writeUint8(enc, LINK_GRANT_MAGIC)
  writeFixed(enc, idBytes(input.roomId, 'roomId'), ROOM_ID_BYTES)
  writeFixed(enc, issuer.publicKey, KEY_BYTES)
  writeFixed(enc, idBytes(input.auth, 'auth'), ID_BYTES)
  encoding.writeUint8(enc, input.role === 'moderator' ? 2 : 1)
  encoding.writeVarUint(enc, input.issuedAt)
  encoding.writeVarUint(enc, input.expiresAt ?? 0)
  encoding.writeUint8(enc, input.singleUse ? 1 : 0)
  writeFixed(enc, input.nonce ?? randomBytes(16), 16)
  const signed = encoding.toUint8Array(enc)
  const sig = await issuer.sign(signed)
  const out = new Uint8Array(signed.length + SIG_BYTES)
  out.set(signed)
  out.set(sig, signed.length)
  return out
}

/** Decodes a link grant (signature not checked here); `null` when malformed. */
export function decodeLinkGrant(bytes: Uint8Array): LinkGrant | null {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_LINK_GRANT_BYTES) return null
  try {
    const dec = decoding.createDecoder(bytes)
    if (readByte(dec) !== LINK_GRANT_MAGIC) return null
    const roomId = toBase64url(readFixed(dec, ROOM_ID_BYTES))
    const issuerKey = readFixed(dec, KEY_BYTES)
    const auth = toBase64url(readFixed(dec, ID_BYTES))
    const roleByte = readByte(dec)
    if (roleByte !== 1 && roleByte !== 2) return null
    const issuedAt = readUint(dec)
    const expiresAt = readUint(dec)
    const single = readByte(dec)
    if (single > 1) return null
    const nonce = readFixed(dec, 16)
    const signedLen = dec.pos
    const sig = readFixed(dec, SIG_BYTES)
    if (dec.pos !== bytes.length) return null
    return {
      id: blobId(bytes),
      bytes,
      roomId,
      issuer: keyId(issuerKey),
      issuerKey,
      auth,
      role: roleByte === 2 ? 'moderator' : 'speaker',
      issuedAt,
      ...(expiresAt > 0 ? { expiresAt } : {}),
      singleUse: single === 1,
      nonce,
      signed: bytes.subarray(0, signedLen),
      sig,
    }
  } catch (err) {
    if (err instanceof MalformedError || err instanceof RangeError) return null
    throw err
  }
}
