/**
 * Presence and names a relay cannot read (docs/room-rules.md §9): presence goes
 * out as one sealed blob and comes in opened with the epochs' secrets; what does
 * not open is dropped and counted. After a ban's rotation the EpochKeeper seals
 * names and the title again in the new epoch, and the banned member reads
 * neither the new presence nor the new text.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness'
import { fromBase64url, generateIdentity, randomBytes, type Identity } from '../../../src/identity/index.ts'
import { RoomActor, RoomReplica, createRoom, type RoomState } from '../../../src/room/index.ts'
import { revealText } from '../../../src/room/reveal.ts'
import { sealedEpoch } from '../../../src/room/sealed-text.ts'
import { EpochKeeper } from '../../../src/participant/epoch-keeper.ts'
import { SealedPresence } from '../../../src/participant/presence.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'
import { waitFor } from '../../helpers/wait.ts'

const ROOM = 'presence-room'

/** One member's presence with the secrets it holds per epoch; it publishes in its newest. */
function member(key: string, secrets: Map<number, Uint8Array>) {
  const aw = new Awareness(new Y.Doc())
  const newest = () => Math.max(...secrets.keys())
  const p = new SealedPresence(aw, { selfId: key, roomId: ROOM, current: () => ({ n: newest(), secret: secrets.get(newest())! }), secret: (n) => secrets.get(n) ?? null })
  return { aw, p, secrets }
}

/** What a relay forwards: every awareness state `from` holds, applied at `to`. */
function forward(from: Awareness, to: Awareness): void {
  applyAwarenessUpdate(to, encodeAwarenessUpdate(from, [...from.getStates().keys()]), 'relay')
}

describe('sealed presence', () => {
  it('goes out as one sealed blob; members open it, others drop it and count', () => {
    const link = randomBytes(32)
    const ana = member('ana-key', new Map([[0, link]]))
    const ben = member('ben-key', new Map([[0, link]]))
    const stranger = member('stranger-key', new Map([[0, randomBytes(32)]]))
    ana.p.set({ name: 'Ana Quintessa', level: 0.45, reaction: '👏' })
    const wire = JSON.stringify(ana.aw.getLocalState())
    expect(Object.keys(ana.aw.getLocalState()!)).toEqual(['k', 's'])
    for (const leak of ['Ana Quintessa', '0.45', '👏', 'level', 'name']) expect(wire).not.toContain(leak)

    forward(ana.aw, ben.aw)
    expect([...ben.p.peers.values()]).toEqual([{ key: 'ana-key', presence: { name: 'Ana Quintessa', level: 0.45, reaction: '👏' } }])
    forward(ana.aw, stranger.aw)
    expect(stranger.p.peers.size).toBe(0)
    expect(stranger.p.dropped.unreadable).toBe(1)
    // Later updates: the level changes, the blob is sealed again; an unchanged state is not.
    const before = ana.aw.getLocalState()!.s
    ana.p.set({ level: 0.45 })
    expect(ana.aw.getLocalState()!.s).toBe(before)
    ana.p.set({ level: 0.1 })
    forward(ana.aw, ben.aw)
    expect([...ben.p.peers.values()][0]!.presence.level).toBe(0.1)
    // The stranger gets the secret (a box opened later): what it held opens now.
    stranger.secrets.set(0, link)
    stranger.p.reopen()
    expect([...stranger.p.peers.values()][0]!.presence.name).toBe('Ana Quintessa')
  })

  it('a blob claimed for another key, altered or not ours at all is dropped and counted', () => {
    const link = randomBytes(32)
    const ana = member('ana-key', new Map([[0, link]]))
    const ben = member('ben-key', new Map([[0, link]]))
    ana.p.set({ name: 'Ana' })
    const s = ana.aw.getLocalState()!.s as string
    const forger = new Awareness(new Y.Doc())
    const push = (state: Record<string, unknown>) => {
      forger.setLocalState(state)
      forward(forger, ben.aw)
    }
    push({ k: 'ben-key', s }) // Ana's blob presented as someone else's: bound to Ana, it does not open
    expect(ben.p.dropped.unreadable).toBe(1)
    const altered = fromBase64url(s)!
    altered[altered.length - 1]! ^= 1
    push({ k: 'ana-key', s: Buffer.from(altered).toString('base64url') })
    expect(ben.p.dropped.unreadable).toBe(2)
    push({ name: 'plain', level: 1 }) // the old plain presence: not accepted
    expect(ben.p.dropped.malformed).toBe(1)
    expect(ben.p.peers.size).toBe(0)
  })

  it('after a rotation the banned member reads no new presence', () => {
    const link = randomBytes(32)
    const next = randomBytes(32)
    const ana = member('ana-key', new Map([[0, link]]))
    const mallory = member('mallory-key', new Map([[0, link]]))
    ana.p.set({ name: 'Ana', level: 0.2 })
    forward(ana.aw, mallory.aw)
    expect(mallory.p.peers.size).toBe(1)
    ana.secrets.set(1, next)
    ana.p.republish()
    forward(ana.aw, mallory.aw)
    expect(mallory.p.peers.size).toBe(0)
    expect(mallory.p.dropped.unreadable).toBe(1)
  })
})

