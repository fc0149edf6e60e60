/**
 * Entries are verified before they are stored: the gate every replica runs on
 * updates from the network (client guard and relay gate share UpdateVerifier).
 * Each attack is the one an attacker runs: junk after a valid update, entries
 * with bad signatures, updates that bring nothing new, copies of known entries.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { checkRemoteUpdate, createRoom, decodeEntry, logOf, RoomReplica, signEntry } from '../../../src/room/index.ts'
import { UpdateVerifier } from '../../../src/room/verify-update.ts'
import { createLinkPair } from '../../../src/net/link.ts'
import { attachSync, encodeUpdate } from '../../../src/net/sync.ts'
import { identities } from './helpers.ts'

/** An update whose every entry has one bit of its signature flipped. */
function withBadSignatures(entries: Uint8Array[]): Uint8Array {
  const doc = new Y.Doc()
  const forged = entries.map((e) => {
    const copy = e.slice()
    copy[copy.length - 1]! ^= 1
    return copy
  })
  logOf(doc).push(forged)
  return Y.encodeStateAsUpdate(doc)
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

async function room() {
  const [owner, guest] = await identities(2)
  const created = await createRoom(owner!, { title: 'Verified' })
  return { owner: owner!, guest: guest!, ...created, update: Y.encodeStateAsUpdate(created.doc) }
}

describe('the room guard refuses junk after a valid update', () => {
  it('an empty update with a megabyte of junk appended', () => {
    const junk = concat(Y.encodeStateAsUpdate(new Y.Doc()), new Uint8Array(1 << 20).fill(7))
    expect(checkRemoteUpdate(junk)).toMatchObject({ ok: false, reason: 'trailing-bytes' })
  })

  it('a valid update carrying entries, with bytes after it', async () => {
    const { update, doc } = await room()
    expect(checkRemoteUpdate(update)).toEqual({ ok: true, entries: logOf(doc).length })
    expect(checkRemoteUpdate(concat(update, new Uint8Array([0])))).toMatchObject({ ok: false, reason: 'trailing-bytes' })
  })
})

describe('UpdateVerifier', () => {
  it('accepts an honest log, counts its entry bytes, and the replica does not verify them again', async () => {
    const { roomId, update, doc: source } = await room()
    const doc = new Y.Doc()
    const v = new UpdateVerifier({ doc, roomId })
    const verdict = await v.verify(update)
    const entries = logOf(source).toArray()
    expect(verdict).toMatchObject({ ok: true, roomId, added: entries.length, bytes: entries.reduce((n, e) => n + e.byteLength, 0) })
    Y.applyUpdate(doc, update)
    const replica = new RoomReplica(doc, { roomId, verified: v.isVerified })
    await replica.ready()
    expect(replica.state.exists).toBe(true)
    expect(replica.entries).toHaveLength(entries.length)
    expect(replica.entries.every((e) => v.isVerified(e.id))).toBe(true)
    replica.destroy()
    v.destroy()
  })

  it('refuses entries with bad signatures, whole, before anything is stored', async () => {
    const { roomId, update, doc: source, owner } = await room()
    const doc = new Y.Doc()
    const v = new UpdateVerifier({ doc, roomId })
    expect(await v.verify(withBadSignatures(logOf(source).toArray()))).toEqual({ ok: false, reason: 'bad-signature' })
    // One forged entry among honest ones sinks the update.
    const mixed = new Y.Doc()
    Y.applyUpdate(mixed, update)
    const forged = (await signEntry(owner, roomId, Date.now(), { kind: 'raise', nonce: new Uint8Array(16) })).slice()
    forged[forged.length - 1]! ^= 1
    logOf(mixed).push([forged])
    expect(await v.verify(Y.encodeStateAsUpdate(mixed))).toEqual({ ok: false, reason: 'bad-signature' })
    expect(logOf(doc).length).toBe(0)
    v.destroy()
  })

  it('refuses a flood of 5,000 forged entries', async () => {
    const { roomId, owner } = await room()
    const one = await signEntry(owner, roomId, Date.now(), { kind: 'raise', nonce: new Uint8Array(16) })
    const many = Array.from({ length: 5000 }, (_, i) => {
      const e = one.slice()
      e[e.length - 1]! ^= 1
      e[e.length - 2] = i & 0xff
      e[e.length - 3] = i >> 8
      return e
    })
    const doc = new Y.Doc()
    logOf(doc).push(many)
    const v = new UpdateVerifier({ doc: new Y.Doc(), roomId })
    expect(await v.verify(Y.encodeStateAsUpdate(doc))).toEqual({ ok: false, reason: 'bad-signature' })
    expect(v.isVerified(decodeEntry(many[0])!.id)).toBe(false)
    v.destroy()
  })

  it('refuses other rooms, junk elements, and entries of a room it may not bind', async () => {
    const a = await room()
    const b = await room()
    const doc = new Y.Doc()
    const v = new UpdateVerifier({ doc, roomId: a.roomId })
    expect(await v.verify(b.update)).toEqual({ ok: false, reason: 'foreign-room' })
    const junk = new Y.Doc()
    logOf(junk).push([new Uint8Array([1, 2, 3])])
    expect(await v.verify(Y.encodeStateAsUpdate(junk))).toEqual({ ok: false, reason: 'malformed-entry' })
    // No room id yet: the first entry binds it only if `admits` says so (the relay's discovery key).
    const relay = new UpdateVerifier({ doc: new Y.Doc(), admits: (id) => id === a.roomId })
    expect(await relay.verify(b.update)).toEqual({ ok: false, reason: 'foreign-room' })
    expect(relay.roomId).toBe(null)
    expect(await relay.verify(a.update)).toMatchObject({ ok: true, roomId: a.roomId })
    expect(relay.roomId).toBe(a.roomId)
    v.destroy()
    relay.destroy()
  })

  it('refuses updates that add nothing (repeats, empty updates) and reports copies of known entries', async () => {
    const { roomId, update, doc: source } = await room()
    const doc = new Y.Doc()
    const v = new UpdateVerifier({ doc, roomId })
    Y.applyUpdate(doc, update)
    expect(await v.verify(update)).toEqual({ ok: false, reason: 'no-new-entry' })
    expect(await v.verify(Y.encodeStateAsUpdate(new Y.Doc()))).toEqual({ ok: false, reason: 'no-new-entry' })
    // The same signed bytes appended again under another client (as every joiner seeds the
    // genesis from its link): new structs, no new entry; a store bounds them by copyBytes.
    const copier = new Y.Doc()
    logOf(copier).push([logOf(source).get(0)])
    const genesisBytes = logOf(source).get(0).byteLength
    expect(await v.verify(Y.encodeStateAsUpdate(copier))).toMatchObject({ ok: true, fresh: [], added: 1, bytes: genesisBytes, copyBytes: genesisBytes })
    // A client lets a sync step 2 that brings nothing pass (it adds no struct).
    const client = new UpdateVerifier({ doc, roomId, refuseNothingNew: false })
    expect(await client.verify(update)).toMatchObject({ ok: true, added: 0, bytes: 0 })
    v.destroy()
    client.destroy()
  })

  it('as an async sync gate: only verified updates reach the doc, in order, and an empty step 2 still completes the sync', async () => {
    const { roomId, update, guest } = await room()
    const [honestLink, attackerLink] = createLinkPair()
    const doc = new Y.Doc()
    const v = new UpdateVerifier({ doc, roomId, refuseNothingNew: false })
    let synced = false
    const sync = attachSync(doc, null, honestLink!, { acceptUpdate: async (u) => (await v.verify(u)).ok, onSynced: () => (synced = true) })
    const raise = await signEntry(guest, roomId, Date.now(), { kind: 'raise', nonce: new Uint8Array(16) })
    const later = new Y.Doc()
    Y.applyUpdate(later, update)
    const sv = Y.encodeStateVector(later)
    logOf(later).push([raise])
    attackerLink!.send(encodeUpdate(withBadSignatures([raise])))
    attackerLink!.send(encodeUpdate(update))
    attackerLink!.send(encodeUpdate(Y.encodeStateAsUpdate(later, sv)))
    // An empty step 2 (the other side had nothing we lack).
    attackerLink!.send(new Uint8Array([1, 2, 0, 0]))
    await new Promise<void>((ok) => {
      const t = setInterval(() => synced && (clearInterval(t), ok()), 5)
    })
    expect(logOf(doc).toArray().map((e) => e.byteLength)).toEqual(logOf(later).toArray().map((e) => e.byteLength))
    expect(sync.stats.rejected.gate).toBe(1)
    sync()
    v.destroy()
  })
})
