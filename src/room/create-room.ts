/**
 * Creating a room: the self-certifying genesis, by default the owner on stage, epoch 0
 * and the owner's encryption key, all in one transaction. Kept apart from actor.ts
 * (the actions on a room that exists); re-exported by the room barrel (index.ts).
 */
import * as Y from 'yjs'
import { keyId, randomBytes, toBase64url, type Identity } from '../identity/index.ts'
import { signEntry } from './entry.ts'
import { deriveDiscoveryKey, deriveRoomId } from './room-id.ts'
import { logOf } from './replica.ts'
import { blobId } from './codec.ts'
import { encryptionKey } from './epoch-keys.ts'
import { sealEntryText } from './actor-text.ts'
import { epochBody } from './actor-epochs.ts'

export interface CreateRoomOptions {
  title: string
  topic?: string
  /** Clock (ms). Defaults to Date.now. */
  now?: () => number
  /** Doc to write into (a fresh Y.Doc by default). */
  doc?: Y.Doc
  /** Put the owner on stage right away (invite + accept). Default true. */
  joinStage?: boolean
}

export interface CreatedRoom {
  doc: Y.Doc
  roomId: string
  /** 32 random bytes, base64url. Never written to the doc: it keys transport encryption (net/). */
  secret: string
  genesisId: string
  discoveryKey: Uint8Array
}

/** Creates a room: a self-certifying genesis (and by default the owner on stage) in one transaction. */
export async function createRoom(identity: Identity, opts: CreateRoomOptions): Promise<CreatedRoom> {
  const now = opts.now ?? Date.now
  const nonce = randomBytes(16)
  const roomId = deriveRoomId(identity.publicKey, nonce)
  const t = now()
  // Epoch 0's secret is the room's first links' (§8); the title and topic are sealed under it (§9).
  const secret = randomBytes(32)
  const key = { n: 0, secret }
  const author = keyId(identity.publicKey)
  const title = sealEntryText(key, roomId, author, 'title', opts.title)
  const topic = sealEntryText(key, roomId, author, 'topic', opts.topic ?? '')
  const genesis = await signEntry(identity, roomId, t, { kind: 'genesis', nonce, title, topic })
  const genesisId = blobId(genesis)
  const entries = [genesis]
  if (opts.joinStage ?? true) {
    const invite = await signEntry(identity, roomId, t, { kind: 'invite', auth: genesisId, subject: keyId(identity.publicKey) }, [genesisId])
    entries.push(invite, await signEntry(identity, roomId, t, { kind: 'accept', invite: blobId(invite) }, [blobId(invite)]))
  }
  // Epoch 0 (§8) from the start, so relays check membership from the room's first connection,
  // and the owner's encryption key, so every rotation seals to the owner.
  entries.push(await signEntry(identity, roomId, t, epochBody(roomId, genesisId, 0, genesisId, secret), [blobId(entries.at(-1)!)]))
  const { publicKey: enc } = await encryptionKey(identity, roomId)
  entries.push(await signEntry(identity, roomId, t, { kind: 'key', enc }, [blobId(entries.at(-1)!)]))
  const doc = opts.doc ?? new Y.Doc()
  const log = logOf(doc)
  doc.transact(() => log.push(entries))
  return { doc, roomId, secret: toBase64url(secret), genesisId, discoveryKey: deriveDiscoveryKey(roomId) }
}
