/**
 * A sync-only relay connection (hello `syncOnly`, what `stoop mod` opens) beside the same
 * key's media connection (127.0.0.1, real relay, RelayClients on @roamhq/wrtc).
 *
 * The relay keeps one connection per key, a newer one replacing the older. `stoop mod` run
 * with the key of a member who is in the room (the owner moderating from a terminal, a bot
 * and its operator) used to replace that member's connection: its audio stopped for the
 * relay path's retry, and a ban's rotation in that window left it behind in the old epoch
 * (found by test/integration/netns/relay-restart.test.ts). Now:
 *
 *   1. the owner publishes a tone through the relay, a listener hears it;
 *   2. the owner's key opens a sync-only connection: it gets the log, the owner's connection
 *      stays and the listener keeps hearing;
 *   3. a ban written through it lands at the relay (the banned key is cut);
 *   4. it is refused media (publish, subscribe) without touching the owner's;
 *   5. a second sync-only connection of the key replaces the first, never the media one.
 */
import wrtc from '@roamhq/wrtc'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { afterAll, describe, expect, it } from 'vitest'
import { startRelay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { attachSink, createToneSource } from '../../src/node/audio-io.ts'
import { fromBase64url, generateIdentity, keyId, type Identity } from '../../src/identity/index.ts'
import { checkRemoteUpdate, createRoom, deriveDiscoveryKey, membershipKey, RoomActor, RoomReplica, type CreatedRoom } from '../../src/room/index.ts'
import { attachSync } from '../../src/net/sync.ts'
import { RelayClient, type RelayError, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { RelaySocket } from '../../src/net/relay-socket.ts'
import { decodeClientMessage, discoveryHex, type RelayMessage } from '../../src/net/relay-protocol.ts'
import { loopbackSdp } from '../../src/net/peer.ts'
import { detectTones, hasTone } from '../../src/audio/goertzel.ts'
import { SAMPLE_RATE } from '../../src/audio/tone.ts'
import { waitFor } from '../helpers/wait.ts'

const WS = WebSocket as unknown as RelayWebSocketClass
const TONE = 440
const WINDOW = SAMPLE_RATE / 2

interface Media {
  id: string
  relay: RelayClient
  closed: RelayError | null | undefined
  hearsTone(): boolean
}

/** A member's media connection (RelayClient) with its room sync; what it hears is kept. */
async function media(url: string, room: CreatedRoom, identity: Identity, doc: Y.Doc, cleanup: Array<() => unknown>): Promise<Media> {
  const secret = membershipKey(fromBase64url(room.secret)!)
  const relay = new RelayClient({ WebSocket: WS, wrtc, sdpFilter: loopbackSdp, member: () => secret })
  const heard = new Int16Array(WINDOW)
  const m: Media = {
    id: keyId(identity.publicKey),
    relay,
    closed: undefined,
    hearsTone: () => hasTone(detectTones(heard, SAMPLE_RATE, [TONE])[0]!, { minRatio: 0.3 }),
  }
  relay.on('close', (err) => (m.closed = err))
  relay.on('track', (_id, track) => {
    cleanup.push(
      attachSink(wrtc, track, (frame) => {
        heard.copyWithin(0, frame.length)
        heard.set(frame, WINDOW - frame.length)
      }),
    )
  })
  cleanup.push(() => relay.destroy())
  await relay.connect(url, room.roomId, identity)
  attachSync(doc, null, relay.link, { acceptUpdate: (u) => checkRemoteUpdate(u).ok })
  return m
}

interface SyncOnly {
  socket: RelaySocket
  doc: Y.Doc
  replica: RoomReplica
  messages: RelayMessage[]
  closed: RelayError | null | undefined
}

/** A sync-only connection of `identity` (as RelaySync opens it for `stoop mod`). */
async function syncOnly(url: string, room: CreatedRoom, identity: Identity, cleanup: Array<() => unknown>): Promise<SyncOnly> {
  const secret = membershipKey(fromBase64url(room.secret)!)
  const socket = new RelaySocket({ WebSocket: WS })
  const doc = new Y.Doc()
  const replica = new RoomReplica(doc, { roomId: room.roomId })
  const s: SyncOnly = { socket, doc, replica, messages: [], closed: undefined }
  socket.on('message', (msg) => s.messages.push(msg))
  socket.on('close', (err) => (s.closed = err))
  cleanup.push(() => socket.destroy(), () => replica.destroy())
  await socket.connect(url, deriveDiscoveryKey(room.roomId), identity, { syncOnly: true, member: () => secret })
  attachSync(doc, null, socket.link, { acceptUpdate: (u) => checkRemoteUpdate(u).ok })
  return s
}

describe('a sync-only connection beside the same key\'s media connection', () => {
  const cleanup: Array<() => unknown> = []
  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })

  it('hello syncOnly decodes; with cascade or another value it is refused', () => {
    const dk = 'ab'.repeat(32)
    const key = 'A'.repeat(43)
    expect(decodeClientMessage(JSON.stringify({ type: 'hello', v: 1, room: dk, key, syncOnly: true }))).toEqual({ type: 'hello', v: 1, room: dk, key, syncOnly: true })
    expect(decodeClientMessage(JSON.stringify({ type: 'hello', v: 1, room: dk, key, syncOnly: 1 }))).toEqual({ error: 'bad-field' })
    expect(decodeClientMessage(JSON.stringify({ type: 'hello', v: 1, room: dk, key, syncOnly: true, cascade: true }))).toEqual({ error: 'bad-field' })
  })

  it('syncs and moderates without cutting the member off; it gets no media; a newer one replaces it, not the member', async () => {
    const relay = await startRelay({
      port: 0,
      host: '127.0.0.1',
      log: silentLogger,
      rooms: { peerConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }, sdpFilter: loopbackSdp },
    })
    cleanup.push(() => relay.close())
    const url = `${relay.url.replace('http', 'ws')}/relay`
    const ownerId = await generateIdentity()
    const room = await createRoom(ownerId, { title: 'Sync only' })
    const dk = discoveryHex(deriveDiscoveryKey(room.roomId))

    // 1. The owner publishes the tone; a listener (and a member about to be banned) subscribe.
    const owner = await media(url, room, ownerId, room.doc, cleanup)
    const listener = await media(url, room, await generateIdentity(), new Y.Doc(), cleanup)
    const doomed = await media(url, room, await generateIdentity(), new Y.Doc(), cleanup)
    const tone = createToneSource(wrtc, { freq: TONE })
    cleanup.push(() => tone.stop())
    await waitFor('the relay holds the room', () => relay.rooms.room(dk)?.state?.exists === true)
    await owner.relay.publish(tone.track, tone.stream)
    await listener.relay.subscribe()
    await doomed.relay.subscribe()
    await waitFor('the listener hears the owner', () => listener.hearsTone(), 30_000)

    // 2. The owner's key again, sync only: the log comes, the owner's connection stays.
    const side = await syncOnly(url, room, ownerId, cleanup)
    await waitFor('the sync-only connection gets the log', () => side.replica.state.exists, 10_000)
    const onRelay = relay.rooms.room(dk)!
    expect(onRelay.peers.get(owner.id)).toBeDefined()
    expect(onRelay.publishers).toEqual([owner.id])
    await new Promise((r) => setTimeout(r, 1000))
    expect(owner.closed).toBeUndefined()
    expect(listener.hearsTone()).toBe(true)

    // 3. A ban written there lands at the relay, which cuts the banned key.
    await side.replica.whenSettled()
    await new RoomActor(side.replica, ownerId).ban(doomed.id)
    await waitFor('the relay cuts the banned key', () => doomed.closed !== undefined, 10_000)
    expect(doomed.closed).toMatchObject({ reason: 'banned' })

    // 4. No media on it, and asking does not touch the owner's.
    side.socket.send({ type: 'subscribe' })
    side.socket.send({ type: 'unpublish' })
    await waitFor('the subscribe is refused', () => side.messages.some((m) => m.type === 'refused' && m.op === 'subscribe'))
    expect(onRelay.publishers).toEqual([owner.id])
    expect(onRelay.forwarderStats?.subscribers).toBe(1)

    // 5. A second sync-only connection of the key replaces the first; the owner stays.
    const again = await syncOnly(url, room, ownerId, cleanup)
    await waitFor('the first sync-only connection is replaced', () => side.closed !== undefined)
    expect(side.closed).toMatchObject({ reason: 'replaced' })
    expect(again.closed).toBeUndefined()
    await new Promise((r) => setTimeout(r, 500))
    expect(owner.closed).toBeUndefined()
    expect(listener.closed).toBeUndefined()
    expect(listener.hearsTone()).toBe(true)
  }, 90_000)
})
