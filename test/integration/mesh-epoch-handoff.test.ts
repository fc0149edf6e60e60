/**
 * The epoch handoff in a room that never used a relay (docs/room-rules.md §8), with real
 * signalling on 127.0.0.1 (the relay's /signal only: nothing of the room goes through a relay).
 * Each participant runs what a client runs for its signalling: a SignalClient, WsBuses sealed
 * with the epoch's key in a SwitchBus, its EpochKeeper and `followEpochs`.
 *
 *   1. owner and Alice are in the room; Bob (his key announced) and Mallory are members too
 *   2. Bob goes away; the owner bans Mallory: the room rotates, owner and Alice move to the
 *      new epoch's topic and keep answering on the old one
 *   3. Bob comes back with his old log and link: he is handed the new epoch on the old topic,
 *      opens his box and moves to the new topic
 *   4. Mallory comes back with the old link (a fresh session of her key), and a stranger with the
 *      old link: both are told the link was replaced, get no content, and never reach the new topic
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import { afterAll, describe, expect, it } from 'vitest'
import { startRelay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { fromBase64url, generateIdentity, keyId, toBase64url, type Identity } from '../../src/identity/index.ts'
import { createRoom, decodeEntry, deriveDiscoveryKey, linkSeed, logOf, RoomActor, RoomReplica } from '../../src/room/index.ts'
import { SignalClient, type WebSocketClass } from '../../src/net/signal-client.ts'
import { WsBus } from '../../src/net/ws-bus.ts'
import { SwitchBus } from '../../src/net/switch-bus.ts'
import { deriveSignalKey } from '../../src/net/room-crypto.ts'
import type { BusMessage } from '../../src/net/bus.ts'
import { EpochKeeper } from '../../src/participant/epoch-keeper.ts'
import { followEpochs, type OpenBus } from '../../src/participant/epoch-bus.ts'
import { waitFor } from '../helpers/wait.ts'

describe('the epoch handoff over signalling (mesh-only room)', () => {
  const cleanup: Array<() => unknown> = []
  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })

  it('an old link is handed the new epoch when it holds a box, and told "replaced" when not', async () => {
    const relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
    cleanup.push(() => relay.close())
    const signalUrl = `${relay.url.replace('http', 'ws')}/signal`
    const [ownerId, aliceId, bobId, malloryId] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()])
    const room = await createRoom(ownerId, { title: 'Mesh only' })
    const linkSecret = fromBase64url(room.secret)!
    const shared = new RoomReplica(room.doc, { roomId: room.roomId })
    await shared.ready()
    // What the old link carries: the genesis and its seed (epoch 0, the owner's key).
    const linkEntries = [shared.get(room.genesisId)!.bytes, ...linkSeed(shared.index, shared.state)]
    // 1. Bob and Mallory announced their keys: the rotation seals to Bob, and excludes Mallory.
    await new RoomActor(shared, bobId).announceKey()
    await new RoomActor(shared, malloryId).announceKey()
    const bobDoc = new Y.Doc()
    Y.applyUpdate(bobDoc, Y.encodeStateAsUpdate(room.doc))

    const join = async (identity: Identity, doc: Y.Doc) => {
      const p = await participant(signalUrl, room.roomId, identity, doc, linkSecret)
      cleanup.push(() => p.stop())
      return p
    }
    const owner = await join(ownerId, room.doc)
    const alice = await join(aliceId, room.doc)
    await waitFor('owner and Alice meet on the topic', () => owner.bus.peers.has(alice.id) && alice.bus.peers.has(owner.id), 10_000)

    // 2. The ban: the owner's keeper rotates at once, both move.
    await owner.actor.ban(keyId(malloryId.publicKey))
    await waitFor('owner and Alice in epoch 1', () => owner.keeper.current.n === 1 && alice.keeper.current.n === 1, 10_000)
    await waitFor('owner and Alice meet on the new topic', () => owner.bus.peers.has(alice.id) && alice.bus.peers.has(owner.id), 10_000)

    // 3. Bob, back with his old log (epoch 0) and link.
    const bobBack = Date.now()
    const bob = await join(bobId, bobDoc)
    await waitFor('Bob opens his box', () => bob.keeper.current.n === 1, 10_000)
    await waitFor('Bob meets the others on the new topic', () => bob.bus.peers.has(owner.id) && bob.bus.peers.has(alice.id), 10_000)
    const bobMs = Date.now() - bobBack
    expect(bob.keeper.current.secret).toEqual(owner.keeper.current.secret)
    expect(bob.replaced).toBe(false)
    // His log still shows epoch 0 (no mesh here brings him the new one): writing to it does not take him back.
    await bob.actor.setProfile({ name: 'Bob' })
    await new Promise((r) => setTimeout(r, 300))
    expect(bob.replica.state.epochs.current?.n).toBe(0)
    expect(bob.keeper.current.n).toBe(1)
    expect(bob.bus.peers.has(owner.id)).toBe(true)

    // 4. Mallory (her key, a fresh session from the old link) and a stranger with the old link.
    const seeded = (): Y.Doc => {
      const doc = new Y.Doc()
      logOf(doc).push(linkEntries)
      return doc
    }
    const malloryBack = Date.now()
    const mallory = await join(malloryId, seeded())
    const stranger = await join(await generateIdentity(), seeded())
    await waitFor('Mallory is told the link was replaced', () => mallory.replaced, 10_000)
    const malloryMs = Date.now() - malloryBack
    await waitFor('the stranger is told the link was replaced', () => stranger.replaced, 10_000)
    for (const p of [mallory, stranger]) {
      expect(p.keeper.current.n).toBeLessThanOrEqual(0)
      expect(p.keeper.current.secret).toEqual(linkSecret)
      // No content: the handoff fed the keeper, not the log (which holds the link's entries and
      // its own key announcement), and nothing else came over the bus.
      const own = logOf(p.doc).toArray().slice(linkEntries.length).map((b) => decodeEntry(b)!)
      expect(own.map((e) => [e.kind, e.author])).toEqual(own.map(() => ['key', p.id]))
      expect(p.messages).toEqual([])
      expect(p.handoffKinds().every((k) => ['genesis', 'transfer', 'grant', 'revoke', 'ban', 'unban', 'epoch', 'seal', 'redeem'].includes(k))).toBe(true)
    }
    // ... and they never reach the members' new topic.
    expect(owner.bus.peers.has(mallory.id) || alice.bus.peers.has(stranger.id)).toBe(false)
    console.log(`old link to new epoch (Bob, a box): ${bobMs} ms; to "replaced" (Mallory): ${malloryMs} ms`)
  }, 60_000)
})

async function participant(signalUrl: string, roomId: string, identity: Identity, doc: Y.Doc, linkSecret: Uint8Array) {
  const replica = new RoomReplica(doc, { roomId })
  await replica.ready()
  const actor: RoomActor = new RoomActor(replica, identity, { texts: { current: () => keeper.sealingKey(), secret: (n) => keeper.secretOf(n) } })
  const keeper: EpochKeeper = new EpochKeeper({ replica, actor, linkSecret, dutyDelayMs: 200, replacedGraceMs: 1000 })
  const id = keyId(identity.publicKey)
  const client = new SignalClient({ url: signalUrl, WebSocket: WebSocket as unknown as WebSocketClass })
  const open: OpenBus = (topic, key) => new WsBus({ client, topic: toBase64url(topic), key, selfId: id })
  const bus = new SwitchBus(open(deriveDiscoveryKey(roomId), await deriveSignalKey(linkSecret)))
  const messages: BusMessage[] = []
  bus.on('message', (_from, msg) => messages.push(msg))
  // What the handoffs carried (read off the wire before followEpochs takes them).
  const handoffs: string[] = []
  bus.intercept((_from, msg) => (typeof msg === 'string' && msg.startsWith('{"t":"stoop/handoff/') && handoffs.push(msg), false))
  let replaced = false
  keeper.on('replaced', () => (replaced = true))
  const errors: Error[] = []
  const off = followEpochs(keeper, bus, roomId, open, (err) => errors.push(err))
  return {
    id,
    doc,
    replica,
    actor,
    keeper,
    bus,
    messages,
    errors,
    get replaced() {
      return replaced
    },
    handoffKinds: () => handoffs.flatMap((h) => (JSON.parse(h) as { e: string[] }).e.map((b) => decodeEntry(fromBase64url(b)!)!.kind)),
    async stop() {
      off()
      keeper.destroy()
      await bus.destroy()
      client.destroy()
      replica.destroy()
    },
  }
}
