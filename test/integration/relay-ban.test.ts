/**
 * A banned member against the relay, as an attacker runs it (127.0.0.1, real relay,
 * RelayClients on @roamhq/wrtc). The attacker's client ignores its own ban: it never
 * looks at the room state, keeps its relay socket and reconnects with the banned key.
 * The relay, which validates the same signed log, must refuse that key everywhere:
 *
 *   1. owner (on stage, 440 Hz), an honest listener and the attacker, all through the relay;
 *      the attacker hears the tone and sees the listener's presence (the attack is real)
 *   2. the owner bans the attacker: the relay cuts its connection at once (close 4008
 *      `banned`), drops its subscription and its presence; the attacker hears nothing any
 *      more (measured), the honest listener keeps hearing the owner
 *   3. the attacker reconnects with the banned key: refused at the handshake (`banned`),
 *      no sync and no presence reach it; nothing it sends is served; counted in /metrics
 *   4. the room's own gates (join, sync, subscribe, publish) refuse the key too
 */
import wrtc from '@roamhq/wrtc'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { attachSink, createToneSource } from '../../src/node/audio-io.ts'
import { fromBase64url, generateIdentity, keyId, toBase64url, type Identity } from '../../src/identity/index.ts'
import { checkRemoteUpdate, createRoom, deriveDiscoveryKey, membershipKey, RoomActor, RoomReplica, type CreatedRoom } from '../../src/room/index.ts'
import { attachSync, encodeAwareness, encodeStep1 } from '../../src/net/sync.ts'
import { RelayClient, type RelayError, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { authMessage, discoveryHex, RelayCloseCode } from '../../src/net/relay-protocol.ts'
import { loopbackSdp } from '../../src/net/peer.ts'
import { detectTones, hasTone } from '../../src/audio/goertzel.ts'
import { SAMPLE_RATE } from '../../src/audio/tone.ts'
import { waitFor } from '../helpers/wait.ts'

const WS = WebSocket as unknown as RelayWebSocketClass
const TONE = 440
/** Half a second of what a client hears, newest last. */
const WINDOW = SAMPLE_RATE / 2

/** One relay client with its own replica, presence and ears. */
interface Client {
  id: string
  identity: Identity
  relay: RelayClient
  doc: Y.Doc
  awareness: Awareness
  actor: RoomActor
  closed: RelayError | null | undefined
  heard: Int16Array
  /** Whether the last half second holds the tone. */
  hearsTone(): boolean
  forget(): void
  stop(): void
}

async function connect(url: string, room: CreatedRoom, name: string, opts: { identity?: Identity; doc?: Y.Doc } = {}): Promise<Client> {
  const identity = opts.identity ?? (await generateIdentity())
  const doc = opts.doc ?? new Y.Doc()
  const replica = new RoomReplica(doc, { roomId: room.roomId })
  const awareness = new Awareness(doc)
  awareness.setLocalState({ name })
  // A member with the link proves epoch 0 (docs/room-rules.md §8); the attacker holds it too.
  const secret = membershipKey(fromBase64url(room.secret)!)
  const relay = new RelayClient({ WebSocket: WS, wrtc, sdpFilter: loopbackSdp, member: () => secret })
  const sinks: Array<() => void> = []
  const c: Client = {
    id: keyId(identity.publicKey),
    identity,
    relay,
    doc,
    awareness,
    actor: new RoomActor(replica, identity),
    closed: undefined,
    heard: new Int16Array(WINDOW),
    hearsTone: () => hasTone(detectTones(c.heard, SAMPLE_RATE, [TONE])[0]!, { minRatio: 0.3 }),
    forget: () => c.heard.fill(0),
    stop() {
      for (const s of sinks) s()
      relay.destroy()
      awareness.destroy()
      replica.destroy()
    },
  }
  relay.on('close', (err) => (c.closed = err))
  relay.on('track', (_id, track) => {
    sinks.push(
      attachSink(wrtc, track, (frame) => {
        c.heard.copyWithin(0, frame.length)
        c.heard.set(frame, WINDOW - frame.length)
      }),
    )
  })
  await relay.connect(url, room.roomId, identity)
  attachSync(doc, awareness, relay.link, { acceptUpdate: (u) => checkRemoteUpdate(u).ok })
  return c
}

const names = (aw: Awareness): unknown[] => [...aw.getStates().values()].map((s) => s.name)

/** A relay on loopback, a room whose owner publishes the tone through it, and two listeners. */
interface Scene {
  relay: Relay
  url: string
  room: CreatedRoom
  dk: string
  owner: Client
  honest: Client
  attacker: Client
}

async function setUp(cleanup: Array<() => unknown>): Promise<Scene> {
  const relay = await startRelay({
    port: 0,
    host: '127.0.0.1',
    log: silentLogger,
    rooms: { peerConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }, sdpFilter: loopbackSdp },
  })
  cleanup.push(() => relay.close())
  const url = `${relay.url.replace('http', 'ws')}/relay`
  const ownerId = await generateIdentity()
  const room = await createRoom(ownerId, { title: 'Ban at the relay' })
  const dk = discoveryHex(deriveDiscoveryKey(room.roomId))
  const joined: Client[] = []
  for (const [name, opts] of [['owner', { identity: ownerId, doc: room.doc }], ['honest', {}], ['attacker', {}]] as const) {
    const c = await connect(url, room, name, opts)
    cleanup.push(() => c.stop())
    joined.push(c)
  }
  const [owner, honest, attacker] = joined as [Client, Client, Client]
  const tone = createToneSource(wrtc, { freq: TONE })
  cleanup.push(() => tone.stop())
  await waitFor('the relay holds the room', () => relay.rooms.room(dk)?.state?.exists === true)
  await owner.relay.publish(tone.track, tone.stream)
  return { relay, url, room, dk, owner, honest, attacker }
}

