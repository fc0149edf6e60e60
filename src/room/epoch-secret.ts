/**
 * Finding the secret of an epoch (docs/room-rules.md §8): one we already know
 * (the link's, or one opened before) whose check matches, or else our box.
 */
import { bytesEqual, toBase64url } from '../identity/index.ts'
import type { Epoch } from './derive/epochs.ts'
import { boxTag, keyCheck, openBox, type EncryptionKey } from './epoch-keys.ts'

/** The secret of `epoch` for the member with `identityKey`, or null when it holds none. Never throws. */
export function epochSecret(
  epoch: Epoch,
  roomId: string,
  identityKey: Uint8Array,
  enc: EncryptionKey,
  known: Iterable<Uint8Array>,
): Uint8Array | null {
  for (const s of known) if (bytesEqual(keyCheck(roomId, s), epoch.check)) return s
  for (const b of epoch.boxes.get(toBase64url(boxTag(identityKey))) ?? []) {
    const secret = openBox(enc, b.eph, b.box, epoch.n, roomId, epoch.check)
    if (secret) return secret
  }
  return null
}
