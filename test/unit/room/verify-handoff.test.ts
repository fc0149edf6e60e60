/**
 * The replica reuses what the UpdateVerifier in front of the doc decoded
 * (issue 12, a 20,000-entry log used to be decoded twice and hashed three
 * times), and that reuse can be fooled by nothing: a decoding is taken only for
 * the element the doc integrated, byte for byte. An attacker who sends two
 * different entries under the same Yjs id, both verified before either is
 * applied, does not get the replica to count the one the doc did not keep.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createRoom, decodeEntry, logOf, RoomReplica, signEntry } from '../../../src/room/index.ts'
import { UpdateVerifier } from '../../../src/room/verify-update.ts'
import { identities } from './helpers.ts'

/** An update appending `entries` under Yjs client `client`, from clock 0. */
function updateAs(client: number, entries: Uint8Array[]): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = client
  logOf(doc).push(entries)
  return Y.encodeStateAsUpdate(doc)
}

async function setup() {
  const [owner] = await identities(1)
  const created = await createRoom(owner!, { title: 'Handoff' })
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(created.doc))
  const verifier = new UpdateVerifier({ doc, roomId: created.roomId })
  const replica = new RoomReplica(doc, { roomId: created.roomId, verified: verifier })
  await replica.ready()
  const raise = (n: number) => signEntry(owner!, created.roomId, Date.now(), { kind: 'raise', nonce: new Uint8Array(16).fill(n) })
  return { doc, verifier, replica, raise, done: () => (replica.destroy(), verifier.destroy()) }
}

describe('the replica takes the gate\'s decodings', () => {
  it('an accepted update\'s entries are not decoded again: the replica holds the very objects the gate checked', async () => {
    const { doc, verifier, replica, raise, done } = await setup()
    const update = updateAs(4242, [await raise(1), await raise(2)])
    const verdict = await verifier.verify(update)
    if (!verdict.ok) throw new Error(verdict.reason)
    Y.applyUpdate(doc, update)
    await replica.whenSettled()
    for (const e of verdict.fresh) expect(replica.get(e.id)).toBe(e)
    // Once the doc holds them, the gate forgets them.
    const item = doc.store.clients.get(4242)![0] as Y.Item
    expect(verifier.decoded(item)).toBe(undefined)
    done()
  })

  it('two entries under one Yjs id, both verified before either lands: the replica counts the one the doc kept', async () => {
    const { doc, verifier, replica, raise, done } = await setup()
    const [a, b] = [await raise(3), await raise(4)]
    const first = updateAs(777, [a])
    const second = updateAs(777, [b])
    // Both inspected against a doc holding neither (as when two links deliver at once).
    const [va, vb] = await Promise.all([verifier.verify(first), verifier.verify(second)])
    expect(va.ok && vb.ok).toBe(true)
    Y.applyUpdate(doc, first)
    Y.applyUpdate(doc, second) // Yjs keeps the first struct at 777:0 and skips this one
    await replica.whenSettled()
    expect(logOf(doc).toArray().some((x) => x.length === a.length && x.every((v, i) => v === a[i]))).toBe(true)
    expect(replica.get(decodeEntry(a)!.id)).toBeDefined()
    expect(replica.get(decodeEntry(b)!.id)).toBe(undefined)
    done()
  })

  it('an update verified twice (two links) and integrated once leaves nothing behind in the gate', async () => {
    const { doc, verifier, raise, done } = await setup()
    const update = updateAs(555, [await raise(6)])
    const [v1, v2] = await Promise.all([verifier.verify(update), verifier.verify(update)])
    expect(v1.ok && v2.ok).toBe(true)
    Y.applyUpdate(doc, update)
    Y.applyUpdate(doc, update) // a no-op: the doc holds 555:0 already
    const item = doc.store.clients.get(555)![0] as Y.Item
    expect(verifier.decoded(item)).toBe(undefined)
    done()
  })

  it('a replica given only `isVerified` decodes for itself, and agrees', async () => {
    const { doc, verifier, raise, done } = await setup()
    const update = updateAs(99, [await raise(5)])
    expect((await verifier.verify(update)).ok).toBe(true)
    Y.applyUpdate(doc, update)
    const plain = new RoomReplica(doc, { roomId: verifier.roomId!, verified: verifier.isVerified })
    await plain.ready()
    expect(plain.entries.map((e) => e.id).sort()).toEqual(logOf(doc).toArray().map((x) => decodeEntry(x)!.id).sort())
    plain.destroy()
    done()
  })
})
