/**
 * The keys of an epoch (docs/room-rules.md §8), all derived from its 32-byte secret.
 *
 *   key check   c      = HMAC-SHA256(HKDF(secret, "stoop/link-check"), roomId)[0..12]   (the link's `c=`)
 *   membership  seed   = HKDF(secret, "stoop/member"); Ed25519 key pair from seed; its public half
 *                        is in the epoch entry, so a relay checks membership without the secret
 *   topic              = HKDF(secret, "stoop/topic")  (signalling and hyperswarm, epochs >= 1)
 *   member encryption  priv = HKDF(Ed25519 signature of "stoop/enc-key/v1" || roomId by the
 *                        identity, "stoop/enc"); X25519. Ed25519 signatures are deterministic
 *                        (RFC 8032), so a device re-derives its key for a room from its identity
 *                        and stores nothing new; a non-extractable identity key is enough.
 *   box                = secret XOR HKDF(X25519(eph, member), salt eph || member,
 *                        "stoop/epoch-box" || roomId || n). Each (eph, member) pair is used once,
 *                        so the one-time pad is sound; integrity comes from the signed check: a
 *                        box that opens to a secret whose check differs is refused.
 *
 * Pure functions over bytes (the randomness for a new epoch is passed in); no I/O.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesEqual, verifySignature, type Identity } from '../identity/index.ts'
import { BOX_BYTES, BOX_TAG_BYTES, CHECK_BYTES, ENC_KEY_BYTES } from './entry.ts'

export const EPOCH_SECRET_BYTES = 32

const te = new TextEncoder()
const derive = (secret: Uint8Array, info: string, salt: Uint8Array = new Uint8Array(0)): Uint8Array => hkdf(sha256, secret, salt, te.encode(info), 32)

/** The key check of `secret` for `roomId`: the link's `c=` and the epoch entry's `check`. */
export function keyCheck(roomId: string, secret: Uint8Array): Uint8Array {
  return hmac(sha256, derive(secret, 'stoop/link-check'), te.encode(roomId)).subarray(0, CHECK_BYTES)
}

export interface MembershipKey {
  /** 32-byte Ed25519 seed (secret). */
  seed: Uint8Array
  /** 32-byte Ed25519 public key (in the epoch entry). */
  publicKey: Uint8Array
}

/** The epoch's membership key pair: whoever holds the secret can sign with it. */
export function membershipKey(secret: Uint8Array): MembershipKey {
  const seed = derive(secret, 'stoop/member')
  return { seed, publicKey: ed25519.getPublicKey(seed) }
}

/** A membership proof over `msg` (e.g. a relay's challenge). */
export function proveMembership(key: MembershipKey, msg: Uint8Array): Uint8Array {
  return ed25519.sign(msg, key.seed)
}

/**
 * Checks a membership proof against the public half an epoch entry carries, in pure JavaScript
 * (~3 ms of the calling thread). Never throws. `verifyMembershipAsync` is the same check without
 * the blocking.
 */
export function verifyMembership(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    return ed25519.verify(sig, msg, publicKey, { zip215: false })
  } catch {
    // A malformed key or signature from the network is a failed proof, not an error.
    return false
  }
}

/**
 * `verifyMembership` through WebCrypto (src/identity `verifySignature`): ~0.1 ms of native work
 * instead of ~3 ms of JavaScript on the caller's thread, so a relay that checks every
 * connection's proof keeps forwarding audio meanwhile. Strict RFC 8032 like the pure check
 * (S < L and the canonical R are required: a malleated signature fails), and stricter on keys:
 * a public key that is not canonical or is of small order proves nothing. Never throws.
 */
export function verifyMembershipAsync(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  return verifySignature(publicKey, msg, sig)
}

/** The signalling / hyperswarm topic of an epoch after the first (epoch 0 keeps the room's discovery key). */
export function epochTopic(secret: Uint8Array): Uint8Array {
  return derive(secret, 'stoop/topic')
}

export interface EncryptionKey {
  /** X25519 private key. */
  secretKey: Uint8Array
  /** X25519 public key (in the member's `key` entry). */
  publicKey: Uint8Array
}

/** A member's encryption key for one room, re-derived from its identity (see the module comment). */
export async function encryptionKey(identity: Identity, roomId: string): Promise<EncryptionKey> {
  const sig = await identity.sign(te.encode(`stoop/enc-key/v1 ${roomId}`))
  const secretKey = derive(sig, 'stoop/enc')
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) }
}

/** The tag that names a box's recipient: the first bytes of its identity key. */
export function boxTag(identityKey: Uint8Array): Uint8Array {
  return identityKey.subarray(0, BOX_TAG_BYTES)
}

function pad(shared: Uint8Array, eph: Uint8Array, member: Uint8Array, roomId: string, n: number): Uint8Array {
  const salt = new Uint8Array(2 * ENC_KEY_BYTES)
  salt.set(eph)
  salt.set(member, ENC_KEY_BYTES)
  return derive(shared, `stoop/epoch-box ${roomId} ${n}`, salt)
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(BOX_BYTES)
  for (let i = 0; i < BOX_BYTES; i++) out[i] = a[i]! ^ b[i]!
  return out
}

export interface Recipient {
  identityKey: Uint8Array
  /** Its X25519 encryption key. */
  enc: Uint8Array
}

/** Seals `secret` of epoch `n` to each recipient under one ephemeral key (`ephSecret`: 32 random bytes; one seal entry). */
export function sealSecret(secret: Uint8Array, n: number, roomId: string, recipients: readonly Recipient[], ephSecret: Uint8Array) {
  const eph = x25519.getPublicKey(ephSecret)
  const boxes = recipients.map((r) => {
    let shared: Uint8Array
    try {
      shared = x25519.getSharedSecret(ephSecret, r.enc)
    } catch {
      // A low-order key announced by a member: nothing can be sealed to it.
      return null
    }
    return { to: boxTag(r.identityKey), box: xor(secret, pad(shared, eph, r.enc, roomId, n)) }
  })
  return { eph, boxes: boxes.filter((b) => b !== null) }
}

/** Opens a box with our encryption key; null unless the result matches the epoch's check. Never throws. */
export function openBox(key: EncryptionKey, eph: Uint8Array, box: Uint8Array, n: number, roomId: string, check: Uint8Array): Uint8Array | null {
  try {
    const secret = xor(box, pad(x25519.getSharedSecret(key.secretKey, eph), eph, key.publicKey, roomId, n))
    return bytesEqual(keyCheck(roomId, secret), check) ? secret : null
  } catch {
    // A low-order ephemeral key in a forged epoch entry.
    return null
  }
}
