/**
 * Encryption of signalling payloads with a key derived from the room secret, so a
 * signalling server (ours or anyone's) sees only which topic is busy, never the SDP.
 *
 *   key    = HKDF-SHA256(ikm = room secret (32 bytes), salt = empty, info = "stoop/signal")
 *            used as an AES-GCM-256 key (non-extractable)
 *   sealed = base64url( 0x01 || iv (12 random bytes) || AES-GCM(key, iv, utf8(JSON(obj))) )
 *
 * Invariants: WebCrypto only (Node >= 20 and browsers, no Buffer); `openPayload` never throws
 * and returns null for anything it cannot authenticate (wrong key, truncated, garbage,
 * oversized); every sealed string differs (fresh IV), which the client uses to spot its own
 * echoes.
 */
import { MAX_SIGNAL_MESSAGE_BYTES } from './signal-protocol.ts'
import { fromBase64url, toBase64url } from '../identity/index.ts'
import { CodedError } from '../base/errors.ts'

export const ROOM_SECRET_BYTES = 32
const VERSION = 1
const IV_BYTES = 12
const TAG_BYTES = 16
const INFO = new TextEncoder().encode('stoop/signal')

/** Error thrown on misuse, with a stable `code`. */
export class RoomCryptoError extends CodedError<'bad-room-secret' | 'unsealable'> {}

/** Derives the signalling payload key from the 32-byte room secret. */
export async function deriveSignalKey(roomSecret: Uint8Array): Promise<CryptoKey> {
  if (!(roomSecret instanceof Uint8Array) || roomSecret.length !== ROOM_SECRET_BYTES) {
    throw new RoomCryptoError('bad-room-secret', `room secret must be ${ROOM_SECRET_BYTES} bytes`)
  }
  const base = await crypto.subtle.importKey('raw', roomSecret as Uint8Array<ArrayBuffer>, 'HKDF', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: INFO },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

/** Encrypts a JSON-serialisable value. Throws `unsealable` if it cannot be serialised. */
export async function sealPayload(key: CryptoKey, obj: unknown): Promise<string> {
  let json: string | undefined
  try {
    json = JSON.stringify(obj)
  } catch (cause) {
    throw new RoomCryptoError('unsealable', 'payload is not JSON-serialisable', { cause })
  }
  if (json === undefined) throw new RoomCryptoError('unsealable', 'payload is not JSON-serialisable')
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))
  const cipher = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(json)))
  const out = new Uint8Array(1 + IV_BYTES + cipher.length)
  out[0] = VERSION
  out.set(iv, 1)
  out.set(cipher, 1 + IV_BYTES)
  return toBase64url(out)
}

/**
 * Decrypts what `sealPayload` produced. Returns null (never throws) when the string is not
 * base64url, too long, of another version, fails authentication (wrong key) or is not JSON.
 */
export async function openPayload(key: CryptoKey, sealed: string, maxChars: number = MAX_SIGNAL_MESSAGE_BYTES): Promise<unknown | null> {
  if (typeof sealed !== 'string' || sealed.length > maxChars) return null
  const bytes = fromBase64url(sealed)
  if (bytes === null || bytes.length < 1 + IV_BYTES + TAG_BYTES || bytes[0] !== VERSION) return null
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(1, 1 + IV_BYTES) }, key, bytes.subarray(1 + IV_BYTES))
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain)) as unknown
  } catch {
    // Authentication failure (wrong key, tampered) or non-JSON plaintext: callers count the null.
    return null
  }
}

