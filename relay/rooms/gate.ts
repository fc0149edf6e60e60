/**
 * The relay's gate for remote Yjs updates to a room doc it stores.
 *
 * First the room guard every replica runs (`checkRemoteUpdate`: size cap
 * before decoding, append-only, binary elements of the root `log` only). Then
 * what only a store needs: every element must decode as a room entry whose
 * room id hashes to this room's discovery key. The relay learns a room's id
 * from the first such entry (entries carry it in the clear; the discovery key
 * is a one-way hash of it, so nobody who knows only the discovery key can
 * write an entry that passes). This keeps other rooms' entries and junk out of
 * the stored doc. Signatures are checked afterwards by the RoomReplica (async);
 * signed-but-invalid entries stay in the doc and are ignored by every reader,
 * as on any replica.
 *
 * Pure: no I/O, never throws.
 */
import * as Y from 'yjs'
import { checkRemoteUpdate, decodeEntry, deriveDiscoveryKey, type GuardLimits, type GuardReason } from '../../src/room/index.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'

export type RoomGateReason = GuardReason | 'malformed-entry' | 'foreign-room'
export const ROOM_GATE_REASONS: readonly RoomGateReason[] = [
  'too-large',
  'undecodable',
  'has-deletes',
  'foreign-type',
  'bad-content',
  'entry-too-large',
  'too-many-entries',
  'malformed-entry',
  'foreign-room',
]

export type RoomGateResult = { ok: true; roomId: string | null; entries: number } | { ok: false; reason: RoomGateReason }

/**
 * Checks `update` for the room named by `discovery` (64 hex). `roomId` is the
 * room's id once known (saves hashing per entry). On success `roomId` is the
 * id the entries carry (null for an update without entries).
 */
export function checkRoomUpdate(update: Uint8Array, discovery: string, roomId: string | null, limits?: GuardLimits): RoomGateResult {
  const guard = checkRemoteUpdate(update, limits)
  if (!guard.ok) return { ok: false, reason: guard.reason }
  if (guard.entries === 0) return { ok: true, roomId, entries: 0 }
  let structs: Array<Y.Item | Y.GC | Y.Skip>
  try {
    structs = (Y.decodeUpdate(update) as { structs: Array<Y.Item | Y.GC | Y.Skip> }).structs
  } catch {
    // The guard decoded it a moment ago; counted as undecodable all the same.
    return { ok: false, reason: 'undecodable' }
  }
  let known = roomId
  for (const s of structs) {
    if (!(s instanceof Y.Item) || !(s.content instanceof Y.ContentBinary)) continue
    const entry = decodeEntry(s.content.content)
    if (!entry) return { ok: false, reason: 'malformed-entry' }
    if (known === null) {
      if (!belongsTo(entry.roomId, discovery)) return { ok: false, reason: 'foreign-room' }
      known = entry.roomId
    } else if (entry.roomId !== known) return { ok: false, reason: 'foreign-room' }
  }
  return { ok: true, roomId: known, entries: guard.entries }
}

/** Whether `roomId` hashes to the discovery key `discovery` (hex). */
export function belongsTo(roomId: string, discovery: string): boolean {
  try {
    return discoveryHex(deriveDiscoveryKey(roomId)) === discovery
  } catch {
    // Not a room id at all.
    return false
  }
}
