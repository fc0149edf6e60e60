/**
 * A headless peer survives 1,000 peers joining and leaving its room (issue 12).
 *
 * A room on one relay (a child process, relay-child.ts): a speaker of 440 Hz and a
 * listener in one process, and the peer under test, P, a listener in a process of
 * its own (peer-child.ts, so its memory is its own and can be collected). Then
 * 1,000 join/leave cycles of other members (churn.ts: a fresh identity each, its
 * hello answered on the room's signalling topic, the relay joined with the epoch's
 * membership proof, the log synced and verified, a presence set, then a bye and
 * the socket closed), eight at a time, from 127.0.0.4.
 *
 * P must: keep running, still hear the speaker at the end, see every churner's
 * presence gone again, and not grow: its heap after a full collection at the end
 * within HEAP_SLACK of the heap after a warm-up of WARMUP cycles (what a leak of
 * 10 KB per join would pass: 10 MB), its RSS within RSS_SLACK.
 *
 * STOOP_SOAK_SCALE scales the cycles (default 0.1; `npm run test:load` runs 1).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { generateIdentity } from '../../src/identity/index.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import type { TopologyLimits } from '../../src/net/topology.ts'
import { spawnPeerBatch, type PeerBatch } from '../integration/helpers/peer-batch.ts'
import { churn } from './churn.ts'
import { startRelayProcess, type RelayProcess } from './soak-relay.ts'

const SCALE = Number(process.env.STOOP_SOAK_SCALE ?? 0.1)
const CYCLES = Math.max(20, Math.round(1000 * SCALE))
const WARMUP = Math.max(10, Math.round(CYCLES / 10))
const TONE = 440
const HEAP_SLACK = 10 * 1024 * 1024
const RSS_SLACK = 40 * 1024 * 1024
const limits: TopologyLimits = { meshSize: 2, hysteresis: 1, hardCap: 60 }
const POLL = { timeout: 60_000, interval: 200 }
const CHILD = fileURLToPath(new URL('./peer-child.ts', import.meta.url))

interface Status {
  via: string
  hears: boolean
  gap: number
  presence: number
}
interface Memory {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

interface Subject {
  proc: ChildProcess
  readonly status: Status | null
  readonly exit: string | null
  memory(): Promise<Memory>
  stop(): Promise<void>
}

async function spawnSubject(link: string, relay: string): Promise<Subject> {
  const proc = fork(CHILD, [], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let status: Status | null = null
  let exit: string | null = null
  proc.once('exit', (code, signal) => (exit = signal ?? `code ${code}`))
  proc.on('message', (m: { type: string } & Status) => {
    if (m.type === 'status') status = m
  })
  await new Promise<void>((ok, ko) => {
    proc.on('message', (m: { type: string; message?: string }) => (m.type === 'started' ? ok() : m.type === 'error' ? ko(new Error(m.message)) : undefined))
    proc.once('exit', (code) => ko(new Error(`peer exited (${code}) before it started`)))
    proc.send({ type: 'start', name: 'P', link, relay: [relay], limits, freq: TONE })
  })
  return {
    proc,
    get status() {
      return status
    },
    get exit() {
      return exit
    },
    memory: () =>
      new Promise((ok) => {
        const on = (m: { type: string } & Memory) => {
          if (m.type !== 'gc') return
          proc.off('message', on)
          ok(m)
        }
        proc.on('message', on)
        proc.send({ type: 'gc' })
      }),
    stop: () =>
      new Promise<void>((done) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return done()
        const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000)
        proc.once('exit', () => (clearTimeout(kill), done()))
        proc.send({ type: 'stop' })
      }),
  }
}

let relay: RelayProcess
let room: PeerBatch | null = null
let subject: Subject | null = null

beforeAll(async () => {
  relay = await startRelayProcess()
})
afterAll(async () => {
  await subject?.stop()
  await room?.stop()
  await relay?.stop()
})

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`

test(`a headless peer survives ${CYCLES} peers joining and leaving its room`, async () => {
  const links = await createRoomLinks(await generateIdentity(), { title: 'Churn', topic: '', origin: relay.url })
  const base = relay.url.replace(/^http/, 'ws')
  room = await spawnPeerBatch(
    [
      { name: 'M', link: links.moderator, relay: [`${base}/relay`], tone: TONE },
      { name: 'L', link: links.listener, relay: [`${base}/relay`] },
    ],
    { limits, freqs: [TONE] },
  )
  subject = await spawnSubject(links.listener, `${base}/relay`)
  const p = subject
  await expect.poll(() => p.status?.hears === true, POLL).toBe(true)
  const presenceAtRest = p.status!.presence

  const warm = await churn({ link: links.listener, base, from: '127.0.0.4', cycles: WARMUP, width: 8 })
  expect(warm.failed).toBe(0)
  await expect.poll(() => p.status?.presence, POLL).toBe(presenceAtRest)
  const before = await p.memory()

  const samples: Array<{ cycles: number; rss: number }> = []
  // The churners' presence reaches P through the relay while they are there.
  let mostPresence = 0
  const watch = setInterval(() => (mostPresence = Math.max(mostPresence, p.status?.presence ?? 0)), 50)
  const result = await churn({
    link: links.listener,
    base,
    from: '127.0.0.4',
    cycles: CYCLES,
    width: 8,
    onCycle: (n) => {
      if (n % 100 === 0) samples.push({ cycles: n, rss: rssOf(p.proc.pid!) })
    },
  })
  clearInterval(watch)
  expect(result.firstError).toBe(null)
  expect(result.failed).toBe(0)
  expect(mostPresence).toBeGreaterThan(presenceAtRest)
  // Every churner's presence went when it left.
  await expect.poll(() => p.status?.presence, POLL).toBe(presenceAtRest)
  const after = await p.memory()
  // Still in the room, on the relay, hearing the speaker.
  await expect.poll(() => p.status?.hears === true, POLL).toBe(true)
  expect(p.exit).toBe(null)
  expect(room.exit).toBe(null)
  expect(relay.exit).toBe(null)

  console.log(
    `[peer-churn] ${result.cycles} join/leave cycles in ${(result.ms / 1000).toFixed(1)} s (${((result.cycles / result.ms) * 1000).toFixed(1)}/s), ` +
      `peer via ${p.status!.via}, hears ${TONE} Hz: ${p.status!.hears}, presence ${presenceAtRest} at rest, up to ${mostPresence} during; ` +
      `heap after gc ${mb(before.heapUsed)} -> ${mb(after.heapUsed)}, rss ${mb(before.rss)} -> ${mb(after.rss)}, ` +
      `external ${mb(before.external)} -> ${mb(after.external)}; rss every 100 cycles: ${samples.map((s) => mb(s.rss)).join(', ')}`,
  )
  expect(after.heapUsed).toBeLessThan(before.heapUsed + HEAP_SLACK)
  expect(after.rss).toBeLessThan(before.rss + RSS_SLACK)
})

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) * 1024
}
