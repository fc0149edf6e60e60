/**
 * EpochKeeper over one shared room doc: every member's keeper follows the
 * epochs, moderators rotate on a ban, and the banned member and a fresh key
 * with the old link get no new secret.
 */
import { describe, expect, it } from 'vitest'
import { fromBase64url, generateIdentity, type Identity } from '../../../src/identity/index.ts'
import { RoomActor, RoomReplica, createRoom, epochTopic, type RoomState } from '../../../src/room/index.ts'
import { EpochKeeper, type CurrentEpoch } from '../../../src/participant/epoch-keeper.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'
import { waitFor } from '../../helpers/wait.ts'

async function room() {
  const timers = fakeTimers(1_700_000_000_000)
  const owner = await generateIdentity()
  const created = await createRoom(owner, { title: 'keeper', now: timers.now })
  const replica = new RoomReplica(created.doc, { roomId: created.roomId, now: timers.now })
  await replica.ready()
  const linkSecret = fromBase64url(created.secret)!
  const join = (identity: Identity, secret: Uint8Array = linkSecret) => {
    const actor = new RoomActor(replica, identity, { now: timers.now })
    const keeper = new EpochKeeper({ replica, actor, linkSecret: secret, timers: timers.timers, random: () => 0.5, replacedGraceMs: 1000 })
    const seen: CurrentEpoch[] = []
    let replaced = 0
    keeper.on('epoch', (e) => seen.push(e))
    keeper.on('replaced', () => replaced++)
    return { actor, keeper, seen, replaced: () => replaced }
  }
  return { replica, timers, linkSecret, owner: join(owner), join }
}

/** Waits for `until`, moving the fake clock 250 ms per look (duties and graces are timers). */
const settle = (r: { replica: RoomReplica; timers: { advance(ms: number): void } }, until: (s: RoomState) => boolean) =>
  waitFor(() => `room state: chain ${r.replica.state.epochs.chain.length} keys ${r.replica.state.epochs.encKeys.size} rej ${JSON.stringify(Object.fromEntries(Object.entries(r.replica.state.rejected).filter(([, n]) => n > 0)))}`, () => (r.timers.advance(250), until(r.replica.state)), 5000)

describe('EpochKeeper', () => {
  it('writes epoch 0 for a moderator, announces keys, rotates on a ban, and every remaining member follows', async () => {
    const r = await room()
    const alice = r.join(await generateIdentity())
    const mallory = r.join(await generateIdentity())
    r.timers.advance(0)
    await settle(r, (s) => s.epochs.chain.length === 1 && s.epochs.encKeys.size === 3)
    r.timers.advance(0)
    await waitFor(() => `alice ${alice.seen.length} owner ${r.owner.seen.length} chain ${r.replica.state.epochs.chain.length}`, () => alice.seen.length === 1, 3000)
    expect(alice.seen[0]!.n).toBe(0)
    expect(alice.seen[0]!.topic).toBeNull()

    await r.owner.actor.ban(mallory.actor.key)
    r.timers.advance(0) // the owner wrote the newest ban: it rotates at once
    await settle(r, (s) => s.epochs.current?.n === 1)
    await waitFor('keeper', () => alice.seen.length === 2 && r.owner.seen.length === 2)
    const next = alice.seen[1]!
    expect(next.n).toBe(1)
    expect(next.secret).toEqual(r.owner.seen[1]!.secret)
    expect(next.secret).not.toEqual(r.linkSecret)
    expect(next.topic).toEqual(epochTopic(next.secret))
    // The banned member learns nothing and is not told "replaced" (it is banned).
    r.timers.advance(2000)
    expect(mallory.seen.map((e) => e.n)).toEqual([0])
    expect(mallory.replaced()).toBe(0)
    // A fresh key with the old link: no secret, and after the grace it hears the link was replaced.
    const stranger = r.join(await generateIdentity())
    r.timers.advance(0)
    await settle(r, (s) => s.epochs.unsealed.length === 1)
    r.timers.advance(1000)
    await waitFor('keeper', () => stranger.replaced() === 1)
    expect(stranger.seen).toEqual([])
  })

  it('seals to a member who joined after the rotation with the new link', async () => {
    const r = await room()
    const mallory = r.join(await generateIdentity())
    r.timers.advance(0)
    await settle(r, (s) => s.epochs.chain.length === 1 && s.epochs.encKeys.size === 2)
    await r.owner.actor.ban(mallory.actor.key)
    r.timers.advance(0)
    await waitFor('keeper', () => r.owner.seen.at(-1)?.n === 1)
    const newLink = r.owner.seen.at(-1)!.secret
    const bob = r.join(await generateIdentity(), newLink)
    r.timers.advance(0)
    await waitFor('keeper', () => bob.seen.length === 1)
    expect(bob.seen[0]!.secret).toEqual(newLink)
    // The owner seals to bob, so bob's next device or session opens it from the log alone.
    await settle(r, (s) => s.epochs.unsealed.length === 1)
    r.timers.advance(3000)
    await settle(r, (s) => s.epochs.unsealed.length === 0)
  })
})