describe('EpochKeeper and sealed text', () => {
  it('after a ban the remaining members seal their names again in the new epoch, a moderator the title; the banned one reads none of it', async () => {
    const timers = fakeTimers(1_700_000_000_000)
    const ownerId = await generateIdentity()
    const created = await createRoom(ownerId, { title: 'Before the ban', topic: 'Plans', now: timers.now })
    const replica = new RoomReplica(created.doc, { roomId: created.roomId, now: timers.now })
    await replica.ready()
    const linkSecret = fromBase64url(created.secret)!
    const join = (identity: Identity) => {
      // The actor seals with the keeper's keys; the keeper needs the actor: tie them lazily.
      const keys = { current: () => keeper.sealingKey(), secret: (n: number) => keeper.secretOf(n) }
      const actor = new RoomActor(replica, identity, { now: timers.now, texts: keys })
      const keeper: EpochKeeper = new EpochKeeper({ replica, actor, linkSecret, timers: timers.timers, random: () => 0.5 })
      return { actor, keeper, read: (s: RoomState) => revealText(s, (n) => keeper.secretOf(n)) }
    }
    const owner = join(ownerId)
    const alice = join(await generateIdentity())
    const mallory = join(await generateIdentity())
    const settle = (what: string, until: (s: RoomState) => boolean) =>
      waitFor(what, () => (timers.advance(250), until(replica.state)), 5000)
    await settle('keys', (s) => s.epochs.encKeys.size === 3)
    await alice.actor.setProfile({ name: 'Alice Before' })
    expect(mallory.read(replica.state).profiles.get(alice.actor.key)?.name).toBe('Alice Before')

    await owner.actor.ban(mallory.actor.key)
    await settle('rotation', (s) => s.epochs.current?.n === 1)
    const aliceName = () => replica.state.profiles.get(alice.actor.key)!.nameSealed!
    await settle('names and title sealed again', (s) => sealedEpoch(aliceName()) === 1 && sealedEpoch(s.meta!.title!) === 1)
    const s = replica.state
    expect([alice.read(s).title, alice.read(s).topic, alice.read(s).profiles.get(alice.actor.key)?.name]).toEqual(['Before the ban', 'Plans', 'Alice Before'])
    expect(await mallory.keeper.sealingKey()).toBeNull() // it cannot write text in an epoch it does not hold
    await alice.actor.setProfile({ name: 'Alice After' })
    await owner.actor.setTitle('After the ban')
    const m = mallory.read(replica.state)
    expect([m.title, m.topic, m.profiles.get(alice.actor.key)?.name]).toEqual(['', '', ''])
    expect(alice.read(replica.state).title).toBe('After the ban')
    // Settled: nobody keeps rewriting (once per epoch).
    const length = replica.log.length
    timers.advance(10_000)
    await new Promise((r) => setTimeout(r, 50))
    expect(replica.log.length).toBe(length)
    for (const x of [owner, alice, mallory]) x.keeper.destroy()
    replica.destroy()
  })
})
