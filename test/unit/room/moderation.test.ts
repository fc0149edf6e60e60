/**
 * Mute, kick and record (docs/room-rules.md §10): the attacks first, as an
 * attacker runs them (hand-signed entries through `inject`), then the rules.
 */
import { describe, expect, it } from 'vitest'
import { randomBytes } from '../../../src/identity/index.ts'
import { DEFAULT_SKEW_MS, MAX_KICK_MS, MUTE_HOLD_MS, computeState } from '../../../src/room/index.ts'
import { sealField } from '../../../src/room/reveal.ts'
import { TEXT_NONCE_BYTES } from '../../../src/room/sealed-text.ts'
import { moderatedRoom, seat, type ModeratedRoom } from './moderation-helpers.ts'

/** A profile of `who` with muted: false, signed by hand at `time`, naming `prev`. */
function profileBy(r: ModeratedRoom, who: ModeratedRoom['alice'], time: number, prev?: string[]) {
  const name = sealField({ n: 0, secret: r.secret }, { roomId: r.roomId, author: who.key, field: 'name' }, '', randomBytes(TEXT_NONCE_BYTES))
  return r.signed(who, { kind: 'profile', seq: 100, name, muted: false }, time, prev)
}

describe('mute attacks', () => {
  it('a muted speaker cannot unmute before the hold, by dating its unmute early or ahead', async () => {
    const r = await moderatedRoom()
    await seat(r, r.alice)
    const muteId = await r.mod.mute(r.alice.key)
    const m = r.replica.get(muteId)!
    await expect(r.alice.unmute()).rejects.toMatchObject({ code: 'too-early' })
    // Naming the mute, dated inside the hold: does not clear it.
    const [early] = await r.inject(await profileBy(r, r.alice, m.time + 1000, [muteId]))
    expect(r.state.muted.get(r.alice.key)).toMatchObject({ by: r.mod.key, at: m.time })
    // Dated before the mute it names: backdated, for good.
    const [backdated] = await r.inject(await profileBy(r, r.alice, m.time - 1, [muteId]))
    expect(r.state.reasons.get(backdated!)).toBe('backdated')
    // Dated at the end of the hold while the clock is only 1 s past the mute (inside the skew):
    // admitted, but counts only once the clock reaches its date.
    const ahead = m.time + MUTE_HOLD_MS
    const [forward] = await r.inject(await profileBy(r, r.alice, ahead, [muteId, early!]))
    expect(r.state.reasons.has(forward!)).toBe(false)
    expect(r.state.muted.has(r.alice.key)).toBe(true)
    expect(r.state.recheckAt).toBe(ahead)
    r.advance(ahead - r.clock())
    r.replica.recompute()
    expect(r.state.muted.has(r.alice.key)).toBe(false)
  })

  it('an unmute written before the mute (not naming it) does not clear it, however late it is dated', async () => {
    const r = await moderatedRoom()
    await seat(r, r.alice)
    const planted = await profileBy(r, r.alice, r.clock() + DEFAULT_SKEW_MS - 1, [])
    const muteId = await r.mod.mute(r.alice.key)
    await r.inject(planted)
    r.advance(DEFAULT_SKEW_MS)
    r.replica.recompute()
    expect(r.state.muted.get(r.alice.key)?.id).toBe(muteId)
  })

  it('a moderator cannot mute the owner; a listener cannot mute anyone', async () => {
    const r = await moderatedRoom()
    await seat(r, r.alice)
    await expect(r.mod.mute(r.owner.key)).rejects.toMatchObject({ code: 'cannot-target-owner' })
    const [byMod, byListener] = await r.inject(
      await r.signed(r.mod, { kind: 'mute', auth: r.state.moderators.get(r.mod.key)!, subject: r.owner.key }, r.clock()),
      await r.signed(r.bob, { kind: 'mute', auth: r.state.genesisId!, subject: r.alice.key }, r.clock()),
    )
    expect(r.state.reasons.get(byMod!)).toBe('no-authority')
    expect(r.state.reasons.get(byListener!)).toBe('no-authority')
    expect(r.state.muted.size).toBe(0)
  })
})

describe('mute rules', () => {
  it('the speaker unmutes after the hold; a later mute mutes again; the owner mutes a moderator', async () => {
    const r = await moderatedRoom()
    await seat(r, r.alice)
    await seat(r, r.mod)
    await r.mod.mute(r.alice.key)
    r.advance(MUTE_HOLD_MS)
    await r.alice.unmute()
    expect(r.state.muted.has(r.alice.key)).toBe(false)
    const again = await r.mod2.mute(r.alice.key)
    expect(r.state.muted.get(r.alice.key)).toMatchObject({ by: r.mod2.key, id: again })
    await r.owner.mute(r.mod.key)
    expect([...r.state.muted.keys()].sort()).toEqual([r.alice.key, r.mod.key].sort())
  })
})

