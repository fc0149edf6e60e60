/**
 * The attacks that causal order stops, each run as an attacker would run it:
 * honest people use the real actor; the attacker uses the real actor where it
 * helps and otherwise signs entries itself (`signEntry`), choosing the time
 * and choosing which entries it admits to have seen (`prev`: the ids of the
 * entries it names; none at all when pretending to have seen nothing).
 * docs/room-rules.md §3a says which rule stops which attack.
 */
import { describe, expect, it } from 'vitest'
import type { Identity } from '../../../src/identity/index.ts'
import {
  DEFAULT_SKEW_MS, RoomActor, RoomReplica, createRoom, decodeLinkGrant, entryId, logOf, roleOf, signEntry, signRedeemProof, type LinkPass,
} from '../../../src/room/index.ts'
import { epochZeroTexts } from '../../helpers/sealed-text.ts'
import { identities, T0 } from './helpers.ts'

/** One shared doc; everybody's actor writes to it, the attacker appends raw entries. */
async function liveRoom() {
  const [owner, mod, alice, mallory, spammer] = await identities(5)
  let t = T0
  const now = () => (t += 1000)
  const created = await createRoom(owner!, { title: 'attacks', now })
  const replica = new RoomReplica(created.doc, { roomId: created.roomId, now: () => t })
  await replica.ready()
  const actor = (i: Identity | undefined) => new RoomActor(replica, i!, { now, texts: epochZeroTexts(created.secret) })
  return {
    roomId: created.roomId,
    replica,
    owner: actor(owner),
    mod: actor(mod),
    alice: actor(alice),
    mallory: actor(mallory),
    spammer: actor(spammer),
    clock: () => t,
    advance: (ms: number) => (t += ms),
    /** Appends raw entries, as an attacker writing to its own doc would; returns their ids once verified. */
    inject: async (...bytes: Uint8Array[]): Promise<string[]> => {
      logOf(created.doc).push(bytes)
      await replica.whenSettled()
      return bytes.map(entryId)
    },
  }
}

/** A redeem of `pass` by `who`, signed by hand at `time`, naming `prev` as seen. */
async function redeemBy(who: RoomActor, roomId: string, pass: LinkPass, time: number, prev?: string[]): Promise<Uint8Array> {
  const proof = await signRedeemProof(pass, roomId, who.identity.publicKey)
  return signEntry(who.identity, roomId, time, { kind: 'redeem', grant: pass.grant, proof }, prev)
}

describe('A: demotion sticks', () => {
  it('a demoted moderator cannot redeem its single-use moderator link again', async () => {
    const r = await liveRoom()
    const pass = await r.owner.createLinkGrant({ role: 'moderator', singleUse: true })
    const first = await r.mod.redeemLinkGrant(pass)
    expect(r.mod.role).toBe('moderator')
    await r.owner.revokeModerator(r.mod.key)
    expect(r.mod.role).toBe('listener')
    // Through the real actor: a redeem written after the revoke.
    const again = await r.mod.redeemLinkGrant(pass)
    // By hand: dated at issue time to win the single-use race, naming nothing.
    const [backdated] = await r.inject(await redeemBy(r.mod, r.roomId, pass, decodeLinkGrant(pass.grant)!.issuedAt))
    const s = r.replica.state
    expect(roleOf(s, r.mod.key)).toBe('listener')
    expect(s.reasons.get(first)).toBe('revoked')
    expect(s.reasons.has(again)).toBe(true)
    expect(s.reasons.has(backdated!)).toBe(true)
  })

  it('revoking a moderator retires its multi-use link for everyone; uses the owner had seen stay', async () => {
    const r = await liveRoom()
    const pass = await r.owner.createLinkGrant({ role: 'moderator', singleUse: false })
    await r.mod.redeemLinkGrant(pass)
    const alices = await r.alice.redeemLinkGrant(pass)
    await r.owner.revokeModerator(r.mod.key)
    const again = await r.mod.redeemLinkGrant(pass)
    const mallorys = await r.mallory.redeemLinkGrant(pass)
    const s = r.replica.state
    expect(roleOf(s, r.mod.key)).toBe('listener')
    expect(roleOf(s, r.mallory.key)).toBe('listener')
    expect(s.reasons.get(again)).toBe('revoked')
    expect(s.reasons.get(mallorys)).toBe('revoked')
    expect(s.moderators.get(r.alice.key)).toBe(alices)
  })
})

