/**
 * The relay endpoint's edges, on 127.0.0.1 with raw WebSockets and RelayClients:
 * authentication, malformed frames (counted, connection kept), frames in the
 * wrong state, the update gate (other rooms' entries never reach the stored
 * doc), one connection per key, publish without room state, and the wire
 * decoders themselves (pure).
 */
import WebSocket from 'ws'
import wrtc from '@roamhq/wrtc'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { checkRoomUpdate } from '../../relay/rooms/gate.ts'
import { fromBase64url, generateIdentity, keyId, toBase64url, type Identity } from '../../src/identity/index.ts'
import { createRoom, deriveDiscoveryKey, logOf, membershipKey, type CreatedRoom } from '../../src/room/index.ts'

/** What an honest member of `room` proves to a relay: epoch 0's membership key. */
const memberOf = (room: CreatedRoom) => {
  const key = membershipKey(fromBase64url(room.secret)!)
  return () => key
}
import { RelayClient, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { attachSync, encodeStep1 } from '../../src/net/sync.ts'
import {
  authMessage,
  decodeClientMessage,
  decodeRelayMessage,
  discoveryHex,
  MAX_RELAY_CONTROL_BYTES,
  RelayCloseCode,
} from '../../src/net/relay-protocol.ts'
import { waitFor } from '../helpers/wait.ts'

const until = (what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> => waitFor(what, cond, timeoutMs)

const WS = WebSocket as unknown as RelayWebSocketClass

/** A raw socket that records what the relay sends and how it closes. */
function raw(url: string) {
  const ws = new WebSocket(url)
  const got: Array<Record<string, unknown>> = []
  const binary: Uint8Array[] = []
  let closed: { code: number; reason: string } | null = null
  ws.on('message', (data, isBinary) => {
    if (isBinary) binary.push(new Uint8Array(data as Buffer))
    else got.push(JSON.parse(String(data)) as Record<string, unknown>)
  })
  ws.on('close', (code, reason) => (closed = { code, reason: String(reason) }))
  return {
    ws,
    got,
    binary,
    get closed() {
      return closed
    },
    opened: new Promise<void>((ok, fail) => {
      ws.once('open', () => ok())
      ws.once('error', fail)
    }),
    send: (msg: unknown) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
    async authenticate(identity: Identity, room: string): Promise<void> {
      await this.opened
      this.send({ type: 'hello', v: 1, room, key: keyId(identity.publicKey) })
      await until('challenge', () => got.some((m) => m.type === 'challenge'))
      const ch = got.find((m) => m.type === 'challenge')! as { nonce: string; relay: string }
      this.send({ type: 'auth', sig: toBase64url(await identity.sign(authMessage(room, ch.nonce, ch.relay))) })
      await until('welcome', () => got.some((m) => m.type === 'welcome'))
    },
  }
}

describe('relay endpoint', () => {
  let relay: Relay
  let url: string
  let room: CreatedRoom
  let dk: string
  let owner: Identity

  beforeAll(async () => {
    relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, rooms: { authTimeoutMs: 1000, idleRoomMs: 200 } })
    url = `${relay.url.replace('http', 'ws')}/relay`
    owner = await generateIdentity()
    room = await createRoom(owner, { title: 'Edges' })
    dk = discoveryHex(deriveDiscoveryKey(room.roomId))
  })
  afterAll(async () => {
    await relay?.close()
  })

  const rejected = (reason: string) => relay.metrics.value('stoop_relay_rejected_total', { reason })

  it('counts malformed control frames and keeps the connection', async () => {
    const c = raw(url)
    await c.authenticate(owner, dk)
    const before = { json: rejected('bad-json'), type: rejected('unknown-type'), field: rejected('bad-field') }
    c.send('{nope')
    c.send({ type: 'teleport' })
    c.send({ type: 'publish', sdp: 42 })
    c.send({ type: 'ping' })
    await until('pong', () => c.got.some((m) => m.type === 'pong'))
    expect(rejected('bad-json')).toBe(before.json + 1)
    expect(rejected('unknown-type')).toBe(before.type + 1)
    expect(rejected('bad-field')).toBe(before.field + 1)
    expect(c.closed).toBe(null)
    c.ws.close()
  })

  it('refuses a bad signature, frames before auth, and silence', async () => {
    const impostor = await generateIdentity()
    const c = raw(url)
    await c.opened
    c.send({ type: 'hello', v: 1, room: dk, key: keyId(owner.publicKey) })
    await until('challenge', () => c.got.some((m) => m.type === 'challenge'))
    const ch = c.got[0] as { nonce: string; relay: string }
    expect(ch.relay).toBe(new URL(url).host)
    // Signed by someone else than the key it claims.
    c.send({ type: 'auth', sig: toBase64url(await impostor.sign(authMessage(dk, ch.nonce, ch.relay))) })
    await until('closed', () => c.closed !== null)
    expect(c.got.at(-1)).toMatchObject({ type: 'refused', op: 'auth', reason: 'bad-signature' })
    expect(c.closed!.code).toBe(RelayCloseCode.Unauthenticated)

    const early = raw(url)
    await early.opened
    early.ws.send(encodeStep1(new Y.Doc()))
    await until('closed', () => early.closed !== null)
    expect(early.closed!.code).toBe(RelayCloseCode.Unauthenticated)

    const quiet = raw(url)
    await quiet.opened
    await until('auth timeout', () => quiet.closed !== null, 5000)
    expect(rejected('auth-timeout')).toBeGreaterThanOrEqual(1)

    const huge = raw(url)
    await huge.opened
    huge.send('x'.repeat(MAX_RELAY_CONTROL_BYTES + 1))
    await until('closed', () => huge.closed !== null)
    expect(huge.closed!.code).toBe(RelayCloseCode.TooLarge)
  })

  it('a client refuses a challenge that names another host', async () => {
    // A relay that names a host other than the one dialled (as a relay passing on
    // another relay's challenge would): the client does not sign it.
    const mitm = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, rooms: { publicHost: 'other.example:443' } })
    try {
      const c = new RelayClient({ WebSocket: WS, wrtc })
      await expect(c.connect(`${mitm.url.replace('http', 'ws')}/relay`, room.roomId, owner)).rejects.toMatchObject({ code: 'auth-failed' })
      expect(c.destroyed).toBe(true)
    } finally {
      await mitm.close()
    }
    // The same relay reached as "localhost" names that host back: fine.
    const ok = new RelayClient({ WebSocket: WS, wrtc })
    await ok.connect(url.replace('127.0.0.1', 'localhost'), room.roomId, owner)
    ok.destroy()
  })

  it('keeps other rooms out of the stored doc, binds the room id, validates publishers from the log', async () => {
    const other = await createRoom(owner, { title: 'Other' })
    const c = new RelayClient({ WebSocket: WS, wrtc })
    await c.connect(url, room.roomId, owner)
    const gateBefore = rejected('gate:foreign-room')
    // Sync the other room's doc into this room's socket: refused by the gate.
    const detach = attachSync(other.doc, null, c.link)
    await until('gate refusal', () => rejected('gate:foreign-room') > gateBefore)
    detach()
    const stored = relay.rooms.room(dk)!
    expect(stored.roomId).toBe(null)
    expect(logOf(stored.doc).length).toBe(0)
    c.destroy()

    // The right doc binds the room.
    // Members prove the room's current epoch (epoch 0: the link's secret, docs/room-rules.md §8).
    const c2 = new RelayClient({ WebSocket: WS, wrtc, member: memberOf(room) })
    await c2.connect(url, room.roomId, owner)
    attachSync(room.doc, null, c2.link)
    await until('room bound', () => relay.rooms.room(dk)?.roomId === room.roomId)
    await relay.rooms.room(dk)!.replica!.whenSettled()
    expect(relay.rooms.room(dk)!.mayPublish(keyId(owner.publicKey)).ok).toBe(true)
    const stranger = await generateIdentity()
    expect(relay.rooms.room(dk)!.mayPublish(keyId(stranger.publicKey))).toMatchObject({ ok: false, reason: 'not-speaker' })

    // The same key again replaces the older connection.
    const closed = new Promise<string | undefined>((ok) => c2.on('close', (err) => ok(err?.reason)))
    const c3 = new RelayClient({ WebSocket: WS, wrtc, member: memberOf(room) })
    await c3.connect(url, room.roomId, owner)
    expect(await closed).toBe('replaced')
    c3.destroy()
  })

  it('forwards room updates and presence between clients (star)', async () => {
    const hub = await createRoom(owner, { title: 'Star' })
    const a = new RelayClient({ WebSocket: WS, wrtc, member: memberOf(hub) })
    const b = new RelayClient({ WebSocket: WS, wrtc, member: memberOf(hub) })
    const guest = await generateIdentity()
    await a.connect(url, hub.roomId, owner)
    await b.connect(url, hub.roomId, guest)
    const awA = new Awareness(hub.doc)
    const docB = new Y.Doc()
    const awB = new Awareness(docB)
    attachSync(hub.doc, awA, a.link)
    attachSync(docB, awB, b.link)
    awA.setLocalState({ name: 'Ann' })
    await until('b has the log', () => logOf(docB).length === logOf(hub.doc).length)
    await until('b sees Ann', () => [...awB.getStates().values()].some((s) => s.name === 'Ann'))
    // The relay has no presence of its own.
    expect([...relay.rooms.room(discoveryHex(deriveDiscoveryKey(hub.roomId)))!.awareness.getStates().values()].map((s) => s.name)).toEqual(['Ann'])
    a.destroy()
    await until('Ann leaves b', () => ![...awB.getStates().values()].some((s) => s.name === 'Ann'))
    b.destroy()
    awA.destroy()
    awB.destroy()
  })

  it('RelayClient lifecycle: misuse throws, an unreachable relay rejects, destroy is idempotent', async () => {
    const c = new RelayClient({ WebSocket: WS, wrtc })
    const src = new wrtc.nonstandard.RTCAudioSource()
    const track = src.createTrack()
    const stream = new wrtc.MediaStream([track])
    await expect(c.publish(track, stream)).rejects.toMatchObject({ code: 'bad-state' })
    const closes: unknown[] = []
    c.on('close', (err) => closes.push(err))
    // Port 9 (discard) on loopback: nothing listens.
    await expect(c.connect('ws://127.0.0.1:9/relay', room.roomId, owner)).rejects.toMatchObject({ code: 'relay-unreachable' })
    expect(c.destroyed).toBe(true)
    expect(closes).toHaveLength(1)
    c.destroy()
    expect(closes).toHaveLength(1)
    await expect(c.publish(track, stream)).rejects.toMatchObject({ code: 'destroyed' })
    track.stop()
  })

  it('refuses a publish when the relay holds no log for the room', async () => {
    const lonely = await createRoom(owner, { title: 'Never synced' })
    const c = new RelayClient({ WebSocket: WS, wrtc })
    await c.connect(url, lonely.roomId, owner)
    const src = new wrtc.nonstandard.RTCAudioSource()
    const track = src.createTrack()
    await expect(c.publish(track, new wrtc.MediaStream([track]))).rejects.toMatchObject({ code: 'publish-refused', reason: 'no-room-state' })
    track.stop()
    c.destroy()
    expect(relay.metrics.value('stoop_relay_rejected_publish_total', { reason: 'no-room-state' })).toBe(1)
  })
})

