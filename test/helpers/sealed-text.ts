/**
 * Sealed free text for tests that write entries by hand (docs/room-rules.md §9):
 * titles, topics and names are sealed under an epoch's secret before they are signed.
 */
import { fromBase64url, keyId, randomBytes, type Identity } from '../../src/identity/index.ts'
import { sealField, type TextFieldName, type TextKeys } from '../../src/room/reveal.ts'

/** A fixed epoch-0 secret for hand-built logs whose text nobody needs to read. */
export const TEST_TEXT_SECRET = new Uint8Array(32).fill(7)

/** `text` sealed for `field` of an entry by `author` in room `roomId` (epoch `n`, secret `secret`). */
export function sealedText(roomId: string, author: Identity | string, field: TextFieldName, text: string, secret: Uint8Array = TEST_TEXT_SECRET, n = 0): Uint8Array {
  const key = typeof author === 'string' ? author : keyId(author.publicKey)
  return sealField({ n, secret }, { roomId, author: key, field }, text, randomBytes(24))
}

/** Text keys for a RoomActor in a room that stays in epoch 0 (its link's `secret`). */
export function epochZeroTexts(secret: Uint8Array | string): TextKeys {
  const s = typeof secret === 'string' ? fromBase64url(secret)! : secret
  return { current: () => Promise.resolve({ n: 0, secret: s }), secret: (n) => (n === 0 ? s : null) }
}
