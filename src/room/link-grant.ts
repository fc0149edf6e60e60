/**
 * Link grants: a signed, portable promise "whoever holds this link may join as
 * speaker/moderator", carried in an invite link's fragment and embedded in the
 * joiner's `redeem` entry.
 *
 * Layout (fixed fields raw bytes):
 *   u8 magic 0x81 | roomId 16 | issuer 32 | auth 16 | u8 role (1 speaker, 2 moderator)
 *   | varuint issuedAt | varuint expiresAt (0 = never) | u8 singleUse | holder 32 | sig 64
 * The signature covers all preceding bytes. The magic byte differs from an
 * entry's version byte, so a link grant can never be replayed as an entry.
 *
 * Holder binding: `holder` is the public half of a one-time Ed25519 key whose
 * private seed travels in the link next to the grant (a "pass"). A redeem
 * carries `proof` = holder signature over ("stoop/redeem" || roomId || redeemer
 * key). A redeem entry puts the grant into the (room-readable) log, but not the
 * holder seed, so nobody who merely reads the log can redeem the same grant
 * for their own key, nor front-run a single-use grant with a backdated copy.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { concatBytes, keyId, toBase64url, type Identity } from '../identity/index.ts'
import {
  ID_BYTES, KEY_BYTES, ROOM_ID_BYTES, SIG_BYTES, MalformedError, blobId, idBytes, readByte, readFixed, readUint, writeFixed,
} from './codec.ts'

export const LINK_GRANT_MAGIC = 0x81
export const MAX_LINK_GRANT_BYTES = 256
export const HOLDER_SEED_BYTES = 32

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
  /** Public key of the one-time holder key (also makes every grant unique). */
  holder: Uint8Array
  signed: Uint8Array
  sig: Uint8Array
}

/** What an invite link carries: the signed grant and the holder's private seed. */
export interface LinkPass {
  grant: Uint8Array
  holderSeed: Uint8Array
}

export interface LinkGrantInput {
  roomId: string
  auth: string
  role: LinkRole
  issuedAt: number
  expiresAt?: number
  singleUse: boolean
}

const REDEEM_DOMAIN = new TextEncoder().encode('stoop/redeem')

/** The message a holder signs to bind a redeem to the redeemer's key. */
export function redeemProofMessage(roomId: string, redeemer: Uint8Array): Uint8Array {
  return concatBytes(REDEEM_DOMAIN, idBytes(roomId, 'roomId'), redeemer)
}

/** Signs a link grant with the issuer's identity, with a fresh one-time holder key. */
export async function createLinkGrant(issuer: Identity, input: LinkGrantInput): Promise<LinkPass> {
  const subtle = globalThis.crypto.subtle
  const pair = (await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair
  const jwk = await subtle.exportKey('jwk', pair.privateKey)
  const holderSeed = fromB64(jwk.d!)
  const holder = fromB64(jwk.x!)
  const enc = encoding.createEncoder()
  encoding.writeUint8(enc, LINK_GRANT_MAGIC)
  writeFixed(enc, idBytes(input.roomId, 'roomId'), ROOM_ID_BYTES)
  writeFixed(enc, issuer.publicKey, KEY_BYTES)
  writeFixed(enc, idBytes(input.auth, 'auth'), ID_BYTES)
  encoding.writeUint8(enc, input.role === 'moderator' ? 2 : 1)
  encoding.writeVarUint(enc, input.issuedAt)
  encoding.writeVarUint(enc, input.expiresAt ?? 0)
  encoding.writeUint8(enc, input.singleUse ? 1 : 0)
  writeFixed(enc, holder, KEY_BYTES)
  const signed = encoding.toUint8Array(enc)
  const sig = await issuer.sign(signed)
  return { grant: concatBytes(signed, sig), holderSeed }
}

/** Holder proof for a redeem by `redeemer` (throws RangeError on a malformed pass). */
export async function signRedeemProof(pass: LinkPass, roomId: string, redeemer: Uint8Array): Promise<Uint8Array> {
  const link = decodeLinkGrant(pass.grant)
  if (!link || pass.holderSeed.length !== HOLDER_SEED_BYTES) throw new RangeError('malformed link pass')
  const key = await globalThis.crypto.subtle.importKey(
    'jwk',
    { kty: 'OKP', crv: 'Ed25519', d: toBase64url(pass.holderSeed), x: toBase64url(link.holder) },
    { name: 'Ed25519' },
    false,
    ['sign'],
  )
  const msg = redeemProofMessage(roomId, redeemer) as Uint8Array<ArrayBuffer>
  return new Uint8Array(await globalThis.crypto.subtle.sign({ name: 'Ed25519' }, key, msg))
}

/** Pass <-> bytes for links: holder seed (32) followed by the grant. */
export function encodePass(pass: LinkPass): Uint8Array {
  return concatBytes(pass.holderSeed, pass.grant)
}

export function decodePass(bytes: Uint8Array): { pass: LinkPass; link: LinkGrant } | null {
  if (bytes.length <= HOLDER_SEED_BYTES) return null
  const grant = bytes.slice(HOLDER_SEED_BYTES)
  const link = decodeLinkGrant(grant)
  return link ? { pass: { holderSeed: bytes.slice(0, HOLDER_SEED_BYTES), grant }, link } : null
}

function fromB64(s: string): Uint8Array {
  return Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))
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
    const holder = readFixed(dec, KEY_BYTES)
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
      holder,
      signed: bytes.subarray(0, signedLen),
      sig,
    }
  } catch (err) {
    if (err instanceof MalformedError || err instanceof RangeError) return null
    throw err
  }
}