describe('relay wire decoders', () => {
  const dk = 'ab'.repeat(32)
  const key = 'A'.repeat(43)

  it('decode valid client and relay messages', () => {
    expect(decodeClientMessage(JSON.stringify({ type: 'hello', v: 1, room: dk, key }))).toEqual({ type: 'hello', v: 1, room: dk, key })
    expect(decodeClientMessage('{"type":"subscribe","extra":1}')).toEqual({ type: 'subscribe' })
    expect(decodeClientMessage('{"type":"subscribe","standby":true}')).toEqual({ type: 'subscribe', standby: true })
    expect(decodeClientMessage('{"type":"subscribe","standby":"yes"}')).toEqual({ error: 'bad-field' })
    expect(decodeRelayMessage(JSON.stringify({ type: 'publishers', ids: [key] }))).toEqual({ type: 'publishers', ids: [key] })
    expect(decodeRelayMessage(JSON.stringify({ type: 'refused', op: 'publish', reason: 'not-speaker', message: 'no' }))).toMatchObject({ reason: 'not-speaker' })
    expect(decodeRelayMessage(JSON.stringify({ type: 'challenge', nonce: 'abc_-', relay: '127.0.0.1:8787' }))).toMatchObject({ type: 'challenge' })
  })

  it('refuse bad input with stable reasons and never throw', () => {
    expect(decodeClientMessage('x'.repeat(MAX_RELAY_CONTROL_BYTES + 1))).toEqual({ error: 'too-large' })
    expect(decodeClientMessage('[[[[[[1]]]]]]')).toEqual({ error: 'too-deep' })
    expect(decodeClientMessage('{')).toEqual({ error: 'bad-json' })
    expect(decodeClientMessage('3')).toEqual({ error: 'not-object' })
    expect(decodeClientMessage('{"type":"fly"}')).toEqual({ error: 'unknown-type' })
    expect(decodeClientMessage('{"type":7}')).toEqual({ error: 'bad-field' })
    expect(decodeClientMessage(JSON.stringify({ type: 'hello', v: 1, room: 'zz', key }))).toEqual({ error: 'bad-field' })
    expect(decodeClientMessage(JSON.stringify({ type: 'auth', sig: 'not base64!' }))).toEqual({ error: 'bad-field' })
    expect(decodeRelayMessage(JSON.stringify({ type: 'publishers', ids: ['../etc'] }))).toEqual({ error: 'bad-field' })
    expect(decodeRelayMessage(JSON.stringify({ type: 'challenge', nonce: 'a', relay: 'evil host/' }))).toEqual({ error: 'bad-field' })
    expect(decodeRelayMessage(JSON.stringify({ type: 'refused', op: 'launch', reason: 'x', message: 'y' }))).toEqual({ error: 'bad-field' })
  })

  it('gate: only entries of the room named by the discovery key', async () => {
    const owner = await generateIdentity()
    const a = await createRoom(owner, { title: 'A' })
    const b = await createRoom(owner, { title: 'B' })
    const dkA = discoveryHex(deriveDiscoveryKey(a.roomId))
    const updateA = Y.encodeStateAsUpdate(a.doc)
    // genesis, invite, accept, epoch 0 and the owner's encryption key
    expect(checkRoomUpdate(updateA, dkA, null)).toEqual({ ok: true, roomId: a.roomId, entries: 5 })
    expect(checkRoomUpdate(Y.encodeStateAsUpdate(b.doc), dkA, null)).toEqual({ ok: false, reason: 'foreign-room' })
    expect(checkRoomUpdate(Y.encodeStateAsUpdate(b.doc), dkA, a.roomId)).toEqual({ ok: false, reason: 'foreign-room' })
    const junk = new Y.Doc()
    logOf(junk).push([new Uint8Array([1, 2, 3])])
    expect(checkRoomUpdate(Y.encodeStateAsUpdate(junk), dkA, null)).toEqual({ ok: false, reason: 'malformed-entry' })
    const map = new Y.Doc()
    map.getMap('x').set('k', 1)
    expect(checkRoomUpdate(Y.encodeStateAsUpdate(map), dkA, null)).toMatchObject({ ok: false, reason: 'foreign-type' })
  })
})
