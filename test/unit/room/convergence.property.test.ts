/**
 * Property tests: random operations by 3-6 actors (one of them an attacker
 * writing straight into its own doc), replicas on separate Y.Docs synced
 * pairwise in random order (partitions happen naturally), then a full sync.
 * The attacker is also an insider: it may be invited and accept, leave, be
 * moved or banned, and it has seen every invite link; it then tries to undo
 * what was done to it (insider-attacks.ts: backdated redeems, re-redeems after
 * a revoke, earlier-dated accepts, redeems naming nothing to win a race).
 * Checks: every replica computes the same state, the incremental replica
 * agrees with the pure computeState, so does a fresh index fed the final
 * entries in many random orders (interleavings), the attacker never gains a
 * role without a valid chain and holds a seat only through its honest accept,
 * not one insider attack entry counts, and every update that crossed the wire
 * passed the guard.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as Y from 'yjs'
import { keyId, randomBytes, type Identity } from '../../../src/identity/index.ts'
import {
  DEFAULT_SKEW_MS, EntryIndex, RoomActor, RoomError, RoomReplica, attachSignature, checkRemoteUpdate, computeFromIndex, computeState, createLinkGrant,
  createRoom, decodeEntry, decodeLinkGrant, encodeUnsigned, entryId, logOf, signEntry, signRedeemProof, snapshotState, type Entry, type EntryBody,
  type LinkPass,
} from '../../../src/room/index.ts'
import { identities, T0 } from './helpers.ts'
import { backdatedRedeem, earlierDatedAccept, reRedeemAfterRevoke, strippedRedeemOfSeenLink, type InsiderView } from './insider-attacks.ts'

type Op =
  | { t: 'act'; who: number; action: number; target: number }
  | { t: 'sync'; from: number; to: number }
  | { t: 'attack'; kind: number; pick: number }
  | { t: 'insider'; leave: boolean }
  | { t: 'story'; kind: number; pick: number }

const ACTIONS = [
  'raise', 'lower', 'invite', 'accept', 'decline', 'leave', 'move', 'grant', 'revokeMod', 'ban', 'unban', 'profile', 'meta', 'link', 'end', 'revokeLink',
] as const

/** Orders in which a fresh index receives the final entries, per scenario. */
const INTERLEAVINGS = 25
const RUNS = 400

const opArb = (actors: number): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        t: fc.constant('act' as const),
        // The owner acts a third of the time, so authority actually flows.
        who: fc.oneof(fc.constant(0), fc.nat(actors - 2), fc.nat(actors - 2)),
        action: fc.nat(ACTIONS.length - 1),
        target: fc.nat(actors - 1),
      }),
    },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('sync' as const), from: fc.nat(actors - 1), to: fc.nat(actors - 1) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('attack' as const), kind: fc.nat(15), pick: fc.nat(1000) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('insider' as const), leave: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('story' as const), kind: fc.nat(1), pick: fc.nat(1000) }) },
    // The insider attacks (kinds 11-14) once more, so that they often follow a story.
    { weight: 2, arbitrary: fc.record({ t: fc.constant('attack' as const), kind: fc.integer({ min: 11, max: 14 }), pick: fc.nat(1000) }) },
  )

/** Coverage counters, printed with STOOP_PROP_STATS=1. */
const stats = {
  runs: 0, ok: 0, refused: 0, stage: 0, mods: 0, banned: 0, rejected: 0, ended: 0, insiderActs: 0,
  /** Insider attack entries written, and how many of them counted in any interleaving (must stay 0). */
  insider: { earlierAccept: 0, reRedeem: 0, backdated: 0, stripped: 0 }, interleavings: 0, accepted: 0,
}

