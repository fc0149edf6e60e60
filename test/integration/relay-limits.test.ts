/**
 * Hostile input against the relay (issue 12, items 1 and 3), each attack as an
 * attacker runs it against a real relay on 127.0.0.1 with raw WebSockets:
 *
 *   - a junk-update flood (valid empty updates with a megabyte of junk after
 *     them, empty updates) no longer fills a new room's doc: the owner's
 *     genesis still lands after it;
 *   - forged entries and junk on a live room never reach its doc: the owner's
 *     ban still lands, and the banned key is cut off;
 *   - a connection's bytes per second are budgeted (not only its frames);
 *   - connections and rooms per IP address are capped; idle rooms make way;
 *   - presence is bound to its sender's key, capped in size and rate;
 *   - a 3-byte sync step 1 repeated cannot make the relay encode the doc each time.
 * Every refusal is counted by reason in /metrics.
 */
import WebSocket from 'ws'
import wrtc from '@roamhq/wrtc'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { generateIdentity, keyId, type Identity } from '../../src/identity/index.ts'
import { logOf, membershipKey, signEntry } from '../../src/room/index.ts'
import { RelayClient, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { RelayCloseCode } from '../../src/net/relay-protocol.ts'
import { attachSync } from '../../src/net/sync.ts'
import { UpdateVerifier } from '../../src/room/verify-update.ts'
import { sealedText } from '../helpers/sealed-text.ts'
import { RoomGate } from '../../relay/rooms/gate.ts'
import {
  awarenessFrame, copiesFrame, EMPTY_STEP1, entryBytes, forgedFrame, handRoom, junkFrame, profilesFrame, raw, until, type HandRoom,
} from './relay-limits-helpers.ts'

const WS = WebSocket as unknown as RelayWebSocketClass

async function start(rooms: Parameters<typeof startRelay>[0]['rooms'] = {}): Promise<{ relay: Relay; url: string }> {
  const relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, rooms })
  return { relay, url: `${relay.url.replace('http', 'ws')}/relay` }
}

/** A member's relay client syncing `room`'s doc through the verifying guard, as RoomClient does. */
async function member(url: string, room: HandRoom, identity: Identity, awareness: Awareness | null = null) {
  const secret = room.secret
  const client = new RelayClient({ WebSocket: WS, wrtc, ...(secret ? { member: () => membershipKey(secret) } : {}) })
  await client.connect(url, room.roomId, identity)
  const verifier = new UpdateVerifier({ doc: room.doc, roomId: room.roomId, refuseNothingNew: false })
  const detach = attachSync(room.doc, awareness, client.link, { acceptUpdate: async (u) => (await verifier.verify(u)).ok })
  return {
    client,
    stop() {
      detach()
      verifier.destroy()
      client.destroy()
    },
  }
}

