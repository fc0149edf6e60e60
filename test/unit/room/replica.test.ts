import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { randomBytes } from '../../../src/identity/index.ts'
import {
  RoomActor, RoomError, RoomReplica, createRoom, decodeLinkGrant, logOf, signEntry, snapshotState, type RoomDiff,
} from '../../../src/room/index.ts'
import { revealText } from '../../../src/room/reveal.ts'
import { epochZeroTexts } from '../../helpers/sealed-text.ts'
import { identities, kid, T0 } from './helpers.ts'

const clock = () => {
  let t = T0
  return () => (t += 10)
}

async function room() {
  const [owner, mod, a, c] = await identities(4)
  const now = clock()
  const created = await createRoom(owner!, { title: 'Hello', topic: 'world', now })
  const replica = new RoomReplica(created.doc, { roomId: created.roomId, now })
  await replica.ready()
  const actor = (i: typeof owner) => new RoomActor(replica, i!, { now, texts: epochZeroTexts(created.secret) })
  return { ...created, replica, now, owner: actor(owner), mod: actor(mod), a: actor(a), c: actor(c) }
}

describe('RoomReplica', () => {
  it('verifies, dedupes and counts malformed / bad-signature / duplicate entries', async () => {
    const r = await room()
    expect(r.replica.state.exists).toBe(true)
    expect(r.replica.state.stage.map((s) => s.key)).toEqual([r.owner.key])
    const log = logOf(r.doc)
    const [, , , , attacker] = await identities(5)
    // Forged: claims the owner's key, signed by the attacker.
    const real = await signEntry(attacker!, r.roomId, T0, { kind: 'raise', nonce: randomBytes(16) })
    const forged = real.slice()
    forged.set(r.owner.identity.publicKey, 18)
    log.push([forged, new Uint8Array([9, 9, 9]), log.get(0)])
    await r.replica.whenSettled()
    expect(r.replica.rejected).toMatchObject({ 'bad-signature': 1, malformed: 1, duplicate: 1 })
    expect(r.replica.state.hands).toHaveLength(0)
  })

  it('a grant copied out of the log cannot be redeemed by another key', async () => {
    const r = await room()
    const pass = await r.owner.createLinkGrant({ role: 'moderator', singleUse: true })
    const id = await r.a.redeemLinkGrant(pass)
    const seen = r.replica.get(id)!
    if (seen.kind !== 'redeem') throw new Error('unreachable')
    // The thief has the grant and the proof from the log, but not the holder seed.
    const stolen = await signEntry(r.c.identity, r.roomId, seen.link.issuedAt - 1, { kind: 'redeem', grant: seen.grant, proof: seen.proof })
    logOf(r.doc).push([stolen])
    await r.replica.whenSettled()
    expect(r.replica.rejected['bad-signature']).toBe(1)
    expect(r.a.role).toBe('moderator')
    expect(r.c.role).toBe('listener')
  })

  it('emits diffs for stage, hands and roles', async () => {
    const r = await room()
    const diffs: RoomDiff[] = []
    const off = r.replica.on('change', (d) => diffs.push(d))
    await r.a.raiseHand()
    expect(diffs.at(-1)!.hands.added.map((h) => h.key)).toEqual([r.a.key])
    await r.owner.inviteToStage(r.a.key)
    await r.a.acceptInvite()
    const d = diffs.at(-1)!
    expect(d.stage.added.map((s) => s.key)).toEqual([r.a.key])
    expect(d.hands.removed.map((h) => h.key)).toEqual([r.a.key])
    expect(d.roles).toEqual([{ key: r.a.key, role: 'speaker', previous: 'listener' }])
    await r.owner.grantModerator(r.mod.key)
    expect(diffs.at(-1)!.roles).toEqual([{ key: r.mod.key, role: 'moderator', previous: 'listener' }])
    off()
    const n = diffs.length
    await r.c.raiseHand()
    expect(diffs.length).toBe(n)
    r.replica.destroy()
    r.replica.destroy()
  })

  it('two docs converge through updates in either order', async () => {
    const r = await room()
    const other = new Y.Doc()
    const replica2 = new RoomReplica(other, { roomId: r.roomId, now: r.now })
    await r.a.raiseHand()
    await r.owner.grantModerator(r.mod.key)
    await r.mod.inviteToStage(r.c.key)
    Y.applyUpdate(other, Y.encodeStateAsUpdate(r.doc))
    await replica2.whenSettled()
    expect(snapshotState(replica2.state)).toEqual(snapshotState(r.replica.state))
  })
})

