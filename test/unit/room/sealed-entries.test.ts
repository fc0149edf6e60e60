/**
 * Sealed text in entries (docs/room-rules.md §9): the log a relay stores holds
 * no title, topic or display name; a member who holds the epoch's secret reads
 * them; a member banned and rotated out reads nothing written after the
 * rotation. Run as the relay (or the banned member) would: grep the bytes, open
 * with what it holds.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { fromBase64url, randomBytes, type Identity } from '../../../src/identity/index.ts'
import {
  KIND, PLAIN_TEXT_ENTRY_VERSION, RoomActor, RoomReplica, attachSignature, createRoom, decodeEntry, encryptionKey, epochSecret, logOf, signEntry,
  type RoomState,
} from '../../../src/room/index.ts'
import { writeFixed, writeText } from '../../../src/room/codec.ts'
import { revealText, type SecretOf, type TextKeys } from '../../../src/room/reveal.ts'
import { sealedEpoch, sealedSize, sealText } from '../../../src/room/sealed-text.ts'
import { sealedText } from '../../helpers/sealed-text.ts'
import { identities, kid, RoomBuilder, T0 } from './helpers.ts'

const TITLE = 'Porch session on Elm Street'
const TOPIC = 'Who fixes the broken streetlight'
const NAMES = ['Ximena Quartermaine', 'Obadiah Fennimore', 'Mallory Vexington']
const AFTER = { title: 'After the ban: new plans', name: 'Ximena Renamed Later' }

/** Secrets per epoch a member holds; writes go in the newest. */
function holder(secrets: Map<number, Uint8Array>): TextKeys & { held: SecretOf } {
  const held: SecretOf = (n) => secrets.get(n) ?? null
  const current = () => {
    const n = Math.max(...secrets.keys())
    return Promise.resolve({ n, secret: secrets.get(n)! })
  }
  return { current, secret: held, held }
}

async function room() {
  const [owner, alice, mallory] = await identities(3)
  let t = T0
  const now = () => (t += 1000)
  const created = await createRoom(owner!, { title: TITLE, topic: TOPIC, now })
  const replica = new RoomReplica(created.doc, { roomId: created.roomId, now: () => t })
  await replica.ready()
  const linkSecret = fromBase64url(created.secret)!
  const keys = new Map<Identity, Map<number, Uint8Array>>()
  const actor = (i: Identity) => {
    keys.set(i, new Map([[0, linkSecret]]))
    return new RoomActor(replica, i, { now, texts: holder(keys.get(i)!) })
  }
  const r = { created, replica, linkSecret, keys, owner: actor(owner!), alice: actor(alice!), mallory: actor(mallory!) }
  for (const [a, name] of [[r.owner, NAMES[0]], [r.alice, NAMES[1]], [r.mallory, NAMES[2]]] as const) {
    await a.announceKey()
    await a.setProfile({ name })
  }
  return r
}

/** Every byte a relay holds of the room: each log entry and the whole doc update. */
function relayBytes(doc: Y.Doc): Buffer {
  return Buffer.concat([...logOf(doc).toArray(), Y.encodeStateAsUpdate(doc)])
}

function findPlain(bytes: Buffer, texts: readonly string[]): string[] {
  return texts.filter((t) => bytes.includes(Buffer.from(t, 'utf8')))
}

const reveal = (s: RoomState, held: SecretOf) => revealText(s, held)

