/**
 * Joining straight into the room's mode: a joiner asks its relay first, builds no mesh while
 * it waits, and told that the room is on the relay goes there at once, playing the relay's
 * tracks at once (no mesh copy to hand over from). The rules in three layers: the topology
 * (planTopology's `roomMode`), the switch (`straight`), JoinMode's timers, and a RoomClient
 * put together with a scripted relay and a room whose other members, on the relay, never
 * answer on the mesh.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { generateIdentity, keyId } from '../../../src/identity/index.ts'
import { parseInvite } from '../../../src/invite/index.ts'
import { createRoomLinks } from '../../../src/cli/room-create.ts'
import { logOf, RoomActor, RoomReplica } from '../../../src/room/index.ts'
import { DEFAULT_LIMITS, planTopology, type TopologyInput, type TopologyPlan } from '../../../src/net/topology.ts'
import { INITIAL_SWITCH, switchRoute, type RelayView, type SwitchInput } from '../../../src/participant/route-switch.ts'
import { ASK_RELAY_MS, JoinMode, ROOM_MODE_HOLD_MS } from '../../../src/participant/join-mode.ts'
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

describe('planTopology: the room mode learnt at join', () => {
  const limits = { meshSize: 4, hysteresis: 1, hardCap: 6 }
  const input = (over: Partial<TopologyInput>): TopologyInput => ({
    self: 'a',
    present: ['a', 'b'],
    speakers: new Set(['b']),
    relayAvailable: true,
    current: 'mesh',
    joined: true,
    ...over,
  })

  it("'relay': the relay, however few are present so far", () => {
    expect(planTopology(input({ roomMode: 'relay' }), limits)).toEqual({ mode: 'relay', connect: [], sendAudioTo: [], playFrom: ['b'] })
  })

  it("'relay' but no relay to use: the presence decides, as without a hint", () => {
    expect(planTopology(input({ roomMode: 'relay', relayAvailable: false }), limits)).toEqual(planTopology(input({ relayAvailable: false }), limits))
  })

  it("'asking': a mesh plan that connects to nobody yet", () => {
    expect(planTopology(input({ roomMode: 'asking' }), limits)).toEqual({ mode: 'mesh', connect: [], sendAudioTo: [], playFrom: ['b'] })
  })

  it("'asking' past mesh size: the relay, as without a hint", () => {
    expect(planTopology(input({ roomMode: 'asking', present: ['a', 'b', 'c', 'd', 'e'] }), limits).mode).toBe('relay')
  })
})

describe('switchRoute: straight to the relay', () => {
  const relayPlan = { mode: 'relay' as const, connect: [], playFrom: ['b'] }
  const step = (relay: Partial<RelayView>, over: Partial<SwitchInput> = {}) =>
    switchRoute({
      plan: relayPlan,
      relay: { state: 'ready', sending: false, resumed: false, failingOver: false, ...relay },
      relayTracks: [],
      meshTracks: [],
      meshConnected: [],
      speaking: false,
      hasLocal: false,
      straight: true,
      now: 1000,
      prev: INITIAL_SWITCH,
      ...over,
    })

  it('while the relay connects: no mesh of the whole room (the plan, which connects to nobody)', () => {
    expect(step({ state: 'connecting' })).toMatchObject({ mesh: 'plan', relay: 'start', via: 'mesh' })
  })

  it('ready: played from at once, before any track has settled', () => {
    expect(step({})).toMatchObject({ mesh: 'plan', relay: 'start', via: 'relay' })
  })

  it('not straight (a mesh to hand over from): the room-wide mesh is kept meanwhile', () => {
    expect(step({}, { straight: false })).toMatchObject({ mesh: 'fallback', via: 'mesh' })
  })
})

/** A relay path's `ask`/`answer` as JoinMode sees it. */
class AskedRelay extends TypedEmitter<{ answer: (yes: boolean) => void }> {
  asked = 0
  constructor(readonly available = true) {
    super()
  }
  ask(): void {
    this.asked++
  }
  answer(yes: boolean): void {
    this.emit('answer', yes)
  }
}