describe('B: moving a speaker to the audience sticks', () => {
  it('an earlier-dated second accept of the same invite does not reopen the seat', async () => {
    const r = await liveRoom()
    await r.owner.grantModerator(r.mod.key)
    const invite = await r.mod.inviteToStage(r.alice.key)
    const seat = await r.alice.acceptInvite(invite)
    const [move] = await r.owner.moveToAudience(r.alice.key)
    const before = r.replica.get(seat)!.time - 1
    const accept = { kind: 'accept', invite } as const
    const [stripped, named] = await r.inject(
      await signEntry(r.alice.identity, r.roomId, before, accept),
      await signEntry(r.alice.identity, r.roomId, before - 1, accept, [move!]),
    )
    const s = r.replica.state
    expect(s.seatOf.has(r.alice.key)).toBe(false)
    expect(roleOf(s, r.alice.key)).toBe('listener')
    expect(s.reasons.get(stripped!)).toBe('used')
    expect(s.reasons.get(named!)).toBe('backdated')
  })

  for (const singleUse of [false, true]) {
    it(`re-redeeming a ${singleUse ? 'single' : 'multi'}-use speaker link does not bring a moved speaker back`, async () => {
      const r = await liveRoom()
      await r.owner.grantModerator(r.mod.key)
      const pass = await r.owner.createLinkGrant({ role: 'speaker', singleUse })
      const seat = await r.alice.redeemLinkGrant(pass)
      await r.mod.moveToAudience(r.alice.key)
      const again = await r.alice.redeemLinkGrant(pass)
      const [backdated] = await r.inject(await redeemBy(r.alice, r.roomId, pass, r.replica.get(seat)!.time - 1))
      const s = r.replica.state
      expect(s.seatOf.has(r.alice.key)).toBe(false)
      expect(s.reasons.get(again)).toBe('used')
      expect(s.reasons.get(backdated!)).toBe('used')
    })
  }

  it('ban then unban does not let an old invite be accepted', async () => {
    const r = await liveRoom()
    const invite = await r.owner.inviteToStage(r.alice.key)
    await r.owner.ban(r.alice.key)
    const [unban] = await r.owner.unban(r.alice.key)
    const [accept] = await r.inject(await signEntry(r.alice.identity, r.roomId, r.clock(), { kind: 'accept', invite }, [unban!]))
    const s = r.replica.state
    expect(s.seatOf.has(r.alice.key)).toBe(false)
    expect(s.reasons.get(accept!)).toBe('banned')
    expect(s.invites.map((i) => i.id)).not.toContain(invite)
    // A new invite after the unban works as before.
    await r.owner.inviteToStage(r.alice.key)
    await r.alice.acceptInvite()
    expect(r.alice.role).toBe('speaker')
  })
})

describe('C: backdating does not rewrite history', () => {
  it('a redeem dated at issue time minus the skew does not take a single-use moderator link from its holder', async () => {
    const r = await liveRoom()
    const pass = await r.owner.createLinkGrant({ role: 'moderator', singleUse: true })
    const legit = await r.alice.redeemLinkGrant(pass)
    const ban = await r.alice.ban(r.spammer.key)
    // The owner, who issued the link, writes something after seeing Alice's redeem.
    await r.owner.setProfile({ name: 'host' })
    const early = decodeLinkGrant(pass.grant)!.issuedAt - DEFAULT_SKEW_MS
    const [named, stripped] = await r.inject(
      await redeemBy(r.mallory, r.roomId, pass, early, [ban]),
      await redeemBy(r.mallory, r.roomId, pass, early + 1),
    )
    const s = r.replica.state
    expect(roleOf(s, r.mallory.key)).toBe('listener')
    expect(s.moderators.get(r.alice.key)).toBe(legit)
    expect(s.banned.has(r.spammer.key)).toBe(true)
    expect(s.reasons.get(named!)).toBe('backdated')
    expect(s.reasons.get(stripped!)).toBe('used')
  })

  // Found by convergence.property.test.ts: bans used to apply before the race, so banning the holder freed the link.
  for (const role of ['speaker', 'moderator'] as const) {
    it(`banning the holder of a single-use ${role} link does not hand it to a backdated redeem`, async () => {
      const r = await liveRoom()
      const pass = await r.owner.createLinkGrant({ role, singleUse: true })
      const legit = await r.alice.redeemLinkGrant(pass)
      await r.owner.setProfile({ name: 'host' })
      const [stripped] = await r.inject(await redeemBy(r.mallory, r.roomId, pass, decodeLinkGrant(pass.grant)!.issuedAt - DEFAULT_SKEW_MS))
      await r.owner.ban(r.alice.key)
      const s = r.replica.state
      expect(roleOf(s, r.mallory.key)).toBe('listener')
      expect(s.reasons.get(stripped!)).toBe('used')
      expect(s.reasons.get(legit)).toBe('banned')
    })
  }

  it('a link cannot be redeemed after its expiry by dating the redeem before it', async () => {
    const r = await liveRoom()
    const expiresAt = r.clock() + 60_000
    const pass = await r.owner.createLinkGrant({ role: 'speaker', singleUse: false, expiresAt })
    r.advance(60_000 + DEFAULT_SKEW_MS + 1000)
    // The issuer's first entry after the expiry (plus the skew) has not seen any redeem.
    const after = await r.owner.setTitle('later')
    const [named, stripped] = await r.inject(
      await redeemBy(r.mallory, r.roomId, pass, expiresAt - 1, [after]),
      await redeemBy(r.mallory, r.roomId, pass, expiresAt - 2),
    )
    const s = r.replica.state
    expect(s.seatOf.has(r.mallory.key)).toBe(false)
    expect(s.reasons.get(named!)).toBe('backdated')
    expect(s.reasons.get(stripped!)).toBe('expired')
  })
})
