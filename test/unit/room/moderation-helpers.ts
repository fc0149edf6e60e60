/**
 * A live room for the chat and moderation tests (docs/room-rules.md §10): one
 * shared doc, everybody's real actor writing to it with the room's epoch-0
 * secret for sealing, a controllable clock, and `inject` for the attacker's
 * hand-signed entries (it chooses the time and what it names as seen).
 */
import type { Identity } from '../../../src/identity/index.ts'
import { fromBase64url } from '../../../src/identity/index.ts'
import { RoomActor, RoomReplica, createRoom, entryId, logOf, signEntry, type EntryBody, type RoomState } from '../../../src/room/index.ts'
import type { TextKeys } from '../../../src/room/reveal.ts'
import { identities, T0 } from './helpers.ts'

export async function moderatedRoom() {
  const [owner, mod, alice, bob, mallory, mod2] = await identities(6)
  let t = T0
  const now = () => (t += 1000)
  const created = await createRoom(owner!, { title: 'moderation', now })
  const secret = fromBase64url(created.secret)!
  const texts: TextKeys = { current: async () => ({ n: 0, secret }), secret: (n) => (n === 0 ? secret : null) }
  const replica = new RoomReplica(created.doc, { roomId: created.roomId, now: () => t })
  await replica.ready()
  const actor = (i: Identity | undefined) => new RoomActor(replica, i!, { now, texts })
  const r = {
    roomId: created.roomId,
    secret,
    texts,
    replica,
    owner: actor(owner),
    mod: actor(mod),
    mod2: actor(mod2),
    alice: actor(alice),
    bob: actor(bob),
    mallory: actor(mallory),
    clock: () => t,
    advance: (ms: number) => (t += ms),
    get state(): RoomState {
      return replica.state
    },
    /** Appends raw entries, as an attacker writing to its own doc would; their ids once verified. */
    inject: async (...bytes: Uint8Array[]): Promise<string[]> => {
      logOf(created.doc).push(bytes)
      await replica.whenSettled()
      return bytes.map(entryId)
    },
    /** An entry signed by hand: dated `time`, naming `prev` (the heads when omitted; [] names nothing). */
    signed: (who: RoomActor, body: EntryBody, time: number, prev?: string[]) =>
      signEntry(who.identity, created.roomId, time, body, prev ?? replica.index.heads().map((e) => e.id)),
  }
  await r.owner.grantModerator(r.mod.key)
  await r.owner.grantModerator(r.mod2.key)
  return r
}

export type ModeratedRoom = Awaited<ReturnType<typeof moderatedRoom>>

/** Puts `who` on stage (an owner's invite, accepted). */
export async function seat(r: ModeratedRoom, who: RoomActor): Promise<string> {
  const invite = await r.owner.inviteToStage(who.key)
  return who.acceptInvite(invite)
}