describe('kick attacks', () => {
  it('a kicked speaker is off stage with its hand down, and cannot come back with its old invite during or after the kick', async () => {
    const r = await moderatedRoom()
    const invite = await r.owner.inviteToStage(r.alice.key)
    await r.alice.acceptInvite(invite)
    await r.bob.raiseHand()
    const kick = await r.mod.kick(r.alice.key, 30_000)
    await r.mod.kick(r.bob.key, 30_000)
    expect(r.state.seatOf.has(r.alice.key)).toBe(false)
    expect(r.state.handOf.has(r.bob.key)).toBe(false)
    expect([...r.state.kicked.keys()].sort()).toEqual([r.alice.key, r.bob.key].sort())
    // During the kick: a second accept of the old invite, a new raise.
    const [accept, raise] = await r.inject(
      await r.signed(r.alice, { kind: 'accept', invite }, r.clock()),
      await r.signed(r.bob, { kind: 'raise', nonce: randomBytes(16) }, r.clock()),
    )
    expect(r.state.seatOf.has(r.alice.key)).toBe(false)
    expect(r.state.handOf.has(r.bob.key)).toBe(false)
    expect(r.state.reasons.get(raise!)).toBe('kicked')
    expect(['kicked', 'used']).toContain(r.state.reasons.get(accept!))
    // After it: Alice is a listener and needs a new invite; Bob raises again.
    r.advance(30_000)
    r.replica.recompute()
    expect(r.state.kicked.size).toBe(0)
    const [late] = await r.inject(await r.signed(r.alice, { kind: 'accept', invite }, r.clock(), [kick]))
    expect(r.state.seatOf.has(r.alice.key)).toBe(false)
    expect(r.state.reasons.has(late!)).toBe(true)
    await r.bob.raiseHand()
    expect(r.state.handOf.has(r.bob.key)).toBe(true)
    await seat(r, r.alice)
    expect(r.state.seatOf.has(r.alice.key)).toBe(true)
  })

  it('nobody kicks the owner or a moderator, and a listener kicks nobody', async () => {
    const r = await moderatedRoom()
    await expect(r.mod.kick(r.owner.key, 1000)).rejects.toMatchObject({ code: 'cannot-target-owner' })
    await expect(r.owner.kick(r.mod.key, 1000)).rejects.toMatchObject({ code: 'cannot-target-moderator' })
    const until = r.clock() + 60_000
    const ids = await r.inject(
      await r.signed(r.mod, { kind: 'kick', auth: r.state.moderators.get(r.mod.key)!, subject: r.owner.key, until }, r.clock()),
      await r.signed(r.mod, { kind: 'kick', auth: r.state.moderators.get(r.mod.key)!, subject: r.mod2.key, until }, r.clock()),
      await r.signed(r.owner, { kind: 'kick', auth: r.state.genesisId!, subject: r.mod.key, until }, r.clock()),
      await r.signed(r.bob, { kind: 'kick', auth: r.state.genesisId!, subject: r.alice.key, until }, r.clock()),
    )
    for (const id of ids) expect(r.state.reasons.get(id)).toBe('no-authority')
    expect(r.state.kicked.size).toBe(0)
  })
})

describe('kick rules', () => {
  it('a kick holds until its end (at most MAX_KICK_MS), says when to look again, and rotates nothing', async () => {
    const r = await moderatedRoom()
    const epoch = r.state.epochs.current!.id
    const id = await r.mod.kick(r.alice.key, 5000)
    const k = r.state.kicked.get(r.alice.key)!
    expect(k).toMatchObject({ by: r.mod.key, id })
    expect(r.state.recheckAt).toBe(k.until)
    expect(r.state.epochs.rotationDue).toBe(false)
    expect(r.state.epochs.current!.id).toBe(epoch)
    const [long] = await r.inject(await r.signed(r.mod, { kind: 'kick', auth: r.state.moderators.get(r.mod.key)!, subject: r.bob.key, until: r.clock() + 10 * MAX_KICK_MS }, r.clock()))
    expect(r.state.kicked.get(r.bob.key)!.until).toBe(r.replica.get(long!)!.time + MAX_KICK_MS)
    const later = computeState(r.replica.entries, { roomId: r.roomId, now: k.until })
    expect(later.kicked.has(r.alice.key)).toBe(false)
    expect(later.kicked.has(r.bob.key)).toBe(true)
  })
})

describe('record', () => {
  it('a listener cannot announce or stop a recording', async () => {
    const r = await moderatedRoom()
    await r.mod.startRecording()
    const [off] = await r.inject(await r.signed(r.bob, { kind: 'record', auth: r.state.genesisId!, on: false }, r.clock()))
    expect(r.state.reasons.get(off!)).toBe('no-authority')
    expect(r.state.recording).toMatchObject({ by: r.mod.key })
  })

  it('shows who records since when; invites written during it say so; accepting one is valid', async () => {
    const r = await moderatedRoom()
    const before = await r.owner.inviteToStage(r.bob.key)
    const start = await r.mod.startRecording()
    expect(await r.mod2.startRecording()).toBeNull()
    expect(r.state.recording).toEqual({ by: r.mod.key, since: r.replica.get(start!)!.time, id: start })
    const during = await r.owner.inviteToStage(r.alice.key)
    const flag = (id: string) => r.state.invites.find((i) => i.id === id)?.recording ?? false
    expect(flag(before)).toBe(false)
    expect(flag(during)).toBe(true)
    await r.alice.acceptInvite(during)
    expect(r.state.seatOf.has(r.alice.key)).toBe(true)
    await r.mod2.stopRecording()
    expect(r.state.recording).toBeNull()
  })

  it("revoking the recorder's moderator grant voids its announcement", async () => {
    const r = await moderatedRoom()
    await r.mod.startRecording()
    await r.owner.revokeModerator(r.mod.key)
    expect(r.state.recording).toBeNull()
  })
})