describe('relay: hostile room updates (issue 12, item 1)', () => {
  let relay: Relay
  let url: string
  const cleanup: Array<() => unknown> = []
  const rejected = (reason: string) => relay.metrics.value('stoop_relay_rejected_total', { reason })

  beforeAll(async () => {
    // The byte budget is opened wide here, so the flood reaches the update gate itself.
    ;({ relay, url } = await start({ bytesPerSecond: 1 << 30, burstBytes: 1 << 30 }))
  })
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn()
    await relay?.close()
  })

  it('a junk-update flood does not fill a new room: the owner\'s genesis lands after it', async () => {
    const owner = await generateIdentity()
    const room = await handRoom(owner)
    const attacker = raw(url)
    cleanup.push(() => attacker.ws.close())
    await attacker.authenticate(await generateIdentity(), room.dk)
    const before = { junk: rejected('gate:trailing-bytes'), empty: rejected('gate:no-new-entry') }
    // ~9 MiB: more than the room's whole 8 MiB cap, as in the issue.
    for (let i = 0; i < 9; i++) attacker.send(junkFrame())
    for (let i = 0; i < 200; i++) attacker.send(new Uint8Array([2, 2, 0, 0]))
    await until('the flood refused', () => rejected('gate:trailing-bytes') >= before.junk + 9 && rejected('gate:no-new-entry') >= before.empty + 200)
    expect(attacker.closed).toBe(null)
    const stored = relay.rooms.room(room.dk)!
    expect(stored.gate.bytes).toBe(0)

    const m = await member(url, room, owner)
    cleanup.push(() => m.stop())
    await until('the genesis lands', () => relay.rooms.room(room.dk)?.roomId === room.roomId)
    await stored.replica!.whenSettled()
    expect(stored.mayPublish(keyId(owner.publicKey)).ok).toBe(true)
    expect(stored.gate.bytes).toBe(entryBytes(room.doc))
    expect(rejected('doc-full')).toBe(0)
  })

  it('forged entries and junk never reach a live room\'s doc: the owner\'s ban lands and cuts the attacker', async () => {
    const owner = await generateIdentity()
    const mallory = await generateIdentity()
    const room = await handRoom(owner, [mallory])
    const m = await member(url, room, owner)
    cleanup.push(() => m.stop())
    await until('room bound', () => relay.rooms.room(room.dk)?.roomId === room.roomId)
    const stored = relay.rooms.room(room.dk)!
    const honest = logOf(stored.doc).length

    const attacker = raw(url)
    cleanup.push(() => attacker.ws.close())
    await attacker.authenticate(mallory, room.dk)
    expect(attacker.got.at(-1)).toMatchObject({ type: 'welcome' })
    const forgedBefore = rejected('gate:bad-signature')
    for (let i = 0; i < 3; i++) attacker.send(await forgedFrame(mallory, room.roomId, 3000, i))
    for (let i = 0; i < 9; i++) attacker.send(junkFrame())
    await until('forged entries refused', () => rejected('gate:bad-signature') >= forgedBefore + 3)
    expect(logOf(stored.doc).length).toBe(honest)

    // The owner bans the attacker: the relay takes the entry and cuts the key.
    const ban = await signEntry(owner, room.roomId, Date.now(), { kind: 'ban', auth: room.genesisId, subject: keyId(mallory.publicKey) })
    logOf(room.doc).push([ban])
    await until('ban in the relay state', () => stored.state?.banned.has(keyId(mallory.publicKey)) === true)
    await until('attacker cut', () => attacker.closed !== null)
    expect(attacker.closed!.code).toBe(RelayCloseCode.Banned)
    expect(logOf(stored.doc).length).toBe(honest + 1)
    expect(stored.gate.bytes).toBe(entryBytes(room.doc))
  })

  it('copies of the log and a member\'s own valid entries cannot shut the owner out: its ban lands in the reserve', async () => {
    const small = await start({ maxDocBytes: 64 * 1024 })
    const rejectedHere = (reason: string) => small.relay.metrics.value('stoop_relay_rejected_total', { reason })
    try {
      const owner = await generateIdentity()
      const mallory = await generateIdentity()
      const room = await handRoom(owner, [mallory])
      const m = await member(small.url, room, owner)
      await until('room bound', () => small.relay.rooms.room(room.dk)?.roomId === room.roomId)
      const stored = small.relay.rooms.room(room.dk)!
      const attacker = raw(small.url)
      await attacker.authenticate(mallory, room.dk)
      // Copies of the genesis it was served, under fresh Yjs clients: a quarter of the cap at most.
      for (let i = 0; i < 4; i++) attacker.send(copiesFrame(logOf(room.doc).get(0), 100))
      await until('copies bounded', () => rejectedHere('copies-full') >= 1)
      // Its own valid entries, until the room is full, then one at a time to pack it to the last byte.
      for (let i = 0; i < 8; i++) attacker.send(await profilesFrame(mallory, room.roomId, 100, i * 100))
      await until('room full', () => rejectedHere('doc-full') >= 1)
      const full = rejectedHere('doc-full')
      for (let i = 0; i < 100; i++) attacker.send(await profilesFrame(mallory, room.roomId, 1, 1000 + i))
      await until('packed', () => rejectedHere('doc-full') > full)
      expect(stored.gate.bytes).toBeLessThanOrEqual(64 * 1024)
      const ban = await signEntry(owner, room.roomId, Date.now(), { kind: 'ban', auth: room.genesisId, subject: keyId(mallory.publicKey) })
      logOf(room.doc).push([ban])
      await until('attacker cut', () => attacker.closed !== null)
      expect(attacker.closed!.code).toBe(RelayCloseCode.Banned)
      m.stop()
    } finally {
      await small.relay.close()
    }
  })

  it('a publish waits for updates still at the gate: whenSettled resolves once they are applied', async () => {
    const owner = await generateIdentity()
    const room = await handRoom(owner)
    const doc = new Y.Doc()
    const gate = new RoomGate({ doc, discovery: room.dk, maxDocBytes: 1 << 20 })
    const update = Y.encodeStateAsUpdate(room.doc)
    // As the sync does: apply in the microtasks after the gate says yes.
    void gate.admit(update).then((v) => v.ok && Y.applyUpdate(doc, update))
    await gate.whenSettled()
    expect(logOf(doc).length).toBe(logOf(room.doc).length)
    gate.destroy()
  })

  it('the relay-wide doc budget refuses, and counts, what would pass it', async () => {
    const owner = await generateIdentity()
    const a = await handRoom(owner)
    const b = await handRoom(owner)
    // Room a fits; room b's log would take the relay past its budget.
    const small = await start({ maxTotalDocBytes: entryBytes(a.doc) + 100 })
    try {
      const ma = await member(small.url, a, owner)
      await until('room a bound', () => small.relay.rooms.room(a.dk)?.roomId === a.roomId)
      const mb = await member(small.url, b, owner)
      await until('room b refused', () => small.relay.metrics.value('stoop_relay_rejected_total', { reason: 'relay-full' }) >= 1)
      expect(small.relay.rooms.room(b.dk)?.roomId).toBe(null)
      small.relay.rooms.collect()
      expect(small.relay.metrics.value('stoop_relay_doc_bytes')).toBe(entryBytes(a.doc))
      ma.stop()
      mb.stop()
    } finally {
      await small.relay.close()
    }
  })
})

