/**
 * docs/room-rules.md §3a, causal order: the entry format's `prev`, entries
 * waiting for what they name, 'backdated', the heads an honest author names,
 * single use decided by causality first, retired passes, and logs written
 * before causal references (format 1), which keep the state they had.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { randomBytes, type Identity } from '../../../src/identity/index.ts'
import {
  ENTRY_VERSION, LEGACY_ENTRY_VERSION, MAX_PREV, RoomActor, RoomReplica, attachSignature, computeState, createRoom, decodeEntry, encodeUnsigned, entryId,
  logOf, signEntry, signRedeemProof, snapshotState, type EntryBody, type LinkPass,
} from '../../../src/room/index.ts'
import { revealText } from '../../../src/room/reveal.ts'
import format1 from './fixtures/format1-log.json'
import { identities, kid, RoomBuilder, T0 } from './helpers.ts'

/** An entry in the format before causal references, as the previous version wrote it. */
async function legacy(who: Identity, roomId: string, time: number, body: EntryBody): Promise<Uint8Array> {
  const v2 = encodeUnsigned(roomId, who.publicKey, time, body)
  const at = 1 + 1 + 16 + 32 + (v2.length - encodeUnsigned(roomId, who.publicKey, 0, body).length) + 1
  const v1 = new Uint8Array(v2.length - 1)
  v1.set(v2.subarray(0, at))
  v1.set(v2.subarray(at + 1), at)
  v1[0] = LEGACY_ENTRY_VERSION
  return attachSignature(v1, await who.sign(v1))
}

const raise = (): EntryBody => ({ kind: 'raise', nonce: randomBytes(16) })

async function redeemBy(who: Identity, roomId: string, pass: LinkPass, time: number, prev?: string[]): Promise<Uint8Array> {
  return signEntry(who, roomId, time, { kind: 'redeem', grant: pass.grant, proof: await signRedeemProof(pass, roomId, who.publicKey) }, prev)
}

describe('entry format', () => {
  it('new entries name what their author had seen, in one canonical form; format-1 entries still decode', async () => {
    const [owner] = await identities(1)
    const b = await RoomBuilder.create(owner!)
    const r1 = await b.add(owner!, raise())
    const r2 = await b.add(owner!, raise())
    const bytes = await signEntry(owner!, b.roomId, T0 + 10, raise(), [r2, r1, r2])
    const e = decodeEntry(bytes)!
    expect(e.version).toBe(ENTRY_VERSION)
    expect([...e.prev].sort()).toEqual([r1, r2].sort())
    expect(await signEntry(owner!, b.roomId, T0 + 10, { kind: 'lower', raise: r1 }, [r1, r2])).not.toEqual(await signEntry(owner!, b.roomId, T0 + 10, { kind: 'lower', raise: r1 }, [r1]))
    const old = decodeEntry(await legacy(owner!, b.roomId, T0 + 11, { kind: 'lower', raise: r1 }))!
    expect(old).toMatchObject({ version: LEGACY_ENTRY_VERSION, prev: [], kind: 'lower', raise: r1, time: T0 + 11 })
  })

  it('at most MAX_PREV references, in increasing byte order, else malformed', async () => {
    const [owner] = await identities(1)
    const b = await RoomBuilder.create(owner!)
    const ids: string[] = []
    for (let i = 0; i <= MAX_PREV; i++) ids.push(await b.add(owner!, raise()))
    await expect(signEntry(owner!, b.roomId, T0 + 100, raise(), ids)).rejects.toBeInstanceOf(RangeError)
    const two = await signEntry(owner!, b.roomId, T0 + 100, raise(), ids.slice(0, 2))
    const at = two.indexOf(2, 1 + 1 + 16 + 32) + 1
    const swapped = two.slice()
    swapped.set(two.subarray(at + 16, at + 32), at)
    swapped.set(two.subarray(at, at + 16), at + 16)
    expect(decodeEntry(swapped)).toBeNull()
    const tooMany = two.slice()
    tooMany[at - 1] = MAX_PREV + 1
    expect(decodeEntry(tooMany)).toBeNull()
  })
})

