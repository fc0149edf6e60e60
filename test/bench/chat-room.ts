/**
 * A room whose chat holds `messages` messages, for the chat bench: written by a few
 * members through the room model (RoomActor.sendChat: signed entries, the text sealed
 * under epoch 0's secret, which the room's links carry), each author within the chat
 * rate (§10: 5 per 10 s), on a clock that ends a minute before now, so every replica
 * reads them as past messages. Also the room's listener link.
 */
import * as Y from 'yjs'
import { generateIdentity, type Identity } from '../../src/identity/index.ts'
import { createRoom, linkSeed, logOf, RoomActor, RoomReplica } from '../../src/room/index.ts'
import { mintLinks } from '../../src/cli/room-create.ts'
import { epochZeroTexts } from '../helpers/sealed-text.ts'

/** Room time between two messages: with AUTHORS writing in turn, one author writes every 2.5 s (4 per 10 s). */
const STEP_MS = 500
const AUTHORS = 5

export interface ChatRoom {
  doc: Y.Doc
  roomId: string
  /** Epoch 0's secret (base64url), as the links carry it. */
  secret: string
  owner: Identity
  listener: string
  /** The text of message i (1-based in the text, so the last one is easy to spot in a page). */
  texts: string[]
}

/** "message 17 from Author 2: ..." padded to a typical chat length (about 60-120 characters). */
export function messageText(i: number, author: number): string {
  const words = 'so glad this room exists tonight, the last point about relays was great'.split(' ')
  return `message ${i + 1} from Author ${author + 1}: ${words.slice(0, 4 + (i % words.length)).join(' ')}`
}

export async function buildChatRoom(messages: number, origin: string): Promise<ChatRoom> {
  let clock = Date.now() - 60_000 - messages * STEP_MS
  const now = (): number => clock
  const owner = await generateIdentity()
  const room = await createRoom(owner, { title: 'Chat bench', topic: `${messages} messages`, now, joinStage: false })
  const replica = new RoomReplica(room.doc, { roomId: room.roomId, now })
  const texts = epochZeroTexts(room.secret)
  const authors = await Promise.all(Array.from({ length: AUTHORS }, () => generateIdentity()))
  const actors = authors.map((id) => new RoomActor(replica, id, { now, texts }))
  try {
    for (const [i, a] of actors.entries()) await a.setProfile({ name: `Author ${i + 1}` })
    const sent: string[] = []
    for (let i = 0; i < messages; i++) {
      clock += STEP_MS
      const text = messageText(i, i % AUTHORS)
      await actors[i % AUTHORS]!.sendChat(text)
      sent.push(text)
    }
    await replica.whenSettled()
    if (replica.state.chat.length !== messages) throw new Error(`the room shows ${replica.state.chat.length}/${messages} messages`)
    const genesis = logOf(room.doc).get(0)
    const seed = linkSeed(replica.index, replica.state)
    const links = await mintLinks(new RoomActor(replica, owner), { origin, roomId: room.roomId, secret: room.secret, genesis, seed })
    return { doc: room.doc, roomId: room.roomId, secret: room.secret, owner, listener: links.listener, texts: sent }
  } finally {
    replica.destroy()
  }
}