/** A small seeded PRNG (mulberry32), so that fast-check replays the same interleavings. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const out = [...list]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

interface Peer {
  identity: Identity
  doc: Y.Doc
  replica: RoomReplica
  actor: RoomActor
}

async function runScenario(all: Identity[], nActors: number, ops: Op[], seed: number): Promise<void> {
  let t = T0
  const now = () => (t += 7)
  const owner = all[0]!
  const attacker = all[nActors - 1]!
  const created = await createRoom(owner, { title: 'prop', now })
  const roomId = created.roomId
  const genesisId = created.genesisId
  const peers: Peer[] = []
  for (let i = 0; i < nActors; i++) {
    const doc = i === 0 ? created.doc : new Y.Doc()
    const replica = new RoomReplica(doc, { roomId, now })
    peers.push({ identity: all[i]!, doc, replica, actor: new RoomActor(replica, all[i]!, { now }) })
  }
  // Everyone starts from the genesis (it is how they found the room).
  for (let i = 1; i < nActors; i++) Y.applyUpdate(peers[i]!.doc, Y.encodeStateAsUpdate(created.doc))
  await Promise.all(peers.map((p) => p.replica.whenSettled()))
  const X = peers[nActors - 1]!
  const honestKeys = peers.slice(0, -1).map((p) => p.actor.key)
  const xKey = X.actor.key
  const links: LinkPass[] = []
  const attackerPrivileged = new Set<string>()
  /** Entries X wrote through its actor (counted for coverage), and insider attack entries (none may count). */
  const xHonest = new Set<string>()
  const insiderClaims = new Set<string>()
  let ownerBannedX = false

  const sync = (from: Peer, to: Peer): void => {
    const update = Y.encodeStateAsUpdate(from.doc, Y.encodeStateVector(to.doc))
    const verdict = checkRemoteUpdate(update)
    expect(verdict.ok).toBe(true)
    Y.applyUpdate(to.doc, update, 'remote')
  }
  const xWrite = (bytes: Uint8Array[]): void => {
    logOf(X.doc).push(bytes)
  }
  const xSign = async (body: EntryBody, opts: { as?: Uint8Array; room?: string; time?: number } = {}): Promise<Uint8Array> => {
    const unsigned = encodeUnsigned(opts.room ?? roomId, opts.as ?? attacker.publicKey, opts.time ?? now(), body)
    const bytes = attachSignature(unsigned, await attacker.sign(unsigned))
    if (!opts.as && !opts.room && 'auth' in body) attackerPrivileged.add(entryId(bytes))
    return bytes
  }

  /**
   * Short honest sequences that give the insider something to undo, between
   * which partitions and other ops happen as usual. 0: the owner invites X, X
   * accepts, then the owner moves X, X leaves, or the owner bans (and maybe
   * unbans) X. 1: the owner makes a link, peer 1 redeems it, then the owner
   * revokes that redeem, the link, or just writes a profile (having seen it).
   */
  const story = async (kind: number, pick: number): Promise<void> => {
    const O = peers[0]!.actor
    if (kind === 0) {
      await O.inviteToStage(xKey)
      sync(peers[0]!, X)
      xHonest.add(await X.actor.acceptInvite())
      sync(X, peers[0]!)
      await peers[0]!.replica.whenSettled()
      if (pick % 3 === 0) await O.moveToAudience(xKey)
      else if (pick % 3 === 1) for (const id of await X.actor.leaveStage()) xHonest.add(id)
      else {
        await O.ban(xKey)
        ownerBannedX = pick % 2 === 0
        if (!ownerBannedX) await O.unban(xKey)
      }
      return
    }
    const pass = await O.createLinkGrant({ role: pick % 2 ? 'moderator' : 'speaker', singleUse: pick % 4 < 2 })
    links.push(pass)
    const R = peers[1]!
    sync(peers[0]!, R)
    const redeemId = await R.actor.redeemLinkGrant(pass)
    sync(R, peers[0]!)
    await peers[0]!.replica.whenSettled()
    if (pick % 3 === 0) await O.revoke(redeemId)
    else if (pick % 3 === 1) await O.revoke(decodeLinkGrant(pass.grant)!.id)
    else await O.setProfile({ name: `seen ${pick}` })
  }

  for (const op of ops) {
    if (op.t === 'sync') {
      if (op.from !== op.to) sync(peers[op.from]!, peers[op.to]!)
      continue
    }
    if (op.t === 'story') {
      try {
        await story(op.kind, op.pick)
        stats.ok++
      } catch (err) {
        if (!(err instanceof RoomError)) throw err
        stats.refused++
      }
      continue
    }
    if (op.t === 'insider') {
      // An insider is online: it reads the owner's log, and its own actions reach the owner.
      sync(peers[0]!, X)
      try {
        for (const id of op.leave ? await X.actor.leaveStage() : [await X.actor.acceptInvite()]) xHonest.add(id)
      } catch (err) {
        if (!(err instanceof RoomError)) throw err
      }
      sync(X, peers[0]!)
      continue
    }
    if (op.t === 'act') {
      const me = peers[op.who]!
      const s = me.replica.state
      // Honest actors never make the attacker a moderator; they may invite, move, ban or unban it.
      const targetKey = peers[op.target]!.actor.key
      const friendly = targetKey === xKey ? honestKeys[op.target % honestKeys.length]! : targetKey
      const a = me.actor
      try {
        switch (ACTIONS[op.action]!) {
          case 'raise': await a.raiseHand(); break
          case 'lower': await a.lowerHand(); break
          case 'invite': await a.inviteToStage(targetKey); break
          case 'accept': await a.acceptInvite(); break
          case 'decline': await a.declineInvite(); break
          case 'leave': await a.leaveStage(); break
          case 'move': await a.moveToAudience(targetKey); break
          case 'grant': await a.grantModerator(friendly); break
          case 'revokeMod': await a.revokeModerator(targetKey); break
          case 'ban':
            await a.ban(targetKey)
            if (targetKey === xKey && a.key === s.owner) ownerBannedX = true
            break
          case 'unban':
            await a.unban(targetKey)
            if (targetKey === xKey && a.key === s.owner) ownerBannedX = false
            break
          case 'profile': await a.setProfile({ name: `n${op.target}`, muted: op.target % 2 === 0 }); break
          case 'meta': await a.setTitle(`title ${op.target}`); break
          case 'link': {
            const g = await a.createLinkGrant({ role: op.target % 3 === 0 ? 'moderator' : 'speaker', singleUse: op.target % 2 === 0 })
            links.push(g)
            await peers[(op.who + 1 + (op.target % (nActors - 2))) % (nActors - 1)]!.actor.redeemLinkGrant(g)
            break
          }
          case 'end': if (op.target === 0) await a.endRoom(); break
          case 'revokeLink': {
            // The owner or a moderator revokes a link, or (owner) one redeem of it.
            const pass = links[op.target % Math.max(1, links.length)]
            if (!pass) break
            const linkId = decodeLinkGrant(pass.grant)!.id
            const redeemOf = me.replica.entries.find((e) => e.kind === 'redeem' && e.link.id === linkId)
            await a.revoke(op.target % 2 === 0 && redeemOf ? redeemOf.id : linkId)
            break
          }
        }
        stats.ok++
      } catch (err) {
        if (!(err instanceof RoomError)) throw err
        stats.refused++
      }
      continue
    }
    // Attacks, written straight into the attacker's own doc.
    const existing = logOf(X.doc).toArray()
    const ref = existing.length > 0 ? entryId(existing[op.pick % existing.length]!) : genesisId
    switch (op.kind) {
      case 0: // forged: claims the owner's key
        xWrite([await xSign({ kind: 'grant', auth: genesisId, role: 'moderator', subject: xKey }, { as: owner.publicKey })])
        break
      case 1: // replay of something already in the log
        if (existing.length > 0) xWrite([existing[op.pick % existing.length]!])
        break
      case 2: { // wrong room: a valid chain in a room the attacker owns
        const mine = await createRoom(attacker, { title: 'mine', now })
        const g = entryId(logOf(mine.doc).get(0))
        xWrite([...logOf(mine.doc).toArray(), await xSign({ kind: 'grant', auth: g, role: 'moderator', subject: xKey }, { room: mine.roomId })])
        break
      }
      case 3: // self-grant
        xWrite([await xSign({ kind: 'grant', auth: genesisId, role: 'moderator', subject: xKey })])
        break
      case 4: { // self-invite + accept
        const inv = await xSign({ kind: 'invite', auth: ref, subject: xKey })
        xWrite([inv, await xSign({ kind: 'accept', invite: entryId(inv) })])
        break
      }
      case 5: { // self-issued link grants
        const g = await createLinkGrant(attacker, { roomId, auth: genesisId, role: op.pick % 2 ? 'moderator' : 'speaker', issuedAt: now(), singleUse: false })
        xWrite([await xSign({ kind: 'redeem', grant: g.grant, proof: await signRedeemProof(g, roomId, attacker.publicKey) })])
        break
      }
      case 6: // unban self with stolen authority
        xWrite([await xSign({ kind: 'unban', auth: ref, target: ref })])
        break
      case 7: // ban the owner / move someone using someone else's authority
        xWrite([await xSign({ kind: 'ban', auth: ref, subject: honestKeys[0]! }), await xSign({ kind: 'move', auth: ref, seat: ref })])
        break
      case 8: // garbage
        xWrite([randomBytes(1 + (op.pick % 200))])
        break
      case 9: { // accept somebody else's invite; reuse someone else's grant seen in the log, backdated, with the original proof
        xWrite([await xSign({ kind: 'accept', invite: ref })])
        const seen = existing.map((b) => decodeEntry(b)).find((e) => e?.kind === 'redeem' && e.author !== xKey)
        if (seen?.kind === 'redeem') {
          xWrite([await signEntry(attacker, roomId, seen.link.issuedAt, { kind: 'redeem', grant: seen.grant, proof: seen.proof })])
        }
        break
      }
      case 11: case 12: case 13: case 14: { // insider: try to undo a move, revoke or ban, or to win a race by backdating
        sync(peers[0]!, X)
        await X.replica.whenSettled()
        const view: InsiderView = { roomId, owner: honestKeys[0]!, x: attacker, xKey, index: X.replica.index, links, pick: op.pick }
        const written =
          op.kind === 11 ? await earlierDatedAccept(view)
          : op.kind === 12 ? await reRedeemAfterRevoke(view, now())
          : op.kind === 13 ? await backdatedRedeem(view)
          : await strippedRedeemOfSeenLink(view)
        const counter = (['earlierAccept', 'reRedeem', 'backdated', 'stripped'] as const)[op.kind - 11]!
        stats.insider[counter] += written.length
        for (const b of written) insiderClaims.add(entryId(b))
        xWrite(written)
        break
      }
      case 10: { // deletion attempt: must be refused by the guard
        const copy = new Y.Doc()
        Y.applyUpdate(copy, Y.encodeStateAsUpdate(X.doc))
        const sv = Y.encodeStateVector(copy)
        if (logOf(copy).length > 0) {
          logOf(copy).delete(0, 1)
          const verdict = checkRemoteUpdate(Y.encodeStateAsUpdate(copy, sv))
          expect(verdict).toMatchObject({ ok: false, reason: 'has-deletes' })
        }
        break
      }
      default: // honest-looking self entries are allowed for the attacker
        xWrite([await signEntry(attacker, roomId, now(), { kind: 'raise', nonce: randomBytes(16) })])
    }
  }

  // Full sync: everyone to peer 0 and back, twice.
  for (let round = 0; round < 2; round++) {
    for (let i = 1; i < nActors; i++) sync(peers[i]!, peers[0]!)
    for (let i = 1; i < nActors; i++) sync(peers[0]!, peers[i]!)
  }
  await Promise.all(peers.map((p) => p.replica.whenSettled()))
  const fixedNow = t + 1
  const snaps = peers.map((p) => {
    const s = computeState(p.replica.entries, { roomId, now: fixedNow })
    return snapshotState(s)
  })
  for (const s of snaps) expect(s).toEqual(snaps[0])
  // A function of the entry SET: arrival order (reversed here) must not matter either.
  for (const p of peers) {
    expect(snapshotState(computeState([...p.replica.entries].reverse(), { roomId, now: fixedNow }))).toEqual(snaps[0])
  }
  // The incremental replica agrees with the pure function (except counts decided before it).
  for (const p of peers) {
    const live = snapshotState(p.replica.state)
    const pure = snaps[0]!
    for (const k of ['owner', 'moderators', 'authorities', 'banned', 'stage', 'hands', 'invites', 'profiles', 'participants', 'reasons', 'title', 'ended']) {
      expect(live[k], k).toEqual(pure[k])
    }
  }
  const state = peers[0]!.replica.state
  stats.runs++
  stats.stage += state.stage.length
  stats.mods += state.moderators.size
  stats.banned += state.banned.size
  stats.rejected += Object.values(state.rejected).reduce((a, b) => a + b, 0)
  stats.ended += state.ended ? 1 : 0
  expect(state.moderators.has(xKey)).toBe(false)
  // X may be on stage, but only by accepting an invite an honest peer gave it.
  const xSeat = state.seatOf.get(xKey)
  if (xSeat) {
    const accept = peers[0]!.replica.get(xSeat.seatId)
    const invite = accept?.kind === 'accept' ? peers[0]!.replica.get(accept.invite) : undefined
    const given = invite?.kind === 'invite' && invite.subject === xKey && honestKeys.includes(invite.author)
    expect(given, 'X holds a seat it was not given').toBe(true)
  }
  stats.insiderActs += xHonest.size
  expect(state.authorities.size).toBeGreaterThan(0)
  for (const id of attackerPrivileged) expect(state.reasons.has(id), `attacker entry ${id} counted`).toBe(true)
  for (const p of peers) for (const id of insiderClaims) expect(p.replica.state.reasons.has(id), `insider entry ${id} counted`).toBe(true)
  if (ownerBannedX) expect(state.banned.has(xKey)).toBe(true)
  checkInterleavings(peers[0]!.replica.entries, roomId, fixedNow, snaps[0]!, insiderClaims, seed)
  for (const p of peers) p.replica.destroy()
}