describe('JoinMode', () => {
  const setup = (available = true) => {
    const clock = fakeTimers()
    const relay = new AskedRelay(available)
    let changes = 0
    const mode = new JoinMode(relay, clock.timers, () => changes++)
    return { clock, relay, mode, changes: () => changes }
  }

  it('asks the relay at once and is asking until it answers', () => {
    const { relay, mode, changes } = setup()
    expect([relay.asked, mode.roomMode, changes()]).toEqual([1, 'asking', 0])
  })

  it('a yes holds the relay for ROOM_MODE_HOLD_MS, then the presence decides again', () => {
    const { clock, relay, mode, changes } = setup()
    relay.answer(true)
    expect([mode.roomMode, changes()]).toEqual(['relay', 1])
    clock.advance(ROOM_MODE_HOLD_MS - 1)
    expect(mode.roomMode).toBe('relay')
    clock.advance(1)
    expect([mode.roomMode, changes(), clock.pending()]).toEqual([null, 2, 0])
  })

  it('a no: nothing known, at once', () => {
    const { clock, relay, mode, changes } = setup()
    relay.answer(false)
    expect([mode.roomMode, changes(), clock.pending()]).toEqual([null, 1, 0])
  })

  it('no answer within ASK_RELAY_MS: the presence decides; a late yes still counts, a late no changes nothing', () => {
    const { clock, relay, mode, changes } = setup()
    clock.advance(ASK_RELAY_MS)
    expect([mode.roomMode, changes()]).toEqual([null, 1])
    relay.answer(false)
    expect(changes()).toBe(1)
    relay.answer(true)
    expect([mode.roomMode, changes()]).toEqual(['relay', 2])
  })

  it('no relay to ask: nothing asked, nothing known', () => {
    const { relay, mode } = setup(false)
    expect([relay.asked, mode.roomMode]).toEqual([0, null])
  })

  it('destroy() clears its timer and ignores a later answer', () => {
    const { clock, relay, mode, changes } = setup()
    mode.destroy()
    relay.answer(true)
    expect([clock.pending(), changes(), mode.roomMode]).toEqual([0, 0, 'asking'])
  })
})

// ---- RoomClient ---------------------------------------------------------------------------

let trackCount = 0
const fakeTrack = (): MediaStreamTrack => ({ id: `track-${++trackCount}`, kind: 'audio' }) as unknown as MediaStreamTrack

/** The room's relay as one client sees it: does it serve the room, who it forwards. */
interface Relay {
  serving: boolean
  speakers: string[]
  /** Held: connect() waits for it (a slow relay). */
  gate: Promise<void>
  clients: number
}

