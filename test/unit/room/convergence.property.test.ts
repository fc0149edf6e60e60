/**
 * Property tests: random operations by 3-6 actors (one of them an attacker
 * writing straight into its own doc), replicas on separate Y.Docs synced
 * pairwise in random order (partitions happen naturally), then a full sync.
 * The attacker is also an insider: it may be invited and accept, leave, be
 * moved or banned, and it has seen every invite link; it then tries to undo
 * what was done to it (insider-attacks.ts: backdated redeems, re-redeems after
 * a revoke, earlier-dated accepts, redeems naming nothing to win a race). The
 * room rotates (members announce keys, moderators rotate, a ban then a
 * rotation shuts X out), and X replays the earlier epochs: copies of their
 * seals, epoch, key and redeem entries add nothing new to the log, and the
 * same signed anew by X (an old epoch as the next one, old boxes naming the
 * current epoch, its key or a retired redeem dated in an old epoch) never count.
 * Checks: every replica computes the same state, the incremental replica
 * agrees with the pure computeState, so does a fresh index fed the final
 * entries in many random orders (interleavings), the attacker never gains a
 * role without a valid chain and holds a seat only through its honest accept,
 * not one insider attack entry counts, and every update that crossed the wire
 * passed the guard.
 *
 * Runs: RUNS scenarios x INTERLEAVINGS orders (10,000 interleavings); STOOP_PROP_RUNS sets the
 * number of scenarios (e.g. 4000 for a longer hunt).
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as Y from 'yjs'
import { fromBase64url, keyId, randomBytes, type Identity } from '../../../src/identity/index.ts'
import {
  DEFAULT_SKEW_MS, EntryIndex, RoomActor, RoomError, RoomReplica, attachSignature, checkRemoteUpdate, computeFromIndex, computeState, createLinkGrant,
  createRoom, decodeEntry, decodeLinkGrant, encodeUnsigned, entryId, logOf, signEntry, signRedeemProof, snapshotState, type Entry, type EntryBody,
  type LinkPass, type RoomState,
} from '../../../src/room/index.ts'
import { epochZeroTexts } from '../../helpers/sealed-text.ts'
import { identities, T0 } from './helpers.ts'
import { backdatedRedeem, earlierDatedAccept, replayAcrossEpochs, reRedeemAfterRevoke, strippedRedeemOfSeenLink, type InsiderView } from './insider-attacks.ts'

type Op =
  | { t: 'act'; who: number; action: number; target: number }
  | { t: 'sync'; from: number; to: number }
  | { t: 'attack'; kind: number; pick: number }
  | { t: 'insider'; leave: boolean }
  | { t: 'story'; kind: number; pick: number }

const ACTIONS = [
  'raise', 'lower', 'invite', 'accept', 'decline', 'leave', 'move', 'grant', 'revokeMod', 'ban', 'unban', 'profile', 'meta', 'link', 'end', 'revokeLink',
  'chat', 'hide', 'mute', 'kick', 'record', 'transfer', 'announce', 'rotate',
] as const

/** Orders in which a fresh index receives the final entries, per scenario. */
const INTERLEAVINGS = 25
const RUNS = Number(process.env.STOOP_PROP_RUNS ?? 400)
/** The insider's replay of earlier epochs (insider-attacks.ts, `replayAcrossEpochs`). */
const REPLAY = 16

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
    { weight: 2, arbitrary: fc.record({ t: fc.constant('story' as const), kind: fc.nat(2), pick: fc.nat(1000) }) },
    // The insider attacks (kinds 11-14) once more, so that they often follow a story.
    { weight: 2, arbitrary: fc.record({ t: fc.constant('attack' as const), kind: fc.integer({ min: 11, max: 14 }), pick: fc.nat(1000) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('attack' as const), kind: fc.constant(REPLAY), pick: fc.nat(1000) }) },
  )

