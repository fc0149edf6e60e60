/**
 * The epoch actions of RoomActor (docs/room-rules.md §8), kept apart from actor.ts
 * like actor-moderation.ts: each is a function of the actor's core. They announce
 * our encryption key, write epoch 0, rotate to a new secret sealed to every member
 * but the banned, and seal the current secret to members who have no box yet.
 */
import { bytesEqual, fromBase64url, randomBytes } from '../identity/index.ts'
import { MAX_BOXES, type EntryBody } from './entry.ts'
import { RoomError } from './errors.ts'
import { blobId } from './codec.ts'
import { encryptionKey, keyCheck, membershipKey, sealSecret, EPOCH_SECRET_BYTES, type Recipient } from './epoch-keys.ts'
import type { RoomState } from './state.ts'
import type { ActorCore } from './actor-moderation.ts'

/** Writes our encryption key for this room, unless the log already has it. */
export async function announceKey(a: ActorCore): Promise<string | null> {
  const s = await a.member()
  const { publicKey } = await encryptionKey(a.identity, s.roomId)
  const known = s.epochs.encKeys.get(a.key)
  if (known && bytesEqual(known, publicKey)) return null
  return (await a.write([{ kind: 'key', enc: publicKey }]))[0]!
}

/** Writes epoch 0 (the links' secret) when the log has no epoch yet. */
export async function startEpochs(a: ActorCore, linkSecret: Uint8Array): Promise<string | null> {
  const s = await a.live()
  const auth = a.authority(s)
  if (s.epochs.chain.length > 0) return null
  return (await a.write([epochBody(s.roomId, auth, 0, s.genesisId!, linkSecret)]))[0]!
}

/** Starts a new epoch with `next`, writing our key and epoch 0 first when missing; the new epoch's id. */
export async function rotate(a: ActorCore, next: Uint8Array, linkSecret: Uint8Array): Promise<string> {
  if (next.length !== EPOCH_SECRET_BYTES) throw new RoomError('bad-argument', 'An epoch secret is 32 bytes')
  await announceKey(a)
  await startEpochs(a, linkSecret)
  const s = await a.live()
  const auth = a.authority(s)
  const parent = s.epochs.current!
  const epoch = await a.sign(epochBody(s.roomId, auth, parent.n + 1, parent.id, next))
  const epochId = blobId(epoch)
  await a.write(sealBodies(s, auth, epochId, parent.n + 1, next, [...s.epochs.encKeys.keys()]), a.now(), [epoch])
  return epochId
}

/** Seals the current epoch's `secret` to members who have no box yet; how many had none. */
export async function sealMissing(a: ActorCore, secret: Uint8Array): Promise<number> {
  const s = await a.live()
  const auth = a.authority(s)
  const cur = s.epochs.current
  if (!cur || cur.n === 0 || !bytesEqual(keyCheck(s.roomId, secret), cur.check)) return 0
  const bodies = sealBodies(s, auth, cur.id, cur.n, secret, s.epochs.unsealed)
  if (bodies.length > 0) await a.write(bodies)
  return s.epochs.unsealed.length
}

export function epochBody(roomId: string, auth: string, n: number, parent: string, secret: Uint8Array): EntryBody {
  return { kind: 'epoch', auth, n, parent, member: membershipKey(secret).publicKey, check: keyCheck(roomId, secret) }
}

/** Seal entries giving `secret` to each of `members` (a key entry each; banned ones are skipped). */
function sealBodies(s: RoomState, auth: string, epoch: string, n: number, secret: Uint8Array, members: readonly string[]): EntryBody[] {
  const recipients: Recipient[] = []
  for (const key of members) {
    const enc = s.epochs.encKeys.get(key)
    const identityKey = fromBase64url(key)
    if (enc && identityKey && !s.banned.has(key)) recipients.push({ identityKey, enc })
  }
  const bodies: EntryBody[] = []
  for (let i = 0; i < recipients.length; i += MAX_BOXES) {
    const { eph, boxes } = sealSecret(secret, n, s.roomId, recipients.slice(i, i + MAX_BOXES), randomBytes(32))
    if (boxes.length > 0) bodies.push({ kind: 'seal', auth, epoch, eph, boxes })
  }
  return bodies
}
