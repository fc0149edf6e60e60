/**
 * A relay cannot read the room's free text or presence (issue 11, "Room content
 * the relay cannot read"; docs/room-rules.md §9), as its operator would look: a
 * real relay on 127.0.0.1 with `--data` in a temporary folder, and headless
 * peers (the real RoomClient) with display names in a titled room that runs on
 * that relay. Then grep what the relay holds: the room doc in memory, the
 * presence it forwards, the state it computed, and every file under `--data`
 * after it flushed. None of them holds the title, the topic or a name; the
 * listeners behind the relay still see all of them.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { encodeAwarenessUpdate } from 'y-protocols/awareness'
import { afterAll, describe, expect, it } from 'vitest'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { generateIdentity } from '../../src/identity/index.ts'
import { deriveDiscoveryKey, logOf } from '../../src/room/index.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'
import { listeningPeer, type Listening } from './helpers/room-peers.ts'
import { waitFor } from '../helpers/wait.ts'

const TITLE = 'Zanzibar Porch Sessions'
const TOPIC = 'Quillfeather streetlight petition'
const NAMES = { M: 'Marguerite Okonkwo-Lindqvist', L1: 'Thaddeus Brightwater', L2: 'Philippa Ravensdale' } as const
const limits = { meshSize: 2, hysteresis: 1, hardCap: 60 }

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await filesUnder(p)))
    else out.push(p)
  }
  return out
}

/** The plain texts found in `bytes`, whole or as any 10-character piece. */
function leaks(bytes: Buffer, texts: readonly string[]): string[] {
  const found: string[] = []
  for (const t of texts) {
    for (let i = 0; i + 10 <= t.length; i++) {
      if (bytes.includes(Buffer.from(t.slice(i, i + 10), 'utf8'))) {
        found.push(t)
        break
      }
    }
  }
  return found
}

describe('a relay cannot read the room', () => {
  const peers: Listening[] = []
  let relay: Relay | null = null
  let dir = ''
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.stop()))
    await relay?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('after a titled room with named members ran through it, neither its data nor its memory holds the title or a name', async () => {
    dir = await mkdtemp(join(tmpdir(), 'stoop-sealed-'))
    relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, data: dir })
    const links = await createRoomLinks(await generateIdentity(), { title: TITLE, topic: TOPIC, origin: relay.url })
    const relayUrl = relay.url.replace(/^http/, 'ws') + '/relay'
    const dk = discoveryHex(deriveDiscoveryKey(links.roomId))
    const start = (name: keyof typeof NAMES, link: string, tone?: number) =>
      listeningPeer(name, { link, relay: [relayUrl], limits, name: NAMES[name], ...(tone ? { speak: { kind: 'tone' as const, freq: tone } } : {}) })
    const m = await start('M', links.moderator!, 440)
    peers.push(m)
    const l1 = await start('L1', links.listener)
    peers.push(l1)
    const l2 = await start('L2', links.listener)
    peers.push(l2)

    // The room runs on the relay: its log (with every name) and everyone's presence pass through it.
    const room = () => relay!.rooms.room(dk)
    await waitFor('the relay holds the room with three profiles', () => (room()?.state?.profiles.size ?? 0) === 3, 60_000)
    await waitFor('the relay forwards three presences', () => (room()?.awareness.getStates().size ?? 0) >= 3, 30_000)
    await waitFor('the listeners hear the moderator through the relay', () => l1.hears(440) && l2.hears(440), 60_000)
    expect(l1.client.via).toBe('relay')

    // The listeners behind the relay see the title, the topic and every name (signed profiles and presence).
    for (const l of [l1, l2]) {
      await waitFor(`${l.name} reads the room`, () => {
        const s = l.client.state
        return s.title === TITLE && s.topic === TOPIC && [m, l1, l2].every((p) => s.profiles.get(p.id)?.name === NAMES[p.name as keyof typeof NAMES])
      }, 20_000)
      await waitFor(`${l.name} reads the others' presence`, () => {
        const named = new Map([...l.client.presence.peers.values()].map((p) => [p.key, p.presence.name]))
        return [m, l1, l2].filter((p) => p !== l).every((p) => named.get(p.id) === NAMES[p.name as keyof typeof NAMES])
      }, 20_000)
    }

    // What the relay holds in memory: the doc, the presence it forwards, the state it computed.
    const r = room()!
    const texts = [TITLE, TOPIC, ...Object.values(NAMES)]
    const memory = Buffer.concat([
      Y.encodeStateAsUpdate(r.doc),
      ...logOf(r.doc).toArray(),
      encodeAwarenessUpdate(r.awareness, [...r.awareness.getStates().keys()]),
      Buffer.from(JSON.stringify([...r.awareness.getStates().values()])),
    ])
    expect(leaks(memory, texts)).toEqual([])
    expect(r.state!.title).toBe('')
    expect([...r.state!.profiles.values()].map((p) => p.name)).toEqual(['', '', ''])

    // What it stores: every file under --data, once it has flushed (on close).
    await Promise.all(peers.splice(0).map((p) => p.stop()))
    await relay.close()
    relay = null
    const files = await filesUnder(dir)
    expect(files.length).toBeGreaterThan(0)
    const stored = Buffer.concat(await Promise.all(files.map((f) => readFile(f))))
    expect(stored.length).toBeGreaterThan(1000) // the whole room log is there
    expect(leaks(stored, texts)).toEqual([])
  }, 150_000)
})
