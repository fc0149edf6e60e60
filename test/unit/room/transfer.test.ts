/**
 * Owner hand-over (docs/room-rules.md §10 "transfer", layer 1): the attacks
 * first, as an attacker runs them, then the rules.
 */
import { describe, expect, it } from 'vitest'
import { randomBytes } from '../../../src/identity/index.ts'
import { decodeEntry, epochFromHandoff, epochHandoff, roleOf } from '../../../src/room/index.ts'
import { moderatedRoom, type ModeratedRoom } from './moderation-helpers.ts'

/** The owner hands the room to the first moderator; returns the transfer id and time. */
async function handOver(r: ModeratedRoom, stayModerator = false): Promise<{ id: string; time: number }> {
  const id = await r.owner.transferOwnership(r.mod.key, { stayModerator })
  return { id, time: r.replica.get(id)!.time }
}

describe('transfer attacks', () => {
  it('a transfer by anyone but the owner does not count', async () => {
    const r = await moderatedRoom()
    await expect(r.mod.transferOwnership(r.mod2.key)).rejects.toMatchObject({ code: 'not-owner' })
    const [withGenesis, withGrant] = await r.inject(
      await r.signed(r.mod, { kind: 'transfer', auth: r.state.genesisId!, subject: r.mod.key }, r.clock()),
      await r.signed(r.mod, { kind: 'transfer', auth: r.state.moderators.get(r.mod.key)!, subject: r.mod.key }, r.clock()),
    )
    expect(r.state.owner).toBe(r.owner.key)
    expect(r.state.reasons.get(withGenesis!)).toBe('no-authority')
    expect(r.state.reasons.get(withGrant!)).toBe('no-authority')
  })

  it('the old owner cannot transfer again, naming what it saw or dated before its transfer naming nothing', async () => {
    const r = await moderatedRoom()
    const t1 = await handOver(r)
    // The new owner acts as owner: the room has seen the transfer.
    await r.mod.grantModerator(r.alice.key)
    const genesis = r.state.genesisId!
    const [named, stripped] = await r.inject(
      await r.signed(r.owner, { kind: 'transfer', auth: genesis, subject: r.mallory.key }, r.clock()),
      await r.signed(r.owner, { kind: 'transfer', auth: genesis, subject: r.mallory.key }, t1.time - 1, [genesis]),
    )
    const s = r.replica.state
    expect(s.owner).toBe(r.mod.key)
    expect(s.reasons.get(named!)).toBe('used')
    expect(s.reasons.get(stripped!)).toBe('used')
    expect(s.moderators.has(r.alice.key)).toBe(true)
  })

  it('the old owner cannot act as owner after it transferred, even dated before the transfer', async () => {
    const r = await moderatedRoom()
    const t1 = await handOver(r)
    const genesis = r.state.genesisId!
    const before = t1.time - 1
    const ids = await r.inject(
      await r.signed(r.owner, { kind: 'ban', auth: genesis, subject: r.mod.key }, before, []),
      await r.signed(r.owner, { kind: 'ban', auth: genesis, subject: r.alice.key }, before, []),
      await r.signed(r.owner, { kind: 'grant', auth: genesis, role: 'moderator', subject: r.mallory.key }, before, []),
      await r.signed(r.owner, { kind: 'end', auth: genesis }, r.clock()),
      await r.signed(r.owner, { kind: 'revoke', auth: genesis, target: r.state.moderators.get(r.mod2.key)! }, r.clock()),
    )
    for (const id of ids) expect(r.state.reasons.get(id)).toBe('no-authority')
    const s = r.state
    expect(s.owner).toBe(r.mod.key)
    expect(s.banned.size).toBe(0)
    expect(s.ended).toBe(false)
    expect(roleOf(s, r.mallory.key)).toBe('listener')
    expect(roleOf(s, r.mod2.key)).toBe('moderator')
    expect(roleOf(s, r.owner.key)).toBe('speaker') // still on stage: a seat is no authority
    await expect(r.owner.endRoom()).rejects.toMatchObject({ code: 'not-owner' })
  })

  it('a backdated transfer racing a ban: the banned old owner does not take the room back', async () => {
    const r = await moderatedRoom()
    const t1 = await handOver(r, true)
    expect(roleOf(r.state, r.owner.key)).toBe('moderator')
    await r.mod.ban(r.owner.key)
    const genesis = r.state.genesisId!
    const [back] = await r.inject(await r.signed(r.owner, { kind: 'transfer', auth: genesis, subject: r.mallory.key }, t1.time - 1, [genesis]))
    const s = r.state
    expect(s.owner).toBe(r.mod.key)
    expect(roleOf(s, r.owner.key)).toBe('banned')
    expect(roleOf(s, r.mallory.key)).toBe('listener')
    expect(s.reasons.get(back!)).toBe('used')
    // A moderator about to be banned cannot hand the room to itself either.
    const [self] = await r.inject(await r.signed(r.mod2, { kind: 'transfer', auth: s.ownerAuth!, subject: r.mod2.key }, t1.time + 1, []))
    expect(r.state.reasons.get(self!)).toBe('no-authority')
  })

  it("the old owner's moderator links not redeemed before the transfer are retired", async () => {
    const r = await moderatedRoom()
    const early = await r.owner.createLinkGrant({ role: 'moderator', singleUse: false })
    const kept = await r.alice.redeemLinkGrant(early)
    await handOver(r)
    const late = await r.bob.redeemLinkGrant(early)
    expect(r.state.moderators.get(r.alice.key)).toBe(kept)
    expect(r.state.reasons.get(late)).toBe('no-authority')
    // The new owner's own links work.
    await r.mallory.redeemLinkGrant(await r.mod.createLinkGrant({ role: 'moderator', singleUse: true }))
    expect(roleOf(r.state, r.mallory.key)).toBe('moderator')
  })
})

