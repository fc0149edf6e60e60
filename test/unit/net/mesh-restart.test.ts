/**
 * Mesh.restartIce (a network switch, src/participant/network-switch.ts): live connections
 * restart ICE in place (a new offer/answer on the same RTCPeerConnection, the data channel and
 * the room sync kept); a connection not up yet is made again at once.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import * as Y from 'yjs'
import { generateIdentity, keyId } from '../../../src/identity/index.ts'
import { Mesh } from '../../../src/net/mesh.ts'
import { FakePC, fakeWrtc, MemoryHub, settle } from './mesh-fakes.ts'

const meshes: Mesh[] = []
afterEach(() => {
  for (const m of meshes.splice(0)) m.destroy()
  FakePC.instances.length = 0
})

async function member(hub: MemoryHub, doc = new Y.Doc()) {
  const identity = await generateIdentity()
  const id = keyId(identity.publicKey)
  const mesh = new Mesh({ bus: hub.join(id), wrtc: fakeWrtc, identity, doc, awareness: null, acceptUpdate: () => true, peer: { connectTimeoutMs: 0, opus: false } })
  meshes.push(mesh)
  return { id, mesh, doc }
}

describe('Mesh.restartIce', () => {
  it('renegotiates every live connection in place; the data channel and the sync go on', async () => {
    const hub = new MemoryHub()
    const a = await member(hub)
    const b = await member(hub)
    a.mesh.apply({ connect: [b.id], sendAudioTo: [] })
    b.mesh.apply({ connect: [a.id], sendAudioTo: [] })
    await vi.waitFor(() => expect([a.mesh.connected, b.mesh.connected]).toEqual([[b.id], [a.id]]), { timeout: 5000 })
    const pcs = [...FakePC.instances]
    const offersBefore = pcs.map((pc) => pc.applied.filter((t) => t === 'offer').length)
    const dropped: string[] = []
    a.mesh.on('peer-disconnected', (id) => dropped.push(id))
    a.mesh.restartIce()
    await settle()
    const offersAfter = pcs.map((pc) => pc.applied.filter((t) => t === 'offer').length)
    expect(offersAfter.reduce((x, y) => x + y)).toBe(offersBefore.reduce((x, y) => x + y) + 1)
    expect(FakePC.instances).toHaveLength(pcs.length)
    expect(dropped).toEqual([])
    a.doc.getMap('m').set('after', 'switch')
    await vi.waitFor(() => expect(b.doc.getMap('m').get('after')).toBe('switch'), { timeout: 5000 })
  })

  it('a connection not up yet is made again now, and a pending retry runs now', async () => {
    const hub = new MemoryHub()
    const a = await member(hub)
    const silent = await member(hub) // present on the bus, never answers (its mesh plans nobody)
    a.mesh.apply({ connect: [silent.id], sendAudioTo: [] })
    await settle()
    const before = FakePC.instances.length
    const reasons: Array<string | null> = []
    a.mesh.on('peer-disconnected', (_id, reason) => reasons.push(reason))
    a.mesh.restartIce()
    expect(reasons).toEqual(['network-changed'])
    expect(FakePC.instances.length).toBe(before + 1)
  })
})
