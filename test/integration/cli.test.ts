/**
 * The `stoop` command as a person runs it: real processes, real relay.
 * Bad input must end with a non-zero exit and one line saying why.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { generateIdentity } from '../../src/identity/index.ts'
import { createRoomLinks, type RoomLinks } from '../../src/cli/room-create.ts'
import { formatInvite, parseInvite } from '../../src/invite/index.ts'
import { createRoom, RoomActor, RoomReplica } from '../../src/room/index.ts'
import { decodeWav } from '../../src/audio/wav.ts'
import { detectTones } from '../../src/audio/goertzel.ts'

const STOOP = join(import.meta.dirname, '../../src/cli/stoop.js')
let relay: Relay
let links: RoomLinks
let dir: string

beforeAll(async () => {
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  links = await createRoomLinks(await generateIdentity(), { title: 'CLI test', topic: '', origin: relay.url })
  dir = await mkdtemp(join(tmpdir(), 'stoop-cli-'))
})
afterAll(() => relay?.close())

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function stoop(args: string[], timeoutMs = 60_000): Promise<Run> {
  return start(args, timeoutMs).result
}

function start(args: string[], timeoutMs = 60_000): { child: ChildProcess; result: Promise<Run> } {
  const child = spawn(process.execPath, [STOOP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const result = new Promise<Run>((done) => {
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      done({ code, stdout, stderr })
    })
  })
  return { child, result }
}

test('room create prints working links; a speaker peer and a recording peer: the recording holds the tone', async () => {
  const created = await stoop(['room', 'create', '--title', 'From the terminal', '--key', join(dir, 'owner.key'), '--origin', relay.url])
  expect(created.code).toBe(0)
  const [moderator, speakerLink, listener] = [...created.stdout.matchAll(/^ {2}(http\S+)$/gm)].map((m) => m[1]!)
  expect(parseInvite(moderator!, Date.now()).ok).toBe(true)
  expect(parseInvite(listener!, Date.now()).ok).toBe(true)

  const out = join(dir, 'out.wav')
  const speaker = start(['peer', speakerLink!, '--speak', 'tone:440', '--json', '--ice-loopback'])
  // --record keeps audio only while the room shows a recording: with the moderator link it announces one (issue 15).
  const recorder = await stoop(['peer', moderator!, '--record', out, '--duration', '8', '--json', '--ice-loopback'])
  expect(recorder.code, recorder.stderr).toBe(0)
  const events = recorder.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string })
  expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['joined', 'peer-connected', 'track', 'audio-level', 'stopped']))
  const wav = decodeWav(await readFile(out))
  const lastSecond = wav.samples.subarray(wav.samples.length - wav.sampleRate)
  const [a440, a1000] = detectTones(lastSecond, wav.sampleRate, [440, 1000])
  expect(a440!.ratio).toBeGreaterThan(0.8)
  expect(a1000!.ratio).toBeLessThan(0.02)
  // SIGTERM is a clean exit.
  speaker.child.kill('SIGTERM')
  const spoke = await speaker.result
  expect(spoke.code, spoke.stderr).toBe(0)
  expect(spoke.stdout).toMatch(/"event":"stopped"/)
}, 90_000)

test('a malformed link exits non-zero with one line naming the problem', async () => {
  const r = await stoop(['peer', 'http://localhost/#/r/abc?k=zzz'])
  expect(r.code).not.toBe(0)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr).toMatch(/^stoop: The room id "abc" is not valid/)
})

test('an expired speaker pass exits non-zero saying it expired', async () => {
  const owner = await generateIdentity()
  const room = await createRoom(owner, { title: 'Expiring' })
  const replica = new RoomReplica(room.doc, { roomId: room.roomId })
  const pass = await new RoomActor(replica, owner).createLinkGrant({ role: 'speaker', expiresAt: Date.now() - 60_000 })
  replica.destroy()
  const link = formatInvite({ origin: relay.url, roomId: room.roomId, secret: room.secret, grant: pass })
  const r = await stoop(['peer', link])
  expect(r.code).not.toBe(0)
  expect(r.stderr).toMatch(/^stoop: The speaker pass in this link expired/)
})

test('unreachable signalling exits non-zero with one line', async () => {
  const r = await stoop(['peer', links.listener, '--signal', 'ws://127.0.0.1:9/signal'])
  expect(r.code).not.toBe(0)
  expect(r.stderr.trim()).toBe('stoop: Cannot reach the signalling server at ws://127.0.0.1:9/signal.')
})

test('a link with the wrong room key exits non-zero at once, offline: this link does not open this room', async () => {
  const wrong = links.listener.replace(/k=[^&]+/, `k=${'A'.repeat(43)}`)
  // The link's key check refuses it before anything is reached: signalling points at a closed
  // port and nobody is in the room, so only the link itself can say so (and strangers cannot).
  const r = await stoop(['peer', wrong, '--duration', '40', '--ice-loopback', '--signal', 'ws://127.0.0.1:9/signal'], 15_000)
  expect(r.code).not.toBe(0)
  expect(r.stderr.trim()).toBe('stoop: This link does not open this room (wrong room key).')
}, 60_000)

test('bad options are refused with usage hints', async () => {
  expect((await stoop(['peer', links.listener, '--speak', 'tone:abc'])).stderr).toMatch(/--speak expects tone:<hz>/)
  expect((await stoop(['peer', links.listener, '--duration', '0'])).stderr).toMatch(/--duration must be a positive number/)
  expect((await stoop(['room', 'create'])).stderr).toMatch(/a room needs a title/)
  expect((await stoop(['nonsense'])).code).toBe(2)
})
