/**
 * Mesh control messages speak only for their signer. Any member holds the room key, so it can
 * put any sender id on a bus message (ws-bus.ts takes `from` as written); what it cannot do is
 * sign with another member's identity key. These tests run the attacks on real Mesh instances
 * over an in-memory bus and a scripted RTCPeerConnection (mesh-fakes.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import * as Y from 'yjs'
import { generateIdentity, keyId, type Identity } from '../../../src/identity/index.ts'
import { Mesh } from '../../../src/net/mesh.ts'
import { FakePC, fakeWrtc, MemoryHub, settle } from './mesh-fakes.ts'

const meshes: Mesh[] = []

afterEach(() => {
  for (const m of meshes.splice(0)) m.destroy()
  FakePC.instances.length = 0
})

interface Member {
  id: string
  identity: Identity
  mesh: Mesh
}

async function member(hub: MemoryHub, identity?: Identity): Promise<Member> {
  identity ??= await generateIdentity()
  const id = keyId(identity.publicKey)
  const bus = hub.join(id)
  const mesh = new Mesh({ bus, wrtc: fakeWrtc, identity, doc: new Y.Doc(), awareness: null, acceptUpdate: () => true, peer: { connectTimeoutMs: 0, opus: false } })
  meshes.push(mesh)
  return { id, identity, mesh }
}

/** Everyone connects to everyone and waits until every data channel is open. */
async function fullMesh(...ms: Member[]): Promise<void> {
  for (const m of ms) m.mesh.apply({ connect: ms.filter((o) => o !== m).map((o) => o.id), sendAudioTo: [] })
  await vi.waitFor(() => expect(ms.map((m) => m.mesh.connected.length)).toEqual(ms.map(() => ms.length - 1)), { timeout: 5000 })
}

function disconnects(mesh: Mesh, names: Record<string, string>): string[] {
  const out: string[] = []
  mesh.on('peer-disconnected', (id, reason) => out.push(`${names[id] ?? id} ${reason}`))
  return out
}

/** The last mesh message `from` sent `to` whose kind is `k`, as it went over the bus. */
function captured(hub: MemoryHub, from: string, to: string, k: string): Record<string, unknown> {
  const sent = hub.log.filter((s) => s.from === from && s.to === to && typeof s.msg === 'string' && (JSON.parse(s.msg) as { k?: unknown }).k === k)
  const last = sent.at(-1)
  if (!last) throw new Error(`no ${k} from ${from} to ${to}`)
  return JSON.parse(last.msg as string) as Record<string, unknown>
}

const track = { id: 'mic', kind: 'audio' } as MediaStreamTrack
const stream = {} as MediaStream

