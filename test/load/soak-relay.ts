/**
 * The parent's side of relay-child.ts (a relay in its own process), its
 * memory as the kernel counts it, and its /metrics read the way a Prometheus
 * server reads them (the text format, parsed here).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { RelayOptions } from '../../relay/server.ts'
import { stopChild } from '../helpers/child.ts'

const CHILD = fileURLToPath(new URL('./relay-child.ts', import.meta.url))

export interface RelayProcess {
  readonly proc: ChildProcess
  /** http://127.0.0.1:port */
  readonly url: string
  /** How it ended ('SIGSEGV', 'code 1'), or null while it runs. */
  readonly exit: string | null
  /** Its resident set now, in bytes (/proc). */
  rss(): number
  /** Full collections in the relay, then its RSS (bytes). */
  settle(): Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number }>
  /** /metrics, parsed. */
  metrics(): Promise<Samples>
  /** The longest event-loop stall (ms) any scrape since `resetLag()` reported (the relay's histogram is per scrape). */
  readonly lagMaxMs: number
  resetLag(): void
  stop(): Promise<void>
}

/** Prometheus samples by `name{labels}` as rendered (labels sorted as the relay writes them). */
export type Samples = Map<string, number>

export function parseMetrics(text: string): Samples {
  const out: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

/** A sample's value (0 when absent: a counter never touched). */
export function sample(s: Samples, name: string, labels: Record<string, string> = {}): number {
  const l = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')
  return s.get(l ? `${name}{${l}}` : name) ?? 0
}

/** Every sample of `name`, by its labels text (`reason="bad-json"`). */
export function samplesOf(s: Samples, name: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const [k, v] of s) if (k.startsWith(`${name}{`)) out.set(k.slice(name.length + 1, -1), v)
  return out
}

/** What grew between two scrapes, for the counters named (labels text -> delta), zeros left out. */
export function grown(before: Samples, after: Samples, name: string): Record<string, number> {
  const out: Record<string, number> = {}
  const was = samplesOf(before, name)
  for (const [labels, v] of samplesOf(after, name)) {
    const d = v - (was.get(labels) ?? 0)
    if (d !== 0) out[labels] = d
  }
  return out
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)
  return kb ? Number(kb[1]) * 1024 : NaN
}

export async function startRelayProcess(rooms: RelayOptions['rooms'] = {}): Promise<RelayProcess> {
  // STOOP_SOAK_CPU_PROF=DIR: a CPU profile of the relay (written when it exits).
  const prof = process.env.STOOP_SOAK_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.STOOP_SOAK_CPU_PROF}`] : []
  const proc = fork(CHILD, [], { execArgv: ['--import', 'tsx', '--expose-gc', ...prof], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let exit: string | null = null
  let stopping = false
  let lagMaxMs = 0
  proc.once('exit', (code, signal) => {
    exit = signal ?? `code ${code}`
    if (!stopping) console.error(`soak relay exited unasked: ${exit}`)
  })
  const url = await new Promise<string>((ok, ko) => {
    proc.on('message', (msg: { type: string; url?: string; message?: string }) => {
      if (msg.type === 'ready') ok(msg.url!)
      else if (msg.type === 'error') ko(new Error(msg.message))
    })
    proc.once('exit', (code) => ko(new Error(`relay process exited (${code}) before it started`)))
    proc.send({ type: 'start', rooms })
  })
  return {
    proc,
    url,
    get exit() {
      return exit
    },
    rss: () => rssOf(proc.pid!),
    settle: () =>
      new Promise((ok) => {
        const on = (msg: { type: string; rss: number; heapUsed: number; external: number; arrayBuffers: number }) => {
          if (msg.type !== 'gc') return
          proc.off('message', on)
          ok({ rss: rssOf(proc.pid!), heapUsed: msg.heapUsed, external: msg.external, arrayBuffers: msg.arrayBuffers })
        }
        proc.on('message', on)
        proc.send({ type: 'gc' })
      }),
    metrics: async () => {
      const samples = parseMetrics(await (await fetch(`${url}/metrics`)).text())
      lagMaxMs = Math.max(lagMaxMs, sample(samples, 'stoop_relay_event_loop_lag_seconds', { quantile: '1' }) * 1000)
      return samples
    },
    get lagMaxMs() {
      return lagMaxMs
    },
    resetLag: () => (lagMaxMs = 0),
    stop: () => {
      stopping = true
      return stopChild(proc)
    },
  }
}
