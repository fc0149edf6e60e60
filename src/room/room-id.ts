/**
 * Self-certifying room ids and discovery keys.
 *
 *   roomId       = sha256("stoop/room" || ownerPub || nonce)[0..16]
 *   discoveryKey = sha256("stoop/discovery" || roomIdBytes)
 *
 * The room id commits to the owner's key, so only the owner can write the
 * genesis that makes a room valid; the discovery key is a one-way hash used for
 * signalling and hyperswarm topics, so those never see the id itself.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, toBase64url } from '../identity/index.ts'
import { ROOM_ID_BYTES, fromBase64url, idBytes } from './codec.ts'

const ROOM_DOMAIN = new TextEncoder().encode('stoop/room')
const DISCOVERY_DOMAIN = new TextEncoder().encode('stoop/discovery')

/** The room id (base64url, 22 chars) an owner key and genesis nonce derive. */
export function deriveRoomId(ownerPub: Uint8Array, nonce: Uint8Array): string {
  return toBase64url(sha256(concatBytes(ROOM_DOMAIN, ownerPub, nonce)).subarray(0, ROOM_ID_BYTES))
}

/** 32-byte discovery key for signalling / DHT topics. Throws RangeError when roomId is not a room id. */
export function deriveDiscoveryKey(roomId: string): Uint8Array {
  return sha256(concatBytes(DISCOVERY_DOMAIN, idBytes(roomId, 'roomId')))
}

/** True when `text` is syntactically a room id (16 bytes base64url). */
export function isRoomId(text: string): boolean {
  const b = fromBase64url(text)
  return b !== null && b.length === ROOM_ID_BYTES
}