describe('entries wait for what they name', () => {
  it('an entry naming an entry not here is an unknown-reference until it arrives, in any arrival order', async () => {
    const [owner, p] = await identities(2)
    const b = await RoomBuilder.create(owner!)
    const first = await b.sign(p!, raise(), T0 + 5, b.roomId)
    const second = await b.sign(p!, { kind: 'profile', seq: 1, name: b.text(p!, 'name', 'p'), muted: false }, T0 + 6, b.roomId)
    const named = await signEntry(p!, b.roomId, T0 + 6, { kind: 'profile', seq: 2, name: b.text(p!, 'name', 'named'), muted: false }, [entryId(first), entryId(second)])
    const doc = new Y.Doc()
    const replica = new RoomReplica(doc, { roomId: b.roomId, now: () => T0 + 100 })
    for (const x of [b.bytes[0]!, named, second, first]) {
      logOf(doc).push([x])
      await replica.whenSettled()
      if (x === named) expect(replica.state.reasons.get(entryId(named))).toBe('unknown-reference')
    }
    expect(replica.state.reasons.has(entryId(named))).toBe(false)
    expect(revealText(replica.state, () => b.secret).profiles.get(kid(p!))?.name).toBe('named')
    expect(replica.state.hands.map((h) => h.key)).toEqual([kid(p!)])
    replica.destroy()
  })

  it('an entry dated before an entry it names is backdated, for good', async () => {
    const [owner, p] = await identities(2)
    const b = await RoomBuilder.create(owner!)
    const r = await b.add(p!, raise(), T0 + 50)
    const named = await signEntry(p!, b.roomId, T0 + 49, { kind: 'lower', raise: r }, [r])
    b.bytes.push(named)
    let s = b.state()
    expect(s.reasons.get(entryId(named))).toBe('backdated')
    expect(s.rejected.backdated).toBe(1)
    expect(s.hands.map((h) => h.key)).toEqual([kid(p!)])
    // The same lower naming nothing counts: a date is checked against what an entry names, nothing else.
    await b.add(p!, { kind: 'lower', raise: r }, T0 + 49)
    s = b.state()
    expect(s.hands).toHaveLength(0)
  })
})

describe('what an honest author names', () => {
  it('the actor names its own latest entry and the heads, and never dates an entry before them', async () => {
    const [owner, a] = await identities(2)
    let t = T0
    const created = await createRoom(owner!, { title: 'heads', now: () => (t += 10) })
    const replica = new RoomReplica(created.doc, { roomId: created.roomId, now: () => t + 1_000_000 })
    await replica.ready()
    const o = new RoomActor(replica, owner!, { now: () => (t += 10) })
    const slow = new RoomActor(replica, a!, { now: () => T0 - 60_000 })
    const [head] = replica.index.heads()
    const raiseId = await slow.raiseHand()
    const r = replica.get(raiseId)!
    expect(r.prev).toEqual([head!.id])
    expect(r.time).toBe(head!.time)
    const inv = await o.inviteToStage(slow.key)
    expect(replica.get(inv)!.prev).toEqual([raiseId])
    const acc = await slow.acceptInvite()
    // Accept and lower of the hand go in one transaction, naming the same heads.
    expect(replica.get(acc)!.prev).toEqual([inv])
    expect(slow.role).toBe('speaker')
    replica.destroy()
  })

  it('an entry whose past is not all here is never named (no slipping a later entry into the past)', async () => {
    const [owner, x] = await identities(2)
    const b = await RoomBuilder.create(owner!)
    const hidden = await b.sign(x!, raise(), T0 + 1)
    const commit = await legacy(x!, b.roomId, T0 + 2, { kind: 'lower', raise: entryId(hidden) })
    const doc = new Y.Doc()
    const replica = new RoomReplica(doc, { roomId: b.roomId, now: () => T0 + 100 })
    logOf(doc).push([b.bytes[0]!, commit])
    await replica.whenSettled()
    expect(replica.index.heads().map((e) => e.id)).toEqual([b.genesisId])
    logOf(doc).push([hidden])
    await replica.whenSettled()
    expect(replica.index.heads().map((e) => e.id).sort()).toEqual([b.genesisId, entryId(commit)].sort())
    replica.destroy()
  })
})