/**
 * A fresh index fed the final entries in random orders (entries arrive before
 * what they name, future ones wait...) computes the same state and the same
 * heads, and no insider attack entry counts in any of them.
 */
function checkInterleavings(entries: readonly Entry[], roomId: string, now: number, expected: Record<string, unknown>, insider: ReadonlySet<string>, seed: number): void {
  const random = rng(seed)
  let heads: string[] | null = null
  for (let k = 0; k < INTERLEAVINGS; k++) {
    const index = new EntryIndex(roomId, now + DEFAULT_SKEW_MS)
    for (const e of shuffled(entries, random)) index.add(e)
    const s = computeFromIndex(index, { roomId, now })
    expect(snapshotState(s)).toEqual(expected)
    const h = index.heads().map((e) => e.id).sort()
    expect(h).toEqual((heads ??= h))
    for (const id of insider) if (!s.reasons.has(id)) stats.accepted++
    stats.interleavings++
  }
  expect(stats.accepted).toBe(0)
}

describe('convergence under random order, partitions and an attacker', () => {
  it(`replicas converge and the attacker gains nothing (fast-check, ${RUNS} runs x ${INTERLEAVINGS} interleavings)`, async () => {
    const all = await identities(6)
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 6 }).chain((n) => fc.tuple(fc.constant(n), fc.array(opArb(n), { minLength: 6, maxLength: 30 }), fc.integer())),
        async ([n, ops, seed]) => {
          await runScenario(all, n, ops, seed)
        },
      ),
      { numRuns: RUNS },
    )
    if (process.env.STOOP_PROP_STATS) console.log(JSON.stringify(stats))
    // The scenarios must actually exercise the model, the insider included.
    expect(stats.ok).toBeGreaterThan(2 * stats.runs)
    expect(stats.stage + stats.mods).toBeGreaterThan(0)
    expect(stats.interleavings).toBeGreaterThanOrEqual(10_000)
    for (const n of Object.values(stats.insider)) expect(n).toBeGreaterThan(0)
    expect(stats.insiderActs).toBeGreaterThan(0)
    expect(stats.accepted).toBe(0)
  }, 120_000)

  it('computeState ignores input order and duplicates (fast-check, 300 runs)', async () => {
    const all = await identities(4)
    let t = T0
    const now = () => (t += 3)
    const [owner, mod, a, c] = all
    const created = await createRoom(owner!, { title: 'order', now })
    const actorOf = (replica: RoomReplica, i: Identity) => new RoomActor(replica, i, { now })
    const r = new RoomReplica(created.doc, { roomId: created.roomId, now })
    const o = actorOf(r, owner!)
    await o.grantModerator(keyId(mod!.publicKey))
    const m = actorOf(r, mod!)
    await actorOf(r, a!).raiseHand()
    await m.inviteToStage(keyId(a!.publicKey))
    await actorOf(r, a!).acceptInvite()
    await m.ban(keyId(c!.publicKey))
    await o.revokeModerator(keyId(mod!.publicKey))
    await actorOf(r, c!).setProfile({ name: 'c' })
    const link = await o.createLinkGrant({ role: 'speaker', singleUse: true })
    await actorOf(r, c!).redeemLinkGrant(link)
    const entries = [...r.entries]
    const reference = snapshotState(computeState(entries, { roomId: created.roomId, now: t + 1 }))
    const { rejected: _r, ...refNoCounts } = reference
    fc.assert(
      fc.property(fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }), fc.array(fc.nat(entries.length - 1), { maxLength: 5 }), (shuffled, dups) => {
        const input = [...shuffled, ...dups.map((i) => entries[i]!)]
        const { rejected, ...rest } = snapshotState(computeState(input, { roomId: created.roomId, now: t + 1 }))
        expect(rest).toEqual(refNoCounts)
        expect((rejected as Record<string, number>).duplicate).toBe(dups.length)
      }),
      { numRuns: 300 },
    )
  })
})