describe('RoomActor', () => {
  it('runs the stage flow: raise, invite, accept (lowers hand), leave', async () => {
    const r = await room()
    await r.a.raiseHand()
    await expect(r.a.raiseHand()).rejects.toMatchObject({ code: 'hand-already-raised' })
    await expect(r.a.acceptInvite()).rejects.toMatchObject({ code: 'no-invite' })
    await r.owner.inviteToStage(r.a.key)
    await r.a.acceptInvite()
    expect(r.a.role).toBe('speaker')
    expect(r.replica.state.openRaises.has(r.a.key)).toBe(false)
    await expect(r.a.raiseHand()).rejects.toMatchObject({ code: 'already-on-stage' })
    await r.a.leaveStage()
    expect(r.a.role).toBe('listener')
    await expect(r.a.leaveStage()).rejects.toMatchObject({ code: 'not-on-stage' })
  })

  it('checks permissions with stable codes', async () => {
    const r = await room()
    await expect(r.a.inviteToStage(r.c.key)).rejects.toMatchObject({ code: 'not-moderator' })
    await expect(r.a.grantModerator(r.c.key)).rejects.toMatchObject({ code: 'not-owner' })
    await expect(r.a.endRoom()).rejects.toMatchObject({ code: 'not-owner' })
    await r.owner.grantModerator(r.mod.key)
    await expect(r.mod.ban(r.owner.key)).rejects.toMatchObject({ code: 'cannot-target-owner' })
    await expect(r.mod.moveToAudience(r.owner.key)).rejects.toMatchObject({ code: 'cannot-target-owner' })
    await expect(r.mod.createLinkGrant({ role: 'moderator' })).rejects.toMatchObject({ code: 'not-owner' })
    await r.owner.grantModerator(r.c.key)
    await expect(r.mod.ban(r.c.key)).rejects.toBeInstanceOf(RoomError)
    await r.mod.ban(r.a.key)
    await expect(r.a.raiseHand()).rejects.toMatchObject({ code: 'banned' })
    await r.mod.unban(r.a.key)
    expect(r.a.role).toBe('listener')
    await r.owner.revokeModerator(r.mod.key)
    expect(r.mod.role).toBe('listener')
    await expect(r.mod.setTitle('x')).rejects.toMatchObject({ code: 'not-moderator' })
  })

  it('profiles, titles, links and ending', async () => {
    const r = await room()
    await r.a.setProfile({ name: 'Ada' })
    await r.a.setProfile({ muted: true })
    const open = () => revealText(r.replica.state, epochZeroTexts(r.secret).secret)
    expect(open().profiles.get(r.a.key)).toMatchObject({ name: 'Ada', muted: true, seq: 2 })
    await r.owner.setTitle('New title')
    expect(open().title).toBe('New title')
    expect(open().topic).toBe('world')
    const speaker = await r.owner.createLinkGrant({ role: 'speaker' })
    await r.c.raiseHand()
    await r.c.redeemLinkGrant(speaker)
    expect(r.c.role).toBe('speaker')
    expect(r.replica.state.openRaises.has(r.c.key)).toBe(false)
    const modLink = await r.owner.createLinkGrant({ role: 'moderator' })
    await r.mod.redeemLinkGrant(modLink)
    expect(r.mod.role).toBe('moderator')
    await r.mod.moveToAudience(r.c.key)
    expect(r.c.role).toBe('listener')
    const expired = await r.owner.createLinkGrant({ role: 'speaker', expiresAt: T0 })
    await expect(r.a.redeemLinkGrant(expired)).rejects.toMatchObject({ code: 'expired' })
    const tampered = { ...speaker, grant: speaker.grant.slice() }
    tampered.grant[tampered.grant.length - 1]! ^= 1
    await expect(r.a.redeemLinkGrant(tampered)).rejects.toMatchObject({ code: 'bad-grant' })
    expect(decodeLinkGrant(speaker.grant)?.role).toBe('speaker')
    await r.owner.endRoom()
    expect(r.replica.state.ended).toBe(true)
    expect(r.replica.state.stage).toHaveLength(0)
    await expect(r.a.raiseHand()).rejects.toMatchObject({ code: 'room-ended' })
  })

  it('createRoom returns a secret that is not in the doc and a discovery key', async () => {
    const [owner] = await identities(1)
    const c = await createRoom(owner!, { title: 't', joinStage: false })
    expect(c.secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(c.discoveryKey).toHaveLength(32)
    const update = Buffer.from(Y.encodeStateAsUpdate(c.doc)).toString('base64url')
    expect(update.includes(c.secret)).toBe(false)
    // The genesis, epoch 0 (docs/room-rules.md §8: it carries only the secret's check) and the owner's encryption key.
    expect(logOf(c.doc).length).toBe(3)
    expect(kid(owner!)).toHaveLength(43)
  })
})
