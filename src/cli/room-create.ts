/**
 * `stoop room create`: makes a room owned by a key on disk and prints its
 * links. The terminal that created the room need not stay online: the links
 * carry the owner's signed genesis, so the first peer to join seeds the room.
 */
import { parseArgs } from 'node:util'
import { loadOrCreateIdentity } from '../identity/store-node.ts'
import { formatInvite } from '../invite/index.ts'
import { createRoom, linkSeed, RoomActor, RoomReplica, type LinkRole } from '../room/index.ts'

export async function createRoomFromCli(args: string[], defaultKey: string): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      title: { type: 'string' },
      topic: { type: 'string', default: '' },
      key: { type: 'string', default: defaultKey },
      origin: { type: 'string', default: process.env.STOOP_ORIGIN ?? 'http://localhost:8787' },
      json: { type: 'boolean', default: false },
    },
  })
  const title = values.title?.trim()
  if (!title) {
    process.stderr.write('stoop: a room needs a title: stoop room create --title "Friday chat"\n')
    return 2
  }
  const identity = await loadOrCreateIdentity(values.key!)
  const links = await createRoomLinks(identity, { title, topic: values.topic!, origin: values.origin! })
  if (values.json) process.stdout.write(JSON.stringify(links) + '\n')
  else {
    process.stdout.write(`Room "${title}" (${links.roomId})\n`)
    process.stdout.write(`Moderator link (joins as moderator; keep it private):\n  ${links.moderator}\n`)
    process.stdout.write(`Speaker link (single use, joins on stage):\n  ${links.speaker}\n`)
    process.stdout.write(`Listener link (share this):\n  ${links.listener}\n`)
  }
  return 0
}

export interface RoomLinks {
  roomId: string
  moderator: string
  speaker: string
  listener: string
}

/** What every link of a room carries: where the app is, the room, its secret and (so the first joiner can seed it) its genesis. */
export interface LinkBase {
  origin: string
  roomId: string
  secret: string
  genesis?: Uint8Array
  /** Epoch 0 and the owner's key (invite link `s=`). */
  seed?: Uint8Array[]
  /** The secret's epoch (invite link `e=`). */
  epoch?: number
}

/** Links `actor` may mint under the room rules (docs/room-rules.md §5): moderator (reusable; owner only), speaker (single use; owner or moderator), listener. */
export async function mintLinks(actor: RoomActor, base: LinkBase): Promise<{ moderator: string | null; speaker: string; listener: string }> {
  const withGrant = async (role: LinkRole, singleUse: boolean): Promise<string> => formatInvite({ ...base, grant: await actor.createLinkGrant({ role, singleUse }) })
  await actor.replica.whenSettled() // the role is read from the verified state
  return {
    moderator: actor.role === 'owner' ? await withGrant('moderator', false) : null,
    speaker: await withGrant('speaker', true),
    listener: formatInvite(base),
  }
}

/** Creates a room and its three links: moderator (reusable), speaker (single use), listener. */
export async function createRoomLinks(
  identity: Parameters<typeof createRoom>[0],
  opts: { title: string; topic: string; origin: string },
): Promise<RoomLinks> {
  const room = await createRoom(identity, { title: opts.title, topic: opts.topic, joinStage: false })
  const replica = new RoomReplica(room.doc, { roomId: room.roomId })
  try {
    await replica.whenSettled()
    const genesis = room.doc.getArray<Uint8Array>('log').get(0)
    const seed = linkSeed(replica.index, replica.state)
    const links = await mintLinks(new RoomActor(replica, identity), { origin: opts.origin, roomId: room.roomId, secret: room.secret, genesis, seed })
    return { roomId: room.roomId, moderator: links.moderator!, speaker: links.speaker, listener: links.listener }
  } finally {
    replica.destroy()
  }
}
