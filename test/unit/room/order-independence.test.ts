/**
 * Regressions: the state, reasons included, must not depend on the order in
 * which entries arrived (which is the order they sit in the index buckets).
 *
 * 1. Found by convergence.property.test.ts (seed -305132794): the attacker
 *    wrote invite(auth = genesis) [no-authority], accept A1 of that invite
 *    [no-authority by cascade] and accept A2 naming A1 (an accept, not an
 *    invite). A2 came out 'no-authority' on a replica that had received A1
 *    before A2 and 'unknown-reference' on one that had received A2 first: the
 *    reason of the named entry was read from the reasons map while that map was
 *    still being filled. The same held for decline -> decline, unban -> unban,
 *    move -> move and leave -> leave chains.
 * 2. Found while checking shuffled inputs: the ban ids listed per banned key
 *    came out in arrival order.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  RoomReplica, computeState, logOf, snapshotState, type Entry,
} from '../../../src/room/index.ts'
import { identities, kid, RoomBuilder } from './helpers.ts'

async function chains() {
  const [owner, mod, x] = await identities(3)
  const b = await RoomBuilder.create(owner!)
  const G = b.genesisId
  const gm = await b.grant(mod!)
  // Cascade targets: an invite without authority and the accept relying on it.
  const inv = await b.add(x!, { kind: 'invite', auth: G, subject: kid(x!) })
  const a1 = await b.add(x!, { kind: 'accept', invite: inv })
  const a2 = await b.add(x!, { kind: 'accept', invite: a1 })
  const d1 = await b.add(x!, { kind: 'decline', invite: inv })
  const d2 = await b.add(x!, { kind: 'decline', invite: d1 })
  const u1 = await b.add(x!, { kind: 'unban', auth: G, target: G })
  const u2 = await b.add(mod!, { kind: 'unban', auth: gm, target: u1 })
  const m1 = await b.add(x!, { kind: 'move', auth: G, seat: a1 })
  const m2 = await b.add(owner!, { kind: 'move', auth: G, seat: m1 })
  const l1 = await b.add(x!, { kind: 'leave', seat: a1 })
  const l2 = await b.add(x!, { kind: 'leave', seat: l1 })
  return { b, ids: { inv, a1, a2, d1, d2, u1, u2, m1, m2, l1, l2 } }
}

describe('references resolve independently of entry order', () => {
  it('computeState gives the same reasons forwards and backwards', async () => {
    const { b, ids } = await chains()
    const entries = b.entries()
    const opts = { roomId: b.roomId, now: b.now + 1 }
    const forward = computeState(entries, opts)
    const backward = computeState([...entries].reverse(), opts)
    expect(snapshotState(backward)).toEqual(snapshotState(forward))
    const r = forward.reasons
    // The cascade still applies to a reference of the expected kind...
    expect(r.get(ids.inv)).toBe('no-authority')
    expect(r.get(ids.a1)).toBe('no-authority')
    expect(r.get(ids.d1)).toBe('no-authority')
    expect(r.get(ids.l1)).toBe('no-authority')
    expect(r.get(ids.u1)).toBe('no-authority')
    expect(r.get(ids.m1)).toBe('no-authority')
    // ...while naming an entry of another kind names no invite, ban or seat.
    expect(r.get(ids.a2)).toBe('unknown-reference')
    expect(r.get(ids.d2)).toBe('unknown-reference')
    expect(r.get(ids.u2)).toBe('unknown-reference')
    expect(r.get(ids.m2)).toBe('unknown-reference')
    expect(r.get(ids.l2)).toBe('unknown-reference')
  })

  it('two replicas receiving the entries in opposite orders agree', async () => {
    const { b } = await chains()
    const fill = async (bytes: Uint8Array[]): Promise<{ replica: RoomReplica; entries: readonly Entry[] }> => {
      const doc = new Y.Doc()
      const replica = new RoomReplica(doc, { roomId: b.roomId, now: () => b.now })
      // One entry per transaction, so each arrives (and is indexed) on its own.
      for (const x of bytes) {
        logOf(doc).push([x])
        await replica.whenSettled()
      }
      return { replica, entries: replica.entries }
    }
    const one = await fill(b.bytes)
    const two = await fill([b.bytes[0]!, ...b.bytes.slice(1).reverse()])
    const opts = { roomId: b.roomId, now: b.now }
    expect(snapshotState(computeState(two.entries, opts))).toEqual(snapshotState(computeState(one.entries, opts)))
    const { rejected: _1, ...live1 } = snapshotState(one.replica.state)
    const { rejected: _2, ...live2 } = snapshotState(two.replica.state)
    expect(live2).toEqual(live1)
    one.replica.destroy()
    two.replica.destroy()
  })
})

describe('ban ids per key', () => {
  it('are listed in the same order whatever order the bans arrived in', async () => {
    const [owner, mod, p] = await identities(3)
    const b = await RoomBuilder.create(owner!)
    const gm = await b.grant(mod!)
    const b1 = await b.add(owner!, { kind: 'ban', auth: b.genesisId, subject: kid(p!) })
    const b2 = await b.add(mod!, { kind: 'ban', auth: gm, subject: kid(p!) })
    const b3 = await b.add(owner!, { kind: 'ban', auth: b.genesisId, subject: kid(p!) })
    const entries = b.entries()
    const opts = { roomId: b.roomId, now: b.now + 1 }
    const forward = computeState(entries, opts)
    const backward = computeState([...entries].reverse(), opts)
    expect(forward.banned.get(kid(p!))).toEqual([b1, b2, b3].sort())
    expect(snapshotState(backward)).toEqual(snapshotState(forward))
  })
})
