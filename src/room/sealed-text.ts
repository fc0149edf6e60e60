/**
 * Free text a relay must not read (docs/room-rules.md §8): titles, display
 * names, chat. Sealed under a key derived from an epoch's secret, so only
 * members who hold that epoch's secret read it, and a banned member reads
 * nothing written after the ban's rotation.
 *
 *   key    = HKDF-SHA256(secret, salt roomId, "stoop/text/v1")
 *   sealed = varuint n (the epoch number) | nonce 24 | XChaCha20-Poly1305(key, nonce, padded text, aad)
 *   aad    = "stoop/text/v1" | roomId | author key | field | n
 *
 * The aad binds a ciphertext to its room, author, field and epoch: copied into
 * another entry or field it no longer opens. The text is padded to a multiple
 * of 32 bytes (0x80 then zeros) so lengths leak only coarsely. Random 24-byte
 * nonces are safe under one key for far more messages than a room writes.
 *
 * Pure functions over bytes (the nonce is passed in); opening never throws.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

export const TEXT_NONCE_BYTES = 24
const TAG_BYTES = 16
const PAD_BLOCK = 32

/** Where a sealed text sits: its room, its author (key id) and the field it fills. */
export interface TextContext {
  roomId: string
  author: string
  field: string
}

const te = new TextEncoder()
const td = new TextDecoder('utf-8', { fatal: true })

/** Derived keys per secret object and room: presence and chat open many texts under one epoch. */
const keys = new WeakMap<Uint8Array, Map<string, Uint8Array>>()

function textKey(secret: Uint8Array, roomId: string): Uint8Array {
  let byRoom = keys.get(secret)
  if (!byRoom) keys.set(secret, (byRoom = new Map()))
  let key = byRoom.get(roomId)
  if (!key) byRoom.set(roomId, (key = hkdf(sha256, secret, te.encode(roomId), te.encode('stoop/text/v1'), 32)))
  return key
}

function aad(ctx: TextContext, n: number): Uint8Array {
  return te.encode(`stoop/text/v1\n${ctx.roomId}\n${ctx.author}\n${ctx.field}\n${n}`)
}

function pad(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil((bytes.length + 1) / PAD_BLOCK) * PAD_BLOCK)
  out.set(bytes)
  out[bytes.length] = 0x80
  return out
}

function unpad(bytes: Uint8Array): Uint8Array | null {
  let end = bytes.length - 1
  while (end >= 0 && bytes[end] === 0) end--
  return end >= 0 && bytes[end] === 0x80 ? bytes.subarray(0, end) : null
}

/** The sealed bytes of `text` in epoch `n` (whose secret is `secret`). `nonce`: 24 random bytes. */
export function sealText(secret: Uint8Array, n: number, ctx: TextContext, text: string, nonce: Uint8Array): Uint8Array {
  if (nonce.length !== TEXT_NONCE_BYTES) throw new RangeError(`a text nonce is ${TEXT_NONCE_BYTES} bytes`)
  const ct = xchacha20poly1305(textKey(secret, ctx.roomId), nonce, aad(ctx, n)).encrypt(pad(te.encode(text)))
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, n)
  encoding.writeUint8Array(enc, nonce)
  encoding.writeUint8Array(enc, ct)
  return encoding.toUint8Array(enc)
}

/** The epoch number a sealed text was written in, or null when the bytes are not a sealed text. */
export function sealedEpoch(sealed: Uint8Array): number | null {
  return parse(sealed)?.n ?? null
}

/** The text, or null when `secret` is not its epoch's, the context differs, or the bytes were altered. */
export function openText(secret: Uint8Array, ctx: TextContext, sealed: Uint8Array): string | null {
  const p = parse(sealed)
  if (!p) return null
  try {
    const padded = unpad(xchacha20poly1305(textKey(secret, ctx.roomId), p.nonce, aad(ctx, p.n)).decrypt(p.ct))
    return padded ? td.decode(padded) : null
  } catch {
    // A wrong key, an altered byte or invalid UTF-8: unreadable, never an exception.
    return null
  }
}

/** Upper bound of the sealed size of a text of `textBytes` UTF-8 bytes (for size caps). */
export function sealedSize(textBytes: number): number {
  return 5 + TEXT_NONCE_BYTES + Math.ceil((textBytes + 1) / PAD_BLOCK) * PAD_BLOCK + TAG_BYTES
}

function parse(sealed: Uint8Array): { n: number; nonce: Uint8Array; ct: Uint8Array } | null {
  try {
    const dec = decoding.createDecoder(sealed)
    const n = decoding.readVarUint(dec)
    const rest = sealed.subarray(dec.pos)
    if (!Number.isSafeInteger(n) || rest.length < TEXT_NONCE_BYTES + TAG_BYTES + PAD_BLOCK) return null
    return { n, nonce: rest.subarray(0, TEXT_NONCE_BYTES), ct: rest.subarray(TEXT_NONCE_BYTES) }
  } catch {
    return null
  }
}