describe('relay: one client cannot exhaust the relay (issue 12, item 3)', () => {
  const relays: Relay[] = []
  afterAll(async () => {
    for (const r of relays) await r.close()
  })
  async function relayWith(rooms: Parameters<typeof start>[0]) {
    const r = await start(rooms)
    relays.push(r.relay)
    const rejected = (reason: string) => r.relay.metrics.value('stoop_relay_rejected_total', { reason })
    return { ...r, rejected }
  }

  it('budgets the bytes of a connection, not only its frames', async () => {
    const { url, rejected } = await relayWith({ bytesPerSecond: 64 * 1024, burstBytes: 1536 * 1024 })
    const attacker = raw(url)
    await attacker.authenticate(await generateIdentity(), (await handRoom(await generateIdentity())).dk)
    for (let i = 0; i < 3; i++) attacker.send(junkFrame())
    await until('cut', () => attacker.closed !== null)
    expect(attacker.closed!.code).toBe(RelayCloseCode.RateLimited)
    expect(rejected('byte-rate')).toBe(1)
  })

  it('caps connections and rooms per IP address', async () => {
    const { url, rejected } = await relayWith({ maxConnectionsPerIp: 4, maxRoomsPerIp: 2 })
    const socks = Array.from({ length: 5 }, () => raw(url))
    await until('fifth refused', () => socks[4]!.closed !== null)
    expect(socks[4]!.closed!.code).toBe(RelayCloseCode.Full)
    expect(socks[4]!.got[0]).toMatchObject({ type: 'refused', reason: 'server-full', message: 'too many connections from your address' })
    expect(rejected('ip-full')).toBe(1)
    expect(socks.slice(0, 4).every((s) => s.closed === null)).toBe(true)

    const who = await generateIdentity()
    const [r1, r2, r3] = await Promise.all([handRoom(who), handRoom(who), handRoom(who)])
    await socks[0]!.authenticate(who, r1!.dk)
    await socks[1]!.authenticate(await generateIdentity(), r2!.dk)
    await socks[2]!.authenticate(await generateIdentity(), r3!.dk)
    await until('third room refused', () => socks[2]!.closed !== null)
    expect(socks[2]!.got.at(-1)).toMatchObject({ type: 'refused', op: 'hello', reason: 'rooms-full' })
    expect(rejected('ip-rooms')).toBe(1)
    // Another connection to a room the address is already in is fine.
    await socks[3]!.authenticate(await generateIdentity(), r1!.dk)
    expect(socks[3]!.got.at(-1)).toMatchObject({ type: 'welcome' })
    for (const s of socks) s.ws.close()
  })

  it('idle rooms make way for new ones: sockets that open rooms and leave cannot fill every place', async () => {
    const { relay, url } = await relayWith({ maxRooms: 2, idleRoomMs: 60_000 })
    const who = await generateIdentity()
    const rooms = await Promise.all([handRoom(who), handRoom(who), handRoom(who)])
    for (const r of rooms.slice(0, 2)) {
      const s = raw(url)
      await s.authenticate(who, r.dk)
      s.ws.close()
      await until('left', () => s.closed !== null)
    }
    await until('two idle rooms', () => relay.rooms.roomCount === 2 && [...rooms.slice(0, 2)].every((r) => relay.rooms.room(r.dk)?.peers.size === 0))
    const late = raw(url)
    await late.authenticate(who, rooms[2]!.dk)
    expect(late.got.at(-1)).toMatchObject({ type: 'welcome' })
    expect(relay.metrics.value('stoop_relay_rooms_evicted_total', { reason: 'capacity' })).toBe(1)
    // Rooms with someone connected keep their place.
    const other = raw(url)
    await other.authenticate(who, rooms[1]!.dk)
    const third = raw(url)
    await third.authenticate(who, rooms[0]!.dk)
    expect(third.got.at(-1)).toMatchObject({ type: 'refused', reason: 'rooms-full' })
    for (const s of [late, other, third]) s.ws.close()
  })

  it('presence: a connection may set only its own client\'s state, small and not too often', async () => {
    const { relay, url, rejected } = await relayWith({})
    const owner = await generateIdentity()
    // An epoch, so members are served (the attacker is one: a stranger is sent nothing at all).
    const room = await handRoom(owner, [], { epoch: true })
    const awA = new Awareness(room.doc)
    awA.setLocalState({ name: 'Ann' })
    const a = await member(url, room, owner, awA)
    const docB = new Y.Doc()
    const awB = new Awareness(docB)
    const b = await member(url, { ...room, doc: docB }, await generateIdentity(), awB)
    const nameOf = (id: number) => awB.getStates().get(id)?.name
    await until('b sees Ann', () => nameOf(awA.clientID) === 'Ann')

    const attacker = raw(url)
    await attacker.authenticate(await generateIdentity(), room.dk, room.secret)
    // Overwrite Ann's presence, then remove it: both name a client id that is not the attacker's.
    attacker.send(awarenessFrame(awA.clientID, 1000, { name: 'Mallory' }))
    attacker.send(awarenessFrame(awA.clientID, 1001, null))
    await until('refused', () => rejected('sync:awareness-not-own') >= 2)
    // Its own id: fine, once; a huge state and a flood are not.
    attacker.send(awarenessFrame(4242, 1, { name: 'Eve' }))
    await until('b sees Eve', () => nameOf(4242) === 'Eve')
    attacker.send(awarenessFrame(4242, 2, { name: 'x'.repeat(100_000) }))
    for (let i = 0; i < 60; i++) attacker.send(awarenessFrame(4242, 3 + i, { name: `Eve ${i}` }))
    await until('flood refused', () => rejected('sync:awareness-too-large') >= 1 && rejected('sync:awareness-rate') >= 30)
    expect(nameOf(awA.clientID)).toBe('Ann')
    expect(String(nameOf(4242)).length).toBeLessThan(100)
    expect(relay.metrics.render()).toMatch(/stoop_relay_rejected_total\{reason="sync:awareness-rate"\} \d+/)
    attacker.ws.close()
    a.stop()
    b.stop()
    awA.destroy()
    awB.destroy()
  })

  it('a repeated 3-byte step 1 costs one encoding of the doc, and is rate-limited', async () => {
    const { relay, url, rejected } = await relayWith({})
    const owner = await generateIdentity()
    const room = await handRoom(owner, [], { epoch: true })
    const profiles = await Promise.all(
      Array.from({ length: 1500 }, (_, i) => signEntry(owner, room.roomId, Date.now(), { kind: 'profile', seq: i + 1, name: sealedText(room.roomId, owner, 'name', `Owner ${i}`), muted: false })),
    )
    logOf(room.doc).push(profiles)
    const m = await member(url, room, owner)
    await until('log at the relay', () => logOf(relay.rooms.room(room.dk)?.doc ?? new Y.Doc()).length === logOf(room.doc).length)
    const stored = relay.rooms.room(room.dk)!
    // The member connected before the relay had the log: it proves the epoch that came with it, and is answered then.
    await until('the member is served', () => [...stored.peers.values()].every((p) => !stored.epochs.holds(p)))
    const encodedBefore = stored.syncGuard.encoded

    const attackers = [raw(url), raw(url)]
    for (const s of attackers) await s.authenticate(await generateIdentity(), room.dk, room.secret)
    for (let i = 0; i < 100; i++) attackers[0]!.send(EMPTY_STEP1)
    attackers[1]!.send(EMPTY_STEP1)
    await until('step 1 flood refused', () => rejected('sync:step1-rate') >= 96)
    await until('answers', () => attackers[1]!.binary.some((b) => b[0] === 1))
    // Answers: at most the burst (plus the relay's own step 1 to each), and the doc was encoded once for all of them.
    const answers = attackers[0]!.binary.filter((b) => b[0] === 1).length
    expect(answers).toBeLessThanOrEqual(4)
    expect(stored.syncGuard.encoded - encodedBefore).toBe(1)
    for (const s of attackers) s.ws.close()
    m.stop()
  })
})
