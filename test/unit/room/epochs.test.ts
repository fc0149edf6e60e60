/**
 * Epochs (docs/room-rules.md §8): a ban rotates the room's secret, sealed to
 * every remaining member. The attacks are run as an attacker would: a banned
 * member who keeps its old link and makes fresh keys, a member who forges an
 * epoch or a seal, moderators who rotate concurrently.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { fromBase64url, generateIdentity, randomBytes, type Identity } from '../../../src/identity/index.ts'
import {
  RoomActor, RoomReplica, createRoom, encryptionKey, entryId, epochSecret, keyCheck, logOf, membershipKey, proveMembership, signEntry,
  verifyMembership, snapshotState, type RoomState,
} from '../../../src/room/index.ts'
import { identities, T0 } from './helpers.ts'

async function liveRoom() {
  const [owner, mod, alice, bob, mallory] = await identities(5)
  let t = T0
  const now = () => (t += 1000)
  const created = await createRoom(owner!, { title: 'epochs', now })
  const replica = new RoomReplica(created.doc, { roomId: created.roomId, now: () => t })
  await replica.ready()
  const actor = (i: Identity | undefined) => new RoomActor(replica, i!, { now })
  const r = {
    roomId: created.roomId,
    doc: created.doc,
    linkSecret: fromBase64url(created.secret)!,
    replica,
    owner: actor(owner),
    mod: actor(mod),
    alice: actor(alice),
    bob: actor(bob),
    mallory: actor(mallory),
    now,
    inject: async (...bytes: Uint8Array[]) => {
      logOf(created.doc).push(bytes)
      await replica.whenSettled()
      return bytes.map(entryId)
    },
  }
  await r.owner.grantModerator(r.mod.key)
  for (const a of [r.owner, r.mod, r.alice, r.bob, r.mallory]) await a.announceKey()
  return r
}

/** What `who` can learn of the current epoch's secret, knowing `known` secrets (e.g. its link's). */
async function secretFor(s: RoomState, who: RoomActor, known: Uint8Array[] = []) {
  const cur = s.epochs.current
  if (!cur) return null
  return epochSecret(cur, s.roomId, who.identity.publicKey, await encryptionKey(who.identity, s.roomId), known)
}

describe('epochs: a ban rotates the room', () => {
  it('after a ban and a rotation, the remaining members open the new secret and the banned one does not', async () => {
    const r = await liveRoom()
    expect(r.replica.state.epochs.rotationDue).toBe(false)
    await r.mod.ban(r.mallory.key)
    // Still in the links' secret, which the banned member holds: a rotation is due.
    expect(r.replica.state.epochs.rotationDue).toBe(true)
    const next = randomBytes(32)
    await r.mod.rotate(next, r.linkSecret)
    const s = r.replica.state
    expect(s.epochs.current?.n).toBe(1)
    expect(s.epochs.rotationDue).toBe(false)
    for (const a of [r.owner, r.mod, r.alice, r.bob]) expect(await secretFor(s, a)).toEqual(next)
    // The attacker keeps its old link and its key: nothing opens.
    expect(await secretFor(s, r.mallory, [r.linkSecret])).toBeNull()
    // A fresh key with the old link: nothing either.
    expect(await secretFor(s, new RoomActor(r.replica, await generateIdentity()), [r.linkSecret])).toBeNull()
  })

  it('the membership proof of an old epoch does not pass for the new one', async () => {
    const r = await liveRoom()
    await r.mod.ban(r.mallory.key)
    const next = randomBytes(32)
    await r.mod.rotate(next, r.linkSecret)
    const member = r.replica.state.epochs.current!.member
    const challenge = randomBytes(32)
    expect(verifyMembership(member, challenge, proveMembership(membershipKey(next), challenge))).toBe(true)
    expect(verifyMembership(member, challenge, proveMembership(membershipKey(r.linkSecret), challenge))).toBe(false)
    expect(verifyMembership(member, challenge, randomBytes(64))).toBe(false)
    expect(verifyMembership(new Uint8Array(32), challenge, new Uint8Array(64))).toBe(false)
  })

  it('a member who is no moderator cannot start an epoch or seal one', async () => {
    const r = await liveRoom()
    await r.mod.rotate(randomBytes(32), r.linkSecret)
    const before = r.replica.state.epochs.current!
    const forged = randomBytes(32)
    const genesisAuth = r.replica.state.genesisId!
    const epoch = await signEntry(r.mallory.identity, r.roomId, r.now(), {
      kind: 'epoch', auth: genesisAuth, n: before.n + 1, parent: before.id, member: membershipKey(forged).publicKey, check: keyCheck(r.roomId, forged),
    })
    const [id] = await r.inject(epoch)
    expect(r.replica.state.reasons.get(id!)).toBe('no-authority')
    expect(r.replica.state.epochs.current!.id).toBe(before.id)
  })

  it('a box that opens to another secret than the epoch checks is refused', async () => {
    const r = await liveRoom()
    const next = randomBytes(32)
    const id = await r.mod.rotate(next, r.linkSecret)
    // The moderator (turned hostile) seals a different secret to alice for the same epoch.
    const enc = r.replica.state.epochs.encKeys.get(r.alice.key)!
    const { sealSecret } = await import('../../../src/room/epoch-keys.ts')
    const other = sealSecret(randomBytes(32), 1, r.roomId, [{ identityKey: r.alice.identity.publicKey, enc }], randomBytes(32))
    const auth = r.replica.state.moderators.get(r.mod.key)!
    await r.inject(await signEntry(r.mod.identity, r.roomId, r.now(), { kind: 'seal', auth, epoch: id, eph: other.eph, boxes: other.boxes }))
    // Alice tries every box addressed to her; only the right one counts.
    expect(await secretFor(r.replica.state, r.alice)).toEqual(next)
  })

  it('a member who joined after the rotation gets a box from any moderator', async () => {
    const r = await liveRoom()
    const next = randomBytes(32)
    await r.mod.rotate(next, r.linkSecret)
    const newcomer = new RoomActor(r.replica, await generateIdentity(), { now: r.now })
    await newcomer.announceKey()
    expect(r.replica.state.epochs.unsealed).toEqual([newcomer.key])
    expect(await r.owner.sealMissing(next)).toBe(1)
    expect(r.replica.state.epochs.unsealed).toEqual([])
    expect(await secretFor(r.replica.state, newcomer)).toEqual(next)
    // A wrong secret seals nothing.
    expect(await r.owner.sealMissing(randomBytes(32))).toBe(0)
  })

  it('concurrent rotations converge on one epoch, and one that sealed to a concurrently banned key makes a rotation due', async () => {
    const r = await liveRoom()
    await r.owner.startEpochs(r.linkSecret)
    // Two replicas of the same log, apart.
    const other = new Y.Doc()
    Y.applyUpdate(other, Y.encodeStateAsUpdate(r.doc))
    const replica2 = new RoomReplica(other, { roomId: r.roomId, now: () => r.now() })
    await replica2.ready()
    const mod2 = new RoomActor(replica2, r.mod.identity, { now: r.now })
    // The owner bans bob and rotates here; the moderator bans alice and rotates there.
    await r.owner.ban(r.bob.key)
    await r.owner.rotate(randomBytes(32), r.linkSecret)
    await mod2.ban(r.alice.key)
    await mod2.rotate(randomBytes(32), r.linkSecret)
    Y.applyUpdate(other, Y.encodeStateAsUpdate(r.doc))
    Y.applyUpdate(r.doc, Y.encodeStateAsUpdate(other))
    await r.replica.whenSettled()
    await replica2.whenSettled()
    expect(snapshotState(r.replica.state)).toEqual(snapshotState(replica2.state))
    const s = r.replica.state
    expect(s.epochs.current!.n).toBe(1)
    // Whichever won sealed to the key the other banned: rotate again.
    expect(s.epochs.rotationDue).toBe(true)
    const last = randomBytes(32)
    await r.owner.rotate(last, r.linkSecret)
    expect(r.replica.state.epochs.rotationDue).toBe(false)
    expect(r.replica.state.epochs.current!.n).toBe(2)
    expect(await secretFor(r.replica.state, r.alice)).toBeNull()
    expect(await secretFor(r.replica.state, r.bob)).toBeNull()
    expect(await secretFor(r.replica.state, r.mallory)).toEqual(last)
    replica2.destroy()
  })

  it('a banned member cannot announce a key, and its old key entries do not count', async () => {
    const r = await liveRoom()
    await r.mod.ban(r.mallory.key)
    expect(r.replica.state.epochs.encKeys.has(r.mallory.key)).toBe(false)
    await expect(r.mallory.announceKey()).rejects.toThrow(/banned/)
  })
})

