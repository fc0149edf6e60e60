/**
 * A ban must reach the banned participant before the moderator's client drops
 * its connection: in a room of just the two, nobody else would ever tell it.
 * Two real RoomClients over the in-memory bus and scripted connections
 * (../net/mesh-fakes.ts), whose data channels carry the Yjs sync.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { generateIdentity, keyId, type Identity } from '../../../src/identity/index.ts'
import { parseInvite } from '../../../src/invite/index.ts'
import { createRoomLinks } from '../../../src/cli/room-create.ts'
import { RoomClient } from '../../../src/participant/room-client.ts'
import { FakePC, fakeWrtc, MemoryHub } from '../net/mesh-fakes.ts'
import { fakeTimers, type FakeTimers } from '../../helpers/fake-timers.ts'

const clients: RoomClient[] = []

afterEach(() => {
  for (const c of clients.splice(0)) c.destroy()
  FakePC.instances.length = 0
  FakePC.latencyMs = 0
})

async function participant(hub: MemoryHub, link: string, identity: Identity, clock: FakeTimers): Promise<RoomClient> {
  const parsed = parseInvite(link, Date.now())
  if (!parsed.ok) throw new Error(parsed.message)
  const client = new RoomClient({
    invite: parsed.invite,
    identity,
    bus: hub.join(keyId(identity.publicKey)),
    wrtc: fakeWrtc,
    mesh: { peer: { connectTimeoutMs: 0, opus: false }, timers: clock.timers },
  })
  clients.push(client)
  await client.join()
  return client
}

describe('RoomClient: banning the only other member of a room', () => {
  it('the ban reaches the banned member before its connection is dropped', async () => {
    const clock = fakeTimers()
    FakePC.latencyMs = 20 // a message still in flight when the sender closes is lost
    const owner = await generateIdentity()
    const links = await createRoomLinks(owner, { title: 'Two of us', topic: '', origin: 'http://localhost' })
    const hub = new MemoryHub()
    const mod = await participant(hub, links.moderator, owner, clock)
    const banned = await participant(hub, links.listener, await generateIdentity(), clock)
    const bannedId = banned.selfId
    await vi.waitFor(() => expect([mod.mesh.connected, banned.mesh.connected]).toEqual([[bannedId], [mod.selfId]]), { timeout: 5000 })
    // The connection carries the room's sync: the moderator's presence reaches the member.
    mod.setPresence({ name: 'Mod' })
    await vi.waitFor(() => expect(banned.presence.peers.get(mod.awareness.clientID)?.presence).toMatchObject({ name: 'Mod' }), { timeout: 2000 })

    await mod.actor.ban(bannedId)
    await vi.waitFor(() => expect(mod.state.banned.has(bannedId)).toBe(true), { timeout: 2000 })
    // The moderator's side neither sends it audio nor plays its audio from the moment it is banned.
    expect(mod.plan.sendAudioTo).not.toContain(bannedId)
    expect(mod.mayPlay(bannedId)).toBe(false)

    await vi.waitFor(() => expect(banned.state.banned.has(bannedId), 'the banned replica learnt of its ban').toBe(true), { timeout: 2000 })
    expect(banned.actor.role).toBe('banned')

    // ... and then nobody serves it any more.
    clock.advance(2_000)
    await vi.waitFor(() => expect(mod.mesh.connected).toEqual([]), { timeout: 2000 })
  })
})
