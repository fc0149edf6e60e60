/**
 * The relay bench's child processes as seen from whoever drives them (relay-ramp.ts's
 * ramps, and the crowd and cascade parts, which run in a child of their own):
 * the messages, and a fork of test/bench/relay.ts in a role (`relay`, `speakers`,
 * `listeners`; relay-child-<role>.ts holds what each role does). One message protocol over
 * the fork IPC channel; a child answers every request with one message of a
 * known type, so `next(type)` is how a driver waits for it.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { setPriority } from 'node:os'
import { fileURLToPath } from 'node:url'
import { summarize } from './stats.ts'

/** CPU of the relay's threads over a window, percent of one core: the main thread and each forwarding shard (workers > 1). */
export interface RelayThreads {
  workers: number
  mainPct: number | null
  shardPct: Array<number | null>
  /** The busiest of them: the thread that saturates first. */
  busiestPct: number | null
}

/** What a relay child knows of one room: publishers (local, and remote ones from cascade links) and its cascade links. */
export interface RelayRoomInfo {
  t: 'room-info'
  publishers: string[]
  remote: string[]
  links: string[]
  subscribers: number
}

export type ToChild =
  | { t: 'speakers'; url: string }
  /** `speakers`: publishers a listener must hear to count as joined (default: the bench's 3). */
  | { t: 'listeners'; url: string; roomId: string; secret: string; n: number; speakers?: number }
  | { t: 'room-info'; discovery: string }
  | { t: 'mark' }
  | { t: 'report' }
  | { t: 'exit' }

export type FromChild =
  | { t: 'ready'; url?: string; idleCpu?: number; rss?: number }
  | { t: 'speaking'; roomId: string; secret: string }
  | { t: 'added'; total: number; failed: number; retries: number }
  | RelayRoomInfo
  | {
      t: 'relay-report'
      cpu: number[]
      userPct: number
      sysPct: number
      rss: number
      heapUsed: number
      heapTotal: number
      external: number
      packetsIn: number
      packetsOut: number
      bytesOut: number
      dropped: number
      seconds: number
      lagP99Ms: number
      lagMaxMs: number
      streams: number
      threads: RelayThreads
    }
  | {
      t: 'listener-report'
      latencies: number[]
      expected: number
      received: number
      streams: number
      deadStreams: number
      verified: number
      authFailures: number
      cpu: number
      lagP99Ms: number
      /** Per stream heard in the window, in listener order: the longest wait between two packets (ms). */
      maxGapsMs: number[]
    }
  | { t: 'speaker-report'; sent: number; seconds: number }
  | { t: 'error'; message: string }

export interface Child {
  proc: ChildProcess
  send(m: ToChild): void
  next<T extends FromChild['t']>(t: T, timeoutMs: number): Promise<Extract<FromChild, { t: T }>>
  exited: Promise<void>
}

const BENCH = fileURLToPath(new URL('./relay.ts', import.meta.url))

/**
 * Forks relay.ts in `role`. `nice`: a lower CPU priority, for clients standing for other devices
 * than the relay's (the crowd and cascade parts).
 */
export function spawnChild(role: string, extraExecArgv: string[] = [], args: string[] = [], opts: { nice?: number } = {}): Child {
  const proc = fork(BENCH, [`--role=${role}`, ...args], {
    execArgv: ['--import', import.meta.resolve('tsx'), ...extraExecArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  if (opts.nice && proc.pid !== undefined) setPriority(proc.pid, opts.nice)
  const handlers: Array<(m: FromChild) => void> = []
  let errors = 0
  proc.on('message', (m: FromChild) => {
    if (m.t === 'error' && errors++ < 5) console.error(`[${role}]`, m.message)
    for (const h of [...handlers]) h(m)
  })
  const exited = new Promise<void>((ok) => proc.once('exit', () => ok()))
  return {
    proc,
    exited,
    send: (m) => {
      if (proc.connected) proc.send(m)
    },
    next: (t, timeoutMs) =>
      new Promise((ok, fail) => {
        const h = (m: FromChild) => {
          if (m.t !== t) return
          clearTimeout(timer)
          handlers.splice(handlers.indexOf(h), 1)
          ok(m as never)
        }
        const timer = setTimeout(() => {
          handlers.splice(handlers.indexOf(h), 1)
          fail(new Error(`timeout waiting for ${t} from ${role}`))
        }, timeoutMs)
        handlers.push(h)
      }),
  }
}

export async function stopChild(c: Child): Promise<void> {
  c.send({ t: 'exit' })
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), 5000)
  await c.exited
  clearTimeout(timer)
}

/** Adds `n` bench listeners (relay-child-listeners.ts: cheap werift listeners) to a room through `child`; resolves with its running totals. */
export async function addListeners(child: Child, req: Omit<Extract<ToChild, { t: 'listeners' }>, 't'>, timeoutMs = 600_000): Promise<Extract<FromChild, { t: 'added' }>> {
  const added = child.next('added', timeoutMs)
  child.send({ t: 'listeners', ...req })
  return added
}

/**
 * One measurement window: `mark` the relays and listener children, wait `ms`, `report`. The
 * relays' CPU and forwarding, and what the listeners got (loss), over the same window.
 */
export async function measureWindow(
  relays: Child[],
  listeners: Child[],
  ms: number,
): Promise<{ relays: Array<Extract<FromChild, { t: 'relay-report' }>>; listeners: Array<Extract<FromChild, { t: 'listener-report' }>> }> {
  for (const c of [...relays, ...listeners]) c.send({ t: 'mark' })
  await new Promise((r) => setTimeout(r, ms))
  const rs = relays.map((r) => r.next('relay-report', 30_000))
  const ls = listeners.map((l) => l.next('listener-report', 30_000))
  for (const c of [...relays, ...listeners]) c.send({ t: 'report' })
  return { relays: await Promise.all(rs), listeners: await Promise.all(ls) }
}

/** Loss over a window from listener reports (a stream that got nothing lost what `sentPerStream` says was sent). */
export function lossPct(ls: Array<Extract<FromChild, { t: 'listener-report' }>>, sentPerStream = 0): number {
  const expected = ls.reduce((a, l) => a + l.expected, 0)
  const received = ls.reduce((a, l) => a + l.received, 0)
  const dead = ls.reduce((a, l) => a + l.deadStreams, 0) * sentPerStream
  return (100 * Math.max(0, expected - received + dead)) / Math.max(1, expected + dead)
}

/** Per stream of the werift crowd, the longest wait between two packets in the window (20 ms when nothing stalls). */
export function gapsOf(ls: Array<Extract<FromChild, { t: 'listener-report' }>>): { median: number; p95: number; max: number } {
  const g = summarize(ls.flatMap((l) => l.maxGapsMs))
  const r = (x: number) => Math.round(x * 10) / 10
  return { median: r(g.median), p95: r(g.p95), max: r(g.max) }
}
