/**
 * Losing one peer must not disturb the rest of the room, and a peer that comes
 * back (same key, new process) is reconnected and heard again. The speaker runs
 * as a separate `stoop peer` process that is killed with SIGKILL: no goodbye,
 * its connections just die. The room's other peers are @roamhq/wrtc in this process, so the
 * speaker is too (`--media wrtc`: E2EE off on both sides).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { generateIdentity } from '../../src/identity/index.ts'
import { createRoomLinks, type RoomLinks } from '../../src/cli/room-create.ts'
import { listeningPeer, type Listening } from './helpers/room-peers.ts'

const STOOP = join(import.meta.dirname, '../../src/cli/stoop.js')
const POLL = { timeout: 45_000, interval: 200 }
let relay: Relay
let links: RoomLinks
let dir: string
const peers: Listening[] = []
const children: ChildProcess[] = []

beforeAll(async () => {
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  links = await createRoomLinks(await generateIdentity(), { title: 'Recovery', topic: '', origin: relay.url })
  dir = await mkdtemp(join(tmpdir(), 'stoop-recovery-'))
})
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL')
  await Promise.all(peers.map((p) => p.stop()))
  await relay?.close()
})

function speakerProcess(): ChildProcess {
  const child = spawn(process.execPath, [STOOP, 'peer', links.speaker, '--speak', 'tone:660', '--key', join(dir, 's.key'), '--ice-loopback', '--media', 'wrtc'], { stdio: 'ignore' })
  children.push(child)
  return child
}

test('a killed speaker drops out without disturbing the room, and is heard again when it returns', async () => {
  const mod = await listeningPeer('M', { link: links.moderator, speak: { kind: 'tone', freq: 440 } })
  const listener = await listeningPeer('L', { link: links.listener })
  peers.push(mod, listener)
  let child = speakerProcess()
  await expect.poll(() => [listener.hears(440), listener.hears(660), mod.hears(660)], POLL).toEqual([true, true, true])

  child.kill('SIGKILL')
  await expect.poll(() => listener.ratio(660), POLL).toBeLessThan(0.02)
  // The rest of the room carries on: the listener still hears the moderator, continuously.
  const samples: boolean[] = []
  for (let i = 0; i < 10; i++) {
    samples.push(listener.hears(440))
    await new Promise((r) => setTimeout(r, 300))
  }
  expect(samples.every(Boolean)).toBe(true)

  child = speakerProcess()
  await expect.poll(() => [listener.hears(660), mod.hears(660), listener.hears(440)], POLL).toEqual([true, true, true])
  child.kill('SIGTERM')
}, 120_000)