describe('Mesh: control messages are bound to their sender', () => {
  it('a member cannot cut the link between two others with a "hi" in the name of one of them', async () => {
    const hub = new MemoryHub()
    const v = await member(hub)
    const r = await member(hub)
    await member(hub) // the attacker M: a member of the room on the same bus, it needs nothing else
    await fullMesh(v, r)
    const pcs = FakePC.instances.length
    const dropped = disconnects(r.mesh, { [v.id]: 'V' })

    // M publishes, as V, to R: "my connection is newer than anything you have".
    hub.forge(v.id, r.id, JSON.stringify({ k: 'hi', n: Number.MAX_SAFE_INTEGER, r: null }))
    await settle()

    expect(dropped, 'R dropped its connection to V').toEqual([])
    expect(r.mesh.connected).toEqual([v.id])
    expect(r.mesh.counters).toMatchObject({ badSignature: 1, replaced: 0, stale: 0 })
    expect(FakePC.instances.length, 'R made a new connection for V').toBe(pcs)

    // V's later messages still reach R's connection: V starts sending audio and renegotiates.
    v.mesh.setLocalAudio({ track, stream })
    v.mesh.apply({ connect: [r.id], sendAudioTo: [r.id] })
    await vi.waitFor(() => expect(FakePC.instances.map((pc) => pc.applied.length)).toEqual([2, 2]), { timeout: 3000 })
    expect(r.mesh.counters.stale, "V's messages to R were treated as stale").toBe(0)
    expect(dropped).toEqual([])
  })

  it("a member's own signature does not make a message in another's name", async () => {
    const hub = new MemoryHub()
    const v = await member(hub)
    const r = await member(hub)
    const m = await member(hub)
    await fullMesh(v, r, m)
    const dropped = disconnects(r.mesh, { [v.id]: 'V' })
    // M's own signed hi to R, re-addressed as V's: the signature is M's, the claimed sender V.
    const mine = captured(hub, m.id, r.id, 'hi')
    hub.forge(v.id, r.id, JSON.stringify({ ...mine, n: Number.MAX_SAFE_INTEGER }))
    hub.forge(v.id, r.id, JSON.stringify(mine))
    await settle()
    expect(r.mesh.counters).toMatchObject({ badSignature: 2, replaced: 0 })
    expect(dropped).toEqual([])
    expect(r.mesh.connected.sort()).toEqual([v.id, m.id].sort())
  })

  it("V's signed messages cannot be replayed to another peer or under another nonce", async () => {
    const hub = new MemoryHub()
    const v = await member(hub)
    const r = await member(hub)
    const w = await member(hub)
    await fullMesh(v, r, w)
    const names = { [v.id]: 'V', [r.id]: 'R', [w.id]: 'W' }
    const droppedR = disconnects(r.mesh, names)
    const droppedW = disconnects(w.mesh, names)
    const hi = captured(hub, v.id, r.id, 'hi')
    const sig = captured(hub, v.id, r.id, 'sig')

    // Read off the topic by a member, sent on to a peer it was not addressed to ...
    hub.forge(v.id, w.id, JSON.stringify(hi))
    hub.forge(v.id, w.id, JSON.stringify(sig))
    // ... or to its addressee with a higher nonce, or claiming another receiver connection.
    hub.forge(v.id, r.id, JSON.stringify({ ...hi, n: Number.MAX_SAFE_INTEGER }))
    hub.forge(v.id, r.id, JSON.stringify({ ...sig, n: Number.MAX_SAFE_INTEGER }))
    hub.forge(v.id, r.id, JSON.stringify({ ...hi, r: 1 }))
    await settle()

    expect(w.mesh.counters).toMatchObject({ badSignature: 2, replaced: 0 })
    expect(r.mesh.counters).toMatchObject({ badSignature: 3, replaced: 0 })
    expect([droppedR, droppedW]).toEqual([[], []])
    expect([r.mesh.connected.length, w.mesh.connected.length]).toEqual([2, 2])
  })

  it('unsigned or garbled signatures are dropped and counted, never thrown', async () => {
    const hub = new MemoryHub()
    const v = await member(hub)
    const r = await member(hub)
    await fullMesh(v, r)
    const sig = captured(hub, v.id, r.id, 'sig')
    const { sig: _drop, ...unsigned } = sig as { sig?: unknown }
    for (const body of [unsigned, { ...sig, sig: 'not base64!' }, { ...sig, sig: 'AAAA' }, { ...sig, sig: 42 }]) hub.forge(v.id, r.id, JSON.stringify(body))
    await settle()
    expect(r.mesh.counters).toMatchObject({ badSignature: 3, malformed: 1 })
    expect(r.mesh.connected).toEqual([v.id])
  })

  it('a restarted peer, signing its own newer connection, still replaces the old one', async () => {
    const hub = new MemoryHub()
    const v = await member(hub)
    const r = await member(hub)
    await fullMesh(v, r)
    const dropped = disconnects(r.mesh, { [v.id]: 'V' })
    v.mesh.destroy()
    await hub.buses.get(v.id)!.destroy()
    const v2 = await member(hub, v.identity)
    await fullMesh(v2, r)
    expect(dropped).toEqual(['V remote-replaced'])
    expect(r.mesh.counters).toMatchObject({ badSignature: 0, replaced: 1 })
  })
})