/** Coverage counters, printed with STOOP_PROP_STATS=1. */
const stats = {
  runs: 0, ok: 0, refused: 0, stage: 0, mods: 0, banned: 0, rejected: 0, ended: 0, insiderActs: 0, transfers: 0, chats: 0,
  /** Insider attack entries written, and how many of them counted in any interleaving (must stay 0). */
  insider: { earlierAccept: 0, reRedeem: 0, backdated: 0, stripped: 0, replayed: 0 }, interleavings: 0, accepted: 0,
  /** Rotations written, and what the cross-epoch replays wrote by kind. */
  rotations: 0,
  replay: { seal: 0, epoch: 0, key: 0, redeem: 0, signed: 0, sealsSigned: 0, keysWhileBanned: 0 },
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
    peers.push({ identity: all[i]!, doc, replica, actor: new RoomActor(replica, all[i]!, { now, texts: epochZeroTexts(created.secret) }) })
  }
  // Everyone starts from the genesis (it is how they found the room).
  for (let i = 1; i < nActors; i++) Y.applyUpdate(peers[i]!.doc, Y.encodeStateAsUpdate(created.doc))
  await Promise.all(peers.map((p) => p.replica.whenSettled()))
  const X = peers[nActors - 1]!
  const honestKeys = peers.slice(0, -1).map((p) => p.actor.key)
  const xKey = X.actor.key
  const linkSecret = fromBase64url(created.secret)!
  const links: LinkPass[] = []
  const attackerPrivileged = new Set<string>()
  /** Entries X wrote through its actor (counted for coverage), and insider attack entries (none may count). */
  const xHonest = new Set<string>()
  const insiderClaims = new Set<string>()
  /** X's seals signed anew, by the epoch they name: a seal counts only if it is not rejected and names an epoch of the chain past 0 (§8). */
  const sealClaims = new Map<string, string>()
  /** X's key entries dated in an earlier epoch: they must not count while X is banned. */
  const keyClaims = new Set<string>()
  let ownerBannedX = false
  /** Once the owner changed, an old owner's ban written before it saw the transfer does not count (§10). */
  let ownerChanged = false

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
   * 2: everyone (X too) announces its key and the owner rotates; then maybe
   * bans X and rotates again, shutting X out of the new secret.
   */
  const story = async (kind: number, pick: number): Promise<void> => {
    const O = peers[0]!.actor
    if (kind === 2) {
      for (const p of peers) {
        sync(peers[0]!, p)
        await p.actor.announceKey().catch((err: unknown) => {
          if (!(err instanceof RoomError)) throw err
        })
        sync(p, peers[0]!)
      }
      await peers[0]!.replica.whenSettled()
      await O.rotate(randomBytes(32), linkSecret)
      stats.rotations++
      if (pick % 2 === 0) {
        await O.ban(xKey)
        ownerBannedX = true
        await O.rotate(randomBytes(32), linkSecret)
        stats.rotations++
      }
      return
    }
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
          case 'chat': await a.sendChat(`m${op.target}`); break
          case 'hide': {
            const m = s.chat[op.target % Math.max(1, s.chat.length)]
            if (m) await a.hideChat(m.id)
            break
          }
          case 'mute': await a.mute(targetKey); break
          case 'kick': await a.kick(targetKey, 10 + op.target * 20); break
          case 'record': await (op.target % 2 ? a.startRecording() : a.stopRecording()); break
          case 'announce': await a.announceKey(); break
          case 'rotate':
            await a.rotate(randomBytes(32), linkSecret)
            stats.rotations++
            break
          case 'transfer':
            if (a.key === s.owner && !s.moderators.has(friendly)) await a.grantModerator(friendly)
            await a.transferOwnership(friendly, { stayModerator: op.target % 2 === 0 })
            ownerChanged = true
            stats.transfers++
            break
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
      case 3: // self-grant, and taking the room
        xWrite([
          await xSign({ kind: 'grant', auth: genesisId, role: 'moderator', subject: xKey }),
          await xSign({ kind: 'transfer', auth: op.pick % 2 ? genesisId : ref, subject: xKey }),
        ])
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
      case 7: // ban the owner / move, mute, kick someone, hide a message, using someone else's authority
        xWrite([
          await xSign({ kind: 'ban', auth: ref, subject: honestKeys[0]! }),
          await xSign({ kind: 'move', auth: ref, seat: ref }),
          await xSign({ kind: 'mute', auth: ref, subject: honestKeys[op.pick % honestKeys.length]! }),
          await xSign({ kind: 'kick', auth: ref, subject: honestKeys[op.pick % honestKeys.length]!, until: now() + 1000 }),
          await xSign({ kind: 'hide', auth: ref, target: ref }),
          await xSign({ kind: 'record', auth: ref, on: true }),
        ])
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
        const view: InsiderView = { roomId, owner: honestKeys[0]!, x: attacker, xKey, index: X.replica.index, state: X.replica.state, links, pick: op.pick }
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
      case REPLAY: { // insider: replay the earlier epochs after a rotation
        sync(peers[0]!, X)
        await X.replica.whenSettled()
        const view: InsiderView = { roomId, owner: honestKeys[0]!, x: attacker, xKey, index: X.replica.index, state: X.replica.state, links, pick: op.pick }
        const known = new Set(X.replica.index.byId.keys())
        const r = await replayAcrossEpochs(view, now())
        for (const c of r.copies) {
          // A copy is not new: the log holds its id already.
          expect(known.has(entryId(c.bytes)), `${c.kind} copy`).toBe(true)
          stats.replay[c.kind]++
        }
        for (const e of r.signed) {
          insiderClaims.add(entryId(e.bytes))
          if (e.sealOf !== undefined) sealClaims.set(entryId(e.bytes), e.sealOf)
        }
        for (const k of r.keys) keyClaims.add(entryId(k))
        stats.replay.signed += r.signed.length
        stats.replay.sealsSigned += r.signed.filter((e) => e.sealOf !== undefined).length
        stats.replay.keysWhileBanned += r.keys.length
        stats.insider.replayed += r.copies.length + r.signed.length + r.keys.length
        xWrite([...r.copies.map((c) => c.bytes), ...r.signed.map((e) => e.bytes), ...r.keys])
        await X.replica.whenSettled()
        // The copies added no entry: only what X signed anew is new (a replay like an earlier one is the same bytes).
        const added = [...X.replica.index.byId.keys()].filter((id) => !known.has(id)).sort()
        expect(added).toEqual([...new Set([...r.signed.map((e) => entryId(e.bytes)), ...r.keys.map(entryId)])].filter((id) => !known.has(id)).sort())
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
    for (const k of ['owner', 'moderators', 'authorities', 'banned', 'stage', 'hands', 'invites', 'profiles', 'participants', 'reasons', 'title', 'ended', 'chat', 'recording']) {
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
  stats.chats += state.chat.length
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
  // X's key entries are X's own: they must not count while X is banned (an unban makes them valid again).
  const claims = new Set([...insiderClaims, ...(state.banned.has(xKey) ? keyClaims : [])])
  const counted = (s: RoomState, id: string): boolean => {
    if (s.reasons.has(id)) return false
    const names = sealClaims.get(id)
    return names === undefined || s.epochs.chain.some((e) => e.n > 0 && e.id === names)
  }
  for (const p of peers) for (const id of claims) expect(counted(p.replica.state, id), `insider entry ${id} counted`).toBe(false)
  if (ownerBannedX && !ownerChanged) expect(state.banned.has(xKey)).toBe(true)
  checkInterleavings(peers[0]!.replica.entries, roomId, fixedNow, snaps[0]!, claims, counted, seed)
  for (const p of peers) p.replica.destroy()
}

/**
 * A fresh index fed the final entries in random orders (entries arrive before
 * what they name, future ones wait...) computes the same state and the same
 * heads, and no insider attack entry counts in any of them.
 */
function checkInterleavings(
  entries: readonly Entry[], roomId: string, now: number, expected: Record<string, unknown>, insider: ReadonlySet<string>, counted: (s: RoomState, id: string) => boolean, seed: number,
): void {
  const random = rng(seed)
  let heads: string[] | null = null
  for (let k = 0; k < INTERLEAVINGS; k++) {
    const index = new EntryIndex(roomId, now + DEFAULT_SKEW_MS)
    for (const e of shuffled(entries, random)) index.add(e)
    const s = computeFromIndex(index, { roomId, now })
    expect(snapshotState(s)).toEqual(expected)
    const h = index.heads().map((e) => e.id).sort()
    expect(h).toEqual((heads ??= h))
    for (const id of insider) if (counted(s, id)) stats.accepted++
    stats.interleavings++
  }
  expect(stats.accepted).toBe(0)
}

describe('convergence under random order, partitions and an attacker', () => {
  it(`replicas converge and the attacker gains nothing, across epochs too (fast-check, ${RUNS} runs x ${INTERLEAVINGS} interleavings)`, async () => {
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
    expect(stats.transfers).toBeGreaterThan(0)
    expect(stats.chats).toBeGreaterThan(0)
    // Rotations happened, and X replayed every kind of an earlier epoch's entry.
    expect(stats.rotations).toBeGreaterThan(0)
    for (const n of Object.values(stats.replay)) expect(n).toBeGreaterThan(0)
    expect(stats.accepted).toBe(0)
  }, 120_000 * Math.max(1, RUNS / 400))

  it('computeState ignores input order and duplicates (fast-check, 300 runs)', async () => {
    const all = await identities(4)
    let t = T0
    const now = () => (t += 3)
    const [owner, mod, a, c] = all
    const created = await createRoom(owner!, { title: 'order', now })
    const actorOf = (replica: RoomReplica, i: Identity) => new RoomActor(replica, i, { now, texts: epochZeroTexts(created.secret) })
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