describe('a banned member at the relay', () => {
  const cleanup: Array<() => unknown> = []
  let scene: Scene

  beforeAll(async () => {
    scene = await setUp(cleanup)
  })

  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })

  it('cuts the banned key, refuses it for sync, presence and subscribe; it hears nothing, the others keep hearing', async () => {
    const { relay, url, room, dk, owner, honest, attacker } = scene
    // 1. Both listeners hear the owner and see each other's presence through the relay.
    await honest.relay.subscribe()
    await attacker.relay.subscribe()
    await waitFor('the honest listener hears the owner', () => honest.hearsTone(), 30_000)
    await waitFor('the attacker hears the owner', () => attacker.hearsTone(), 30_000)
    await waitFor('the attacker sees the honest listener', () => names(attacker.awareness).includes('honest'))
    await waitFor('the honest listener sees the attacker', () => names(honest.awareness).includes('attacker'))

    // 2. The owner bans the attacker (the entry reaches the relay through the owner's sync).
    await owner.actor.ban(attacker.id)
    await waitFor('the relay cuts the attacker', () => attacker.closed !== undefined, 10_000)
    expect(attacker.closed).toMatchObject({ code: 'relay-closed', reason: 'banned' })
    const onRelay = relay.rooms.room(dk)!
    expect([...onRelay.peers.keys()]).not.toContain(attacker.id)
    await waitFor('the attacker is no longer a subscriber', () => onRelay.forwarderStats?.subscribers === 1)
    await waitFor('the attacker\'s presence is gone', () => !names(honest.awareness).includes('attacker'))
    attacker.forget()
    honest.forget()
    await new Promise((r) => setTimeout(r, 1500))
    expect(attacker.hearsTone()).toBe(false)
    await waitFor('the honest listener still hears the owner', () => honest.hearsTone(), 5000)

    // 3. It reconnects with the banned key, ignoring the ban: refused at the handshake.
    const again = new RelayClient({ WebSocket: WS, wrtc, sdpFilter: loopbackSdp })
    await expect(again.connect(url, room.roomId, attacker.identity)).rejects.toMatchObject({ code: 'relay-refused', reason: 'banned' })
    // Raw protocol, sending sync, presence and subscribe anyway: nothing is served, the socket is closed.
    const raw = await rawAttempt(url, dk, attacker.identity)
    expect(raw.refused).toMatchObject({ type: 'refused', op: 'auth', reason: 'banned' })
    expect(raw.close).toEqual({ code: RelayCloseCode.Banned, reason: 'banned' })
    expect(raw.binary).toBe(0)
    expect(raw.after).toEqual([])
    expect([...onRelay.peers.keys()].sort()).toEqual([owner.id, honest.id].sort())
    expect(relay.metrics.value('stoop_relay_rejected_total', { reason: 'banned' })).toBeGreaterThanOrEqual(3)
    const text = await (await fetch(`${relay.url}/metrics`)).text()
    expect(text).toMatch(/^stoop_relay_rejected_total\{reason="banned"\} [3-9]\d*$/m)
    attacker.forget()
    await new Promise((r) => setTimeout(r, 1000))
    expect(attacker.hearsTone()).toBe(false)
    await waitFor('the honest listener still hears the owner', () => honest.hearsTone(), 5000)
  }, 90_000)

  it('the room refuses the banned key at every gate: join, sync, subscribe, publish', async () => {
    const { relay, dk, honest, attacker } = scene
    const onRelay = relay.rooms.room(dk)!
    await onRelay.replica!.whenSettled()
    const closes: Array<[number, string]> = []
    const sent: unknown[] = []
    const peer = { key: attacker.id, send: (m: unknown) => sent.push(m), close: (code: number, reason: string) => closes.push([code, reason]) }
    expect(onRelay.admit(attacker.id)).toMatchObject({ ok: false, reason: 'banned' })
    expect(onRelay.admit(honest.id)).toEqual({ ok: true })
    expect(onRelay.subscribe(peer)).toMatchObject({ ok: false, reason: 'banned' })
    expect(onRelay.mayPublish(attacker.id)).toMatchObject({ ok: false, reason: 'banned' })
    expect(await onRelay.publish(peer, 'v=0')).toMatchObject({ ok: false, reason: 'banned' })
    expect(relay.metrics.value('stoop_relay_rejected_publish_total', { reason: 'banned' })).toBe(1)
    const link = { closed: false, on: () => () => undefined, off: () => undefined, send: () => undefined }
    expect(onRelay.attachSync(peer, link as never)).toBe(false)
    expect(closes).toEqual([[RelayCloseCode.Banned, 'banned']])
  })
})