describe('sealed text in entries', () => {
  it('the encoded log holds neither the title, the topic nor a display name; a member reads them', async () => {
    const r = await room()
    await r.owner.setTitle(TITLE, TOPIC)
    await r.alice.setProfile({ muted: true }) // keeps the name: sealed again
    const bytes = relayBytes(r.created.doc)
    expect(findPlain(bytes, [TITLE, TOPIC, ...NAMES])).toEqual([])
    // Nor any 8-byte piece of them (a partial leak would show here).
    for (const t of [TITLE, TOPIC, ...NAMES]) for (let i = 0; i + 8 <= t.length; i++) expect(bytes.includes(Buffer.from(t.slice(i, i + 8)))).toBe(false)
    // The model holds sealed bytes only.
    const sealed = r.replica.state
    expect(sealed.title).toBe('')
    expect([...sealed.profiles.values()].map((p) => p.name)).toEqual(['', '', ''])
    // A member who holds the link's secret reads all of it.
    const s = reveal(sealed, (n) => (n === 0 ? r.linkSecret : null))
    expect([s.title, s.topic]).toEqual([TITLE, TOPIC])
    expect([r.owner, r.alice, r.mallory].map((a) => s.profiles.get(a.key)?.name)).toEqual(NAMES)
    expect(s.profiles.get(r.alice.key)?.muted).toBe(true)
    // Someone without it (a relay, a stranger) reads nothing.
    const blind = reveal(sealed, () => null)
    expect([blind.title, blind.topic, ...[...blind.profiles.values()].map((p) => p.name)].every((x) => x === '')).toBe(true)
    expect(reveal(sealed, () => randomBytes(32)).title).toBe('')
  })

  it('a member banned and rotated out reads no title or name written after the rotation', async () => {
    const r = await room()
    await r.owner.ban(r.mallory.key)
    const next = randomBytes(32)
    await r.owner.rotate(next, r.linkSecret)
    const s0 = r.replica.state
    expect(s0.epochs.current?.n).toBe(1)
    // Alice opens her box; the banned member opens nothing (as in epochs.test.ts).
    const boxFor = async (a: RoomActor) => epochSecret(s0.epochs.current!, s0.roomId, a.identity.publicKey, await encryptionKey(a.identity, s0.roomId), [r.linkSecret])
    expect(await boxFor(r.alice)).toEqual(next)
    expect(await boxFor(r.mallory)).toBeNull()
    r.keys.get(r.owner.identity)!.set(1, next)
    r.keys.get(r.alice.identity)!.set(1, (await boxFor(r.alice))!)

    await r.owner.setTitle(AFTER.title)
    await r.alice.setProfile({ name: AFTER.name })
    const s = r.replica.state
    expect(sealedEpoch(s.meta!.title!)).toBe(1)
    expect(sealedEpoch(s.profiles.get(r.alice.key)!.nameSealed!)).toBe(1)
    // The topic was kept: sealed again in epoch 1 by the owner, who could read it.
    expect(sealedEpoch(s.meta!.topic!)).toBe(1)

    const alice = reveal(s, (n) => r.keys.get(r.alice.identity)!.get(n) ?? null)
    expect([alice.title, alice.topic, alice.profiles.get(r.alice.key)?.name]).toEqual([AFTER.title, TOPIC, AFTER.name])
    const mallory = reveal(s, (n) => (n === 0 ? r.linkSecret : null))
    expect([mallory.title, mallory.topic, mallory.profiles.get(r.alice.key)?.name]).toEqual(['', '', ''])
    // What was written before the rotation it could read anyway (the owner's epoch-0 name).
    expect(mallory.profiles.get(r.owner.key)?.name).toBe(NAMES[0])
    expect(findPlain(relayBytes(r.created.doc), [AFTER.title, AFTER.name])).toEqual([])
  })

  it('sealed text only opens where it was written: another author, field or room does not open it', async () => {
    const [owner, a, b] = await identities(3)
    const room = await RoomBuilder.create(owner!, TITLE)
    const secret = room.secret
    // b copies a's sealed name into its own profile: bound to a, it does not open as b's.
    const aName = room.text(a!, 'name', 'Ada')
    await room.add(a!, { kind: 'profile', seq: 1, name: aName, muted: false })
    await room.add(b!, { kind: 'profile', seq: 1, name: aName, muted: false })
    // The genesis title copied into a name field does not open either.
    const genesis = room.entries()[0]!
    if (genesis.kind !== 'genesis' || typeof genesis.title === 'string') throw new Error('expected a sealed genesis')
    await room.add(owner!, { kind: 'profile', seq: 1, name: genesis.title, muted: false })
    const s = room.state()
    expect(s.profiles.get(kid(a!))?.name).toBe('Ada')
    expect(s.profiles.get(kid(b!))?.name).toBe('')
    expect(s.profiles.get(kid(owner!))?.name).toBe('')
    expect(s.title).toBe(TITLE)
    // Sealed for another room: not this one's.
    const other = sealText(secret, 0, { roomId: 'another-room', author: kid(a!), field: 'name' }, 'Ada', randomBytes(24))
    await room.add(a!, { kind: 'profile', seq: 2, name: other, muted: false })
    expect(room.state().profiles.get(kid(a!))?.name).toBe('')
  })

  it('caps: sealed text over its field cap cannot be written, and in the log is malformed', async () => {
    const [owner] = await identities(1)
    const room = await RoomBuilder.create(owner!)
    const long = sealedText(room.roomId, owner!, 'name', 'x'.repeat(200), room.secret)
    await expect(room.add(owner!, { kind: 'profile', seq: 1, name: long, muted: false })).rejects.toThrow(RangeError)
    // Forged by hand past the encoder: the decoder refuses it.
    const bytes = await signedBody(owner!, room.roomId, 3, KIND.profile, (enc) => {
      encoding.writeVarUint(enc, 1)
      encoding.writeVarUint8Array(enc, long)
      encoding.writeUint8(enc, 0)
    })
    expect(long.length).toBeGreaterThan(sealedSize(100))
    expect(decodeEntry(bytes)).toBeNull()
    // Plain text in a version-3 entry is not sealed text: malformed.
    const plain = await signedBody(owner!, room.roomId, 3, KIND.profile, (enc) => {
      encoding.writeVarUint(enc, 1)
      writeText(enc, 'plain name', 100)
      encoding.writeUint8(enc, 0)
    })
    expect(decodeEntry(plain)).toBeNull()
    // The actor refuses a name over the cap, as it did before sealing.
    const r = await createRoom(owner!, { title: 't' })
    const replica = new RoomReplica(r.doc, { roomId: r.roomId, now: Date.now })
    const secret = fromBase64url(r.secret)!
    const me = new RoomActor(replica, owner!, { texts: holder(new Map([[0, secret]])) })
    await expect(me.setProfile({ name: 'n'.repeat(101) })).rejects.toThrow(RangeError)
    await expect(createRoom(owner!, { title: 't'.repeat(201) })).rejects.toThrow(RangeError)
    // Without the room's current secret nothing is written: no plain text, no text in an older epoch.
    await expect(new RoomActor(replica, owner!).setProfile({ name: 'x' })).rejects.toMatchObject({ code: 'no-epoch-secret' })
    replica.destroy()
  })

  it('entries of version 2 (plain text) are still read, as they were', async () => {
    const [owner, a] = await identities(2)
    const room = await RoomBuilder.create(owner!)
    const old = await signedBody(a!, room.roomId, PLAIN_TEXT_ENTRY_VERSION, KIND.profile, (enc) => {
      encoding.writeVarUint(enc, 1)
      writeText(enc, 'Old Name', 100)
      encoding.writeUint8(enc, 1)
    })
    const e = decodeEntry(old)!
    expect(e).toMatchObject({ version: PLAIN_TEXT_ENTRY_VERSION, kind: 'profile', name: 'Old Name', muted: true })
    room.bytes.push(old)
    const s = room.sealedState()
    expect(s.profiles.get(kid(a!))).toMatchObject({ name: 'Old Name', muted: true })
    expect(s.profiles.get(kid(a!))?.nameSealed).toBeUndefined()
    // A version-3 entry is not read with the plain layout, nor the other way round.
    expect(decodeEntry(Uint8Array.from([3, ...old.subarray(1)]))).toBeNull()
    const fresh = await signEntry(a!, room.roomId, T0 + 99, { kind: 'profile', seq: 2, name: room.text(a!, 'name', 'New'), muted: false })
    expect(decodeEntry(Uint8Array.from([PLAIN_TEXT_ENTRY_VERSION, ...fresh.subarray(1)]))).toBeNull()
  })
})

/** An entry of `version` and `kind` with a hand-written body, signed (a forger's or an old client's bytes). */
async function signedBody(who: Identity, roomId: string, version: number, kind: number, body: (enc: encoding.Encoder) => void): Promise<Uint8Array> {
  const enc = encoding.createEncoder()
  encoding.writeUint8(enc, version)
  encoding.writeUint8(enc, kind)
  writeFixed(enc, fromBase64url(roomId)!, 16)
  writeFixed(enc, who.publicKey, 32)
  encoding.writeVarUint(enc, T0 + 50)
  encoding.writeUint8(enc, 0)
  body(enc)
  const unsigned = encoding.toUint8Array(enc)
  return attachSignature(unsigned, await who.sign(unsigned))
}
