/**
 * The parent's side of e2ee-peer-proc.ts: a werift headless peer with E2EE in a child process,
 * what it reported (route, epoch, E2EE counters, the tone frame by frame) and its moderator's ban.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { NodeE2eeStats } from '../../../src/headless/e2ee.ts'
import type { E2eeStart } from './e2ee-peer-proc.ts'
import { stopChild } from '../../helpers/child.ts'

const CHILD = fileURLToPath(new URL('./e2ee-peer-proc.ts', import.meta.url))

export interface E2eePeerChild {
  readonly id: string
  readonly via: string | null
  readonly epoch: number | null
  readonly e2ee: NodeE2eeStats | null
  /** Members whose encryption key its room state holds (a rotation seals to them). */
  readonly keys: readonly string[]
  /** Per 10 ms frame heard so far (as reported, up to 100 ms behind): whether it held the tone. */
  readonly frames: readonly boolean[]
  /** Per status (100 ms), when it came (Date.now()): the longest its event loop was held and the CPU it used since the one before (ms), and its route then. */
  readonly reports: ReadonlyArray<{ t: number; ms: number; cpuMs: number; via: string }>
  /** As a moderator: bans `id` (resolves once the ban is written). */
  ban(id: string): Promise<void>
  stop(): Promise<void>
}

type Status = { type: 'status'; via: string; epoch: number; keys: string[]; e2ee: NodeE2eeStats | null; frames: boolean[]; stallMs: number; cpuMs: number }
type FromChild = Status | { type: 'started'; id: string } | { type: 'error'; message: string } | { type: 'banned' }

/**
 * Forks the child at once (loading the code base takes a while on a busy machine: fork several
 * together) and starts its peer once `after` resolves (e.g. when the room's first peer is up).
 */
export function spawnE2eePeer(start: Omit<E2eeStart, 'type'>, after: Promise<unknown> = Promise.resolve()): Promise<E2eePeerChild> {
  const proc = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const frames: boolean[] = []
  const reports: Array<{ t: number; ms: number; cpuMs: number; via: string }> = []
  let last: Status | null = null
  let id = ''
  let stopping: Promise<void> | null = null
  const waiting: Array<(msg: FromChild) => void> = []
  proc.on('message', (msg: FromChild) => {
    if (msg.type === 'started') id = msg.id
    if (msg.type === 'status') {
      last = msg
      frames.push(...msg.frames)
      reports.push({ t: Date.now(), ms: msg.stallMs, cpuMs: msg.cpuMs, via: msg.via })
    }
    for (const w of waiting.splice(0)) w(msg)
  })
  const reply = <T extends FromChild['type']>(type: T): Promise<void> =>
    new Promise((ok, ko) => {
      const check = (msg: FromChild): void => {
        if (msg.type === type) ok()
        else if (msg.type === 'error') ko(new Error(`${start.name}: ${msg.message}`))
        else waiting.push(check)
      }
      waiting.push(check)
    })
  const child: E2eePeerChild = {
    get id() {
      return id
    },
    get via() {
      return last?.via ?? null
    },
    get epoch() {
      return last?.epoch ?? null
    },
    get e2ee() {
      return last?.e2ee ?? null
    },
    get keys() {
      return last?.keys ?? []
    },
    frames,
    reports,
    ban(target) {
      const done = reply('banned')
      proc.send({ type: 'ban', id: target })
      return done
    },
    stop: () =>
      (stopping ??= stopChild(proc)),
  }
  return new Promise((ok, ko) => {
    proc.once('exit', (code, signal) => ko(new Error(`${start.name} exited (${signal ?? code}) before it started`)))
    after.then(() => {
      const started = reply('started')
      proc.send({ type: 'start', ...start })
      return started.then(() => ok(child))
    }).catch((err: unknown) => {
      void child.stop()
      ko(err as Error)
    })
  })
}