class ScriptedRelayClient extends TypedEmitter<RelayClientEvents> implements RelayPathClient {
  roomOnRelay = false
  readonly link = createLinkPair({ deliver: 'sync' })[0]
  constructor(readonly relay: Relay) {
    super()
    relay.clients++
  }
  async connect(): Promise<void> {
    await this.relay.gate
    this.roomOnRelay = this.relay.serving
  }
  async subscribe(): Promise<void> {
    setImmediate(() => {
      for (const id of this.relay.speakers) this.emit('track', id, fakeTrack(), null)
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

/** A room whose owner is on stage, two members present on the signalling bus who (being on the relay) never answer on the mesh, and a joiner. */
async function relayRoom(relay: Partial<Relay>) {
  const owner = await generateIdentity()
  const ownerId = keyId(owner.publicKey)
  const links = await createRoomLinks(owner, { title: 'On its relay', topic: '', origin: 'http://localhost' })
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
  hub.join(ownerId)
  hub.join('other-member-on-the-relay-0000000000000000000')
  const world: Relay = { serving: false, speakers: [ownerId], gate: Promise.resolve(), clients: 0, ...relay }
  const clock = fakeTimers(Date.now())
  const identity = await generateIdentity()
  const client = new RoomClient({
    invite: parsed.invite,
    identity,
    bus: hub.join(keyId(identity.publicKey)),
    wrtc: fakeWrtc,
    doc,
    now: clock.now,
    limits: DEFAULT_LIMITS,
    mesh: { peer: { connectTimeoutMs: 0, opus: false }, timers: clock.timers },
    relay: { url: 'wss://relay.test/relay', WebSocket: class {} as unknown as RelayWebSocketClass, createClient: () => new ScriptedRelayClient(world) },
  })
  clients.push(client)
  const plans: TopologyPlan[] = [client.plan]
  client.on('plan', (p) => plans.push(p))
  return { client, ownerId, world, clock, plans, hub }
}

describe('RoomClient: joining a room that is on its relay', () => {
  it('the relay says so: relay plan from the start, no mesh ever, one relay connection, the voice played at once', async () => {
    const { client, ownerId, world, plans } = await relayRoom({ serving: true })
    await client.join()
    await flush()
    expect(plans[0]).toMatchObject({ mode: 'mesh', connect: [] }) // asking
    expect(new Set(plans.slice(1).map((p) => p.mode))).toEqual(new Set(['relay']))
    expect(plans.every((p) => p.connect.length === 0)).toBe(true)
    expect(FakePC.instances).toHaveLength(0)
    expect(world.clients).toBe(1)
    expect(client.via).toBe('relay')
    // The clock has not moved since the track came: it plays at once, not RELAY_SETTLE_MS later.
    expect([client.mayPlay(ownerId, 'relay'), client.mayPlay(ownerId, 'mesh')]).toEqual([true, false])
  })

  it('the relay says no: the mesh of who is present, built only once it answered', async () => {
    let open!: () => void
    const { client, plans } = await relayRoom({ serving: false, gate: new Promise<void>((ok) => (open = ok)) })
    await flush()
    expect(plans.at(-1)).toMatchObject({ mode: 'mesh', connect: [] })
    expect(FakePC.instances).toHaveLength(0)
    open()
    await flush()
    expect(plans.at(-1)).toMatchObject({ mode: 'mesh', connect: expect.arrayContaining([expect.any(String), expect.any(String)]) })
    expect(plans.at(-1)!.connect).toHaveLength(2)
    expect(client.relay?.state).toBe('idle')
  })

  it('a relay that does not answer in time: the mesh after ASK_RELAY_MS', async () => {
    const { clock, plans } = await relayRoom({ gate: new Promise<void>(() => {}) })
    await flush()
    clock.advance(ASK_RELAY_MS - 1)
    expect(plans.at(-1)!.connect).toHaveLength(0)
    clock.advance(1)
    expect(plans.at(-1)!.connect).toHaveLength(2)
  })

  it('entering relay mode before the mesh reached anyone: straight too (no room-wide mesh, voice at once)', async () => {
    let open!: () => void
    const { client, ownerId, clock, plans, hub } = await relayRoom({ gate: new Promise<void>((ok) => (open = ok)) })
    clock.advance(ASK_RELAY_MS) // nothing known: two present, a mesh of three planned
    expect(plans.at(-1)!.connect).toHaveLength(2)
    open() // a late no
    await flush()
    for (let i = 0; i < DEFAULT_LIMITS.meshSize; i++) hub.join(`late-member-${i}`.padEnd(43, '0'))
    await flush()
    expect(plans.at(-1)).toMatchObject({ mode: 'relay', connect: [] })
    expect(client.mesh.connected).toEqual([])
    expect(client.via).toBe('relay')
    // The clock has not moved since the track came: it plays at once, not RELAY_SETTLE_MS later.
    expect([client.mayPlay(ownerId, 'relay'), client.mayPlay(ownerId, 'mesh')]).toEqual([true, false])
  })
})