describe('single use in causal order', () => {
  it('a claim naming its rival loses to it even at the same time', async () => {
    const [owner, a, c] = await identities(3)
    const b = await RoomBuilder.create(owner!)
    const pass = await b.link(owner!, { role: 'speaker', singleUse: true })
    const first = await b.redeem(a!, pass, T0 + 40)
    const second = entryId(await redeemBy(c!, b.roomId, pass, T0 + 40, [first]).then((x) => (b.bytes.push(x), x)))
    const s = b.state()
    expect(s.seatOf.get(kid(a!))?.seatId).toBe(first)
    expect(s.reasons.get(second)).toBe('used')
  })

  it('between concurrent claims the one the issuer had seen wins; with no such entry, the earliest', async () => {
    const [owner, a, c] = await identities(3)
    const b = await RoomBuilder.create(owner!)
    const pass = await b.link(owner!, { role: 'speaker', singleUse: true })
    const legit = await b.redeem(a!, pass, T0 + 50)
    const rival = await redeemBy(c!, b.roomId, pass, T0 + 45)
    b.bytes.push(rival)
    expect(b.state().seatOf.get(kid(c!))?.seatId).toBe(entryId(rival))
    // The issuer writes something having seen the legitimate redeem (not the rival).
    b.bytes.push(await signEntry(owner!, b.roomId, T0 + 60, { kind: 'profile', seq: 1, name: b.text(owner!, 'name', 'owner'), muted: false }, [legit]))
    const s = b.state()
    expect(s.seatOf.get(kid(a!))?.seatId).toBe(legit)
    expect(s.reasons.get(entryId(rival))).toBe('used')
  })
})

