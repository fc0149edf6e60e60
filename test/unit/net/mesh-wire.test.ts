/**
 * Mesh messages come off a bus that does not authenticate senders: any room member can put any
 * bytes there in any member's name. These run the hostile inputs `npm run fuzz` found (test/fuzz/).
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { generateIdentity, keyId } from '../../../src/identity/index.ts'
import { Mesh } from '../../../src/net/mesh.ts'
import { parseWire, verifyWire } from '../../../src/net/mesh-wire.ts'
import { fakeWrtc, MemoryHub } from './mesh-fakes.ts'

const meshes: Mesh[] = []
afterEach(() => {
  for (const m of meshes.splice(0)) m.destroy()
})

/** A signal nested deeper than JSON.stringify can recurse (about 5,000 levels; 12 KB of text). */
const deep = (depth: number): string => `{"k":"sig","n":1,"r":null,"sig":"${'A'.repeat(86)}","s":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}}`

describe('mesh wire: hostile messages', () => {
  it('a member cannot kill a peer with a deeply nested signal in another member\'s name', async () => {
    const hub = new MemoryHub()
    const [victim, friend] = await Promise.all([generateIdentity(), generateIdentity()])
    const victimId = keyId(victim.publicKey)
    const friendId = keyId(friend.publicKey)
    const mesh = new Mesh({ bus: hub.join(victimId), wrtc: fakeWrtc, identity: victim, doc: new Y.Doc(), awareness: null, acceptUpdate: () => true, peer: { connectTimeoutMs: 0, opus: false } })
    meshes.push(mesh)
    hub.join(friendId)
    mesh.apply({ connect: [friendId], sendAudioTo: [] })
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      hub.forge(friendId, victimId, deep(6000))
      await new Promise((r) => setTimeout(r, 50))
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
    expect(unhandled).toEqual([])
    expect(mesh.counters.malformed).toBe(1)
  })

  it('parseWire refuses deep nesting and verifyWire answers false rather than throwing', async () => {
    expect(parseWire(deep(6000))).toBeNull()
    const body = { k: 'sig' as const, n: 1, r: null, s: JSON.parse(`{"x":${'['.repeat(6000)}${']'.repeat(6000)}}`) as never }
    await expect(verifyWire(keyId((await generateIdentity()).publicKey), 'to', body, 'A'.repeat(86))).resolves.toBe(false)
  })
})