describe('epochs: the handoff to a member who was away', () => {
  it('a member who missed the rotation opens its box from the handoff alone; a banned one does not', async () => {
    const r = await liveRoom()
    await r.owner.startEpochs(r.linkSecret)
    // Alice's copy of the log stops here: she goes offline.
    const aliceLog = [...r.replica.index.byId.values()]
    await r.owner.grantModerator(r.bob.key)
    const bobMod = r.bob
    await bobMod.ban(r.mallory.key)
    const next = randomBytes(32)
    await bobMod.rotate(next, r.linkSecret)
    const { decodeEntry, epochHandoff, epochFromHandoff } = await import('../../../src/room/index.ts')
    const handoff = epochHandoff(r.replica.index, r.replica.state.epochs.current).map((b) => decodeEntry(b)!)
    // Nothing a person wrote travels in a handoff.
    expect(new Set(handoff.map((e) => e.kind))).toEqual(new Set(['genesis', 'grant', 'ban', 'epoch', 'seal']))
    const epoch = epochFromHandoff(aliceLog, handoff, r.roomId, r.now())
    expect(epoch?.n).toBe(1)
    const enc = await encryptionKey(r.alice.identity, r.roomId)
    expect(epochSecret(epoch!, r.roomId, r.alice.identity.publicKey, enc, [r.linkSecret])).toEqual(next)
    const encM = await encryptionKey(r.mallory.identity, r.roomId)
    expect(epochSecret(epoch!, r.roomId, r.mallory.identity.publicKey, encM, [r.linkSecret])).toBeNull()
  })

  it('a forged epoch in a handoff (a relay inventing one) does not count', async () => {
    const r = await liveRoom()
    await r.owner.startEpochs(r.linkSecret)
    const log = [...r.replica.index.byId.values()]
    const cur = r.replica.state.epochs.current!
    const fake = randomBytes(32)
    const { decodeEntry, epochFromHandoff } = await import('../../../src/room/index.ts')
    // Signed by a key that is no moderator, naming the genesis as its authority.
    const forged = await signEntry(r.mallory.identity, r.roomId, r.now(), {
      kind: 'epoch', auth: r.replica.state.genesisId!, n: 1, parent: cur.id, member: membershipKey(fake).publicKey, check: keyCheck(r.roomId, fake),
    })
    expect(epochFromHandoff(log, [decodeEntry(forged)!], r.roomId, r.now())?.id).toBe(cur.id)
  })
})