describe('transfer rules', () => {
  it("the new owner holds every owner-only power; the old owner's earlier acts stay", async () => {
    const r = await moderatedRoom()
    const ban = await r.owner.ban(r.bob.key)
    const t1 = await handOver(r)
    const s = r.state
    expect(s.owner).toBe(r.mod.key)
    expect(s.ownerAuth).toBe(t1.id)
    expect(s.moderators.has(r.mod.key)).toBe(false)
    expect(s.banned.get(r.bob.key)).toEqual([ban])
    expect(roleOf(s, r.owner.key)).toBe('speaker') // still on stage: a seat is no authority
    // An owner's ban is lifted by the owner now, not a moderator.
    await expect(r.mod2.unban(r.bob.key)).rejects.toMatchObject({ code: 'not-owner' })
    await r.mod.unban(r.bob.key)
    await r.mod.revokeModerator(r.mod2.key)
    expect(r.state.moderators.size).toBe(0)
    // And back: the new owner hands the room on.
    await r.mod.grantModerator(r.owner.key)
    await r.mod.transferOwnership(r.owner.key)
    expect(r.state.owner).toBe(r.owner.key)
    await r.owner.endRoom()
    expect(r.state.ended).toBe(true)
  })

  it('stayModerator keeps the old owner a moderator, which the new owner can revoke', async () => {
    const r = await moderatedRoom()
    await handOver(r, true)
    expect(roleOf(r.state, r.owner.key)).toBe('moderator')
    await r.owner.inviteToStage(r.alice.key)
    expect(r.state.invites.map((i) => i.subject)).toContain(r.alice.key)
    await r.mod.revokeModerator(r.owner.key)
    expect(roleOf(r.state, r.owner.key)).toBe('speaker')
    expect(r.state.invites.map((i) => i.subject)).not.toContain(r.alice.key)
  })

  it("a member who was away finds the new owner's rotation in a handoff", async () => {
    const r = await moderatedRoom()
    await handOver(r)
    const secret = r.state.epochs.current!
    await r.mod.rotate(randomBytes(32), r.secret)
    const current = r.state.epochs.current!
    expect(current.id).not.toBe(secret.id)
    const handoff = epochHandoff(r.replica.index, current).map((b) => decodeEntry(b)!)
    expect(handoff.some((e) => e.kind === 'transfer')).toBe(true)
    expect(epochFromHandoff([], handoff, r.roomId, r.clock())?.id).toBe(current.id)
  })
})
