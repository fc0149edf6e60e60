/**
 * RoomClient with a pair the mesh cannot connect (pair-route.ts): a mesh room (well under
 * mesh size) whose owner, on stage, is present on the signalling bus but never answers on the
 * mesh (two symmetric NATs). After PAIR_RELAY_MS the client starts its relay path for that
 * pair, plays the owner from the relay once that copy has settled and never from the mesh,
 * reports the pair's route, and the room stays a mesh.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { generateIdentity, keyId } from '../../../src/identity/index.ts'
import { parseInvite } from '../../../src/invite/index.ts'
import { createRoomLinks } from '../../../src/cli/room-create.ts'
import { logOf, RoomActor, RoomReplica } from '../../../src/room/index.ts'
import { DEFAULT_LIMITS } from '../../../src/net/topology.ts'
import { PAIR_RELAY_MS } from '../../../src/participant/pair-route.ts'
import { RELAY_SETTLE_MS, type Via } from '../../../src/participant/route-switch.ts'
import { RoomClient } from '../../../src/participant/room-client.ts'
import type { RelayPathClient } from '../../../src/participant/relay-path.ts'
import type { RelayClientEvents, RelayWebSocketClass } from '../../../src/net/relay-client.ts'
import { createLinkPair } from '../../../src/net/link.ts'
import { TypedEmitter } from '../../../src/base/emitter.ts'
import { FakePC, fakeWrtc, MemoryHub } from '../net/mesh-fakes.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r))
}

/** A relay that serves nothing of this room yet (the room is a mesh) and forwards `speakers` once subscribed. */
class QuietRelayClient extends TypedEmitter<RelayClientEvents> implements RelayPathClient {
  roomOnRelay = false
  subscribed = false
  readonly link = createLinkPair({ deliver: 'sync' })[0]
  constructor(readonly speakers: string[]) {
    super()
  }
  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {
    this.subscribed = true
    setImmediate(() => {
      for (const id of this.speakers) this.emit('track', id, { id: `t-${id}`, kind: 'audio' } as unknown as MediaStreamTrack, null)
    })
  }
  async publish(): Promise<void> {}
  unpublish(): void {}
  destroy(): void {
    this.emit('close', null)
    this.removeAllListeners()
  }
}

const clients: RoomClient[] = []
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy()
  FakePC.instances.length = 0
})

async function meshRoom() {
  const owner = await generateIdentity()
  const ownerId = keyId(owner.publicKey)
  const links = await createRoomLinks(owner, { title: 'Two NATs', topic: '', origin: 'http://localhost' })
  const parsed = parseInvite(links.listener, Date.now())
  if (!parsed.ok) throw new Error(parsed.message)
  const doc = new Y.Doc()
  logOf(doc).push([parsed.invite.genesis!])
  const replica = new RoomReplica(doc, { roomId: parsed.invite.roomId })
  const actor = new RoomActor(replica, owner)
  await replica.whenSettled()
  await actor.inviteToStage(ownerId)
  await actor.acceptInvite()
  await replica.whenSettled()
  replica.destroy()
  const hub = new MemoryHub()
  hub.join(ownerId) // present on the bus, silent on the mesh
  const clock = fakeTimers(Date.now())
  const identity = await generateIdentity()
  const made: QuietRelayClient[] = []
  const client = new RoomClient({
    invite: parsed.invite,
    identity,
    bus: hub.join(keyId(identity.publicKey)),
    wrtc: fakeWrtc,
    doc,
    now: clock.now,
    limits: DEFAULT_LIMITS,
    mesh: { peer: { connectTimeoutMs: 0, opus: false }, timers: clock.timers },
    relay: {
      url: 'wss://relay.test/relay',
      WebSocket: class {} as unknown as RelayWebSocketClass,
      createClient: () => {
        const c = new QuietRelayClient([ownerId])
        made.push(c)
        return c
      },
    },
  })
  clients.push(client)
  const pairRoutes: Array<[string, Via]> = []
  client.on('pair-route', (peer, via) => pairRoutes.push([peer, via]))
  return { client, ownerId, clock, made, pairRoutes }
}

describe('RoomClient: a pair the mesh cannot connect', () => {
  it('is carried by the relay after PAIR_RELAY_MS; only that voice plays from the relay; the room stays a mesh', async () => {
    const { client, ownerId, clock, made, pairRoutes } = await meshRoom()
    await flush() // the relay answered no: a mesh room
    expect(client.plan).toMatchObject({ mode: 'mesh', connect: [ownerId] })
    clock.advance(PAIR_RELAY_MS - 1)
    await flush()
    expect([client.relay?.state, client.relayedPeers, pairRoutes]).toEqual(['idle', [], []])
    clock.advance(1)
    await flush()
    expect(client.relayedPeers).toEqual([ownerId])
    expect(pairRoutes).toEqual([[ownerId, 'relay']])
    expect(client.relay?.state).toBe('ready')
    expect(made.at(-1)?.subscribed).toBe(true)
    expect(client.plan.mode).toBe('mesh')
    expect(client.via).toBe('mesh')
    // The relay's copy plays once settled (a mesh copy could still be on its way meanwhile).
    expect([client.mayPlay(ownerId, 'relay'), client.mayPlay(ownerId, 'mesh')]).toEqual([false, true])
    clock.advance(RELAY_SETTLE_MS)
    await flush()
    expect([client.mayPlay(ownerId, 'relay'), client.mayPlay(ownerId, 'mesh')]).toEqual([true, false])
  })

  it('without a relay nothing is relayed', async () => {
    const { client, clock } = await meshRoom()
    const bare = new RoomClient({ ...client.opts, relay: undefined, doc: new Y.Doc() })
    clients.push(bare)
    clock.advance(2 * PAIR_RELAY_MS)
    await flush()
    expect(bare.relayedPeers).toEqual([])
  })
})