/** hello, auth, then step 1, presence and subscribe regardless of the answer; what came back. */
async function rawAttempt(url: string, dk: string, identity: Identity) {
  const ws = new WebSocket(url)
  const got: Array<Record<string, unknown>> = []
  let binary = 0
  let close: { code: number; reason: string } | null = null
  ws.on('message', (data, isBinary) => {
    if (isBinary) binary++
    else got.push(JSON.parse(String(data)) as Record<string, unknown>)
  })
  ws.on('close', (code, reason) => (close = { code, reason: String(reason) }))
  await new Promise<void>((ok, ko) => {
    ws.once('open', () => ok())
    ws.once('error', ko)
  })
  ws.send(JSON.stringify({ type: 'hello', v: 1, room: dk, key: keyId(identity.publicKey) }))
  await waitFor('challenge', () => got.some((m) => m.type === 'challenge'))
  const ch = got.find((m) => m.type === 'challenge') as { nonce: string; relay: string }
  ws.send(JSON.stringify({ type: 'auth', sig: toBase64url(await identity.sign(authMessage(dk, ch.nonce, ch.relay))) }))
  await waitFor('an answer to auth', () => got.length > 1 || close !== null)
  const seen = got.length
  const ghost = new Awareness(new Y.Doc())
  ghost.setLocalState({ name: 'ghost' })
  const frames = [encodeStep1(new Y.Doc()), encodeAwareness(ghost, [ghost.clientID]), JSON.stringify({ type: 'subscribe' })]
  for (const frame of frames) if (ws.readyState === ws.OPEN) ws.send(frame)
  ghost.destroy()
  await waitFor('closed', () => close !== null)
  return { refused: got[1], close, binary, after: got.slice(seen) }
}