describe('closing spends what was closed', () => {
  it('a revoked redeem retires its pass: others redeem it only if the revoke had seen them; a format-1 revoke binds the redeemer only', async () => {
    const [owner, m, a, c] = await identities(4)
    const b = await RoomBuilder.create(owner!)
    const pass = await b.link(owner!, { role: 'moderator', singleUse: false })
    const mr = await b.redeem(m!, pass, T0 + 10)
    const ar = await b.redeem(a!, pass, T0 + 11)
    b.bytes.push(await legacy(owner!, b.roomId, T0 + 20, { kind: 'revoke', auth: b.genesisId, target: mr }))
    const again = await b.redeem(m!, pass, T0 + 30)
    const cr = await b.redeem(c!, pass, T0 + 31)
    let s = b.state()
    expect(s.reasons.get(again)).toBe('revoked')
    expect(s.moderators.get(kid(a!))).toBe(ar)
    expect(s.moderators.get(kid(c!))).toBe(cr)
    // The same revoke naming what it had seen (ar, not cr) retires the pass for c too.
    b.bytes.splice(b.bytes.length - 3, 1, await signEntry(owner!, b.roomId, T0 + 20, { kind: 'revoke', auth: b.genesisId, target: mr }, [ar]))
    s = b.state()
    expect(s.moderators.get(kid(a!))).toBe(ar)
    expect(s.reasons.get(cr)).toBe('revoked')
  })

  it('after leaving, a multi-use link rejoins only with a redeem that comes after the leave', async () => {
    const [owner, a] = await identities(2)
    let t = T0
    const now = () => (t += 10)
    const created = await createRoom(owner!, { title: 'rejoin', now })
    const replica = new RoomReplica(created.doc, { roomId: created.roomId, now: () => t })
    await replica.ready()
    const o = new RoomActor(replica, owner!, { now })
    const alice = new RoomActor(replica, a!, { now })
    const pass = await o.createLinkGrant({ role: 'speaker', singleUse: false })
    const seat = await alice.redeemLinkGrant(pass)
    await alice.leaveStage()
    const stripped = await redeemBy(a!, created.roomId, pass, replica.get(seat)!.time)
    logOf(created.doc).push([stripped])
    await replica.whenSettled()
    expect(replica.state.reasons.get(entryId(stripped))).toBe('used')
    expect(alice.role).toBe('listener')
    await alice.redeemLinkGrant(pass)
    expect(alice.role).toBe('speaker')
    replica.destroy()
  })

  it('a ban spends the links its subject held: after an unban only a link issued later works', async () => {
    const [owner, a] = await identities(2)
    const b = await RoomBuilder.create(owner!)
    const old = await b.link(owner!, { role: 'speaker', issuedAt: T0 + 1 })
    const ban = await b.add(owner!, { kind: 'ban', auth: b.genesisId, subject: kid(a!) }, T0 + 10)
    await b.add(owner!, { kind: 'unban', auth: b.genesisId, target: ban }, T0 + 20)
    const stale = await b.redeem(a!, old, T0 + 30)
    expect(b.state().reasons.get(stale)).toBe('banned')
    const fresh = await b.redeem(a!, await b.link(owner!, { role: 'speaker', issuedAt: T0 + 25 }), T0 + 31)
    expect(b.state().seatOf.get(kid(a!))?.seatId).toBe(fresh)
  })
})

describe('logs written before causal references', () => {
  it('a format-1 log computes the state the previous version computed', () => {
    const entries = format1.entries.map((x) => decodeEntry(new Uint8Array(Buffer.from(x, 'base64')))!)
    expect(entries.every((e) => e.version === LEGACY_ENTRY_VERSION)).toBe(true)
    const s = snapshotState(computeState(entries, { roomId: format1.roomId, now: format1.now }))
    // Epochs (§8) came later: a log without them has none, and no rotation is due unless someone is banned.
    const noEpochs = { epoch: null, rotationDue: format1.state.banned.length > 0, unsealed: [], encKeys: [] }
    // Sealed text (§9) came later too: format 1's text is plain, read as it was; `metaId` names the entry it came from.
    const metaId = entries.find((e) => (e.kind === 'meta' || e.kind === 'genesis') && e.title === format1.state.title)!.id
    // Chat and moderation (§10) came later still: none of it, and the owner's authority is the genesis.
    const noModeration = { ownerAuth: s.genesisId, chat: [], muted: [], kicked: [], recording: null }
    const rejected = { ...format1.state.rejected, backdated: 0, kicked: 0, 'rate-limited': 0 }
    expect(JSON.parse(JSON.stringify(s))).toEqual({ ...format1.state, ...noEpochs, ...noModeration, metaId, rejected })
  })

  it('a format-1 log continues with new entries', async () => {
    const doc = new Y.Doc()
    logOf(doc).push(format1.entries.map((x) => new Uint8Array(Buffer.from(x, 'base64'))))
    const replica = new RoomReplica(doc, { roomId: format1.roomId, now: () => format1.now })
    await replica.ready()
    const [newcomer] = await identities(1)
    const me = new RoomActor(replica, newcomer!, { now: () => format1.now })
    const id = await me.raiseHand()
    const e = replica.get(id)!
    expect(e.version).toBe(ENTRY_VERSION)
    expect(e.prev.length).toBeGreaterThan(0)
    expect(replica.state.hands.map((h) => h.key)).toContain(me.key)
    expect(replica.state.stage).toEqual(format1.state.stage)
    replica.destroy()
  })
})
