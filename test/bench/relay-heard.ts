/**
 * The "heard" parts of the relay bench (relay-clicks.ts, relay-switch.ts,
 * relay-crowd.ts, relay-cascade.ts): heardThroughRelay runs them one after another,
 * each in a child process of its own (runHeardPart): its headless peers (real
 * @roamhq/wrtc) then share no event loop with the bench, and a native crash of wrtc
 * (it can segfault while closing connections) fails that part, not the whole report.
 *
 * Parent -> child: one HeardRequest; child -> parent: `{ out, cases }` or
 * `{ error }`, then it exits. Advanced serialization keeps NaN and nested values as they are.
 */
import { fork } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import type { BenchCase } from './stats.ts'
import { knob, round } from './relay-common.ts'
import { spawnChild, stopChild } from './relay-children.ts'
import type { CrowdRequest } from './relay-crowd.ts'
import type { CascadeRequest } from './relay-cascade.ts'

export type HeardRequest =
  | {
      part: 'm2e' | 'switch'
      /** The relay's http origin (signalling, links) and its /relay WebSocket URL. */
      origin: string
      relay: string
      /** Clicks per path (m2e) or round trips (switch). */
      n: number
    }
  /** These start their own relays (relay-child-relay.ts), to measure them. */
  | ({ part: 'crowd' } & CrowdRequest)
  | ({ part: 'cascade' } & CascadeRequest)

export interface HeardResult {
  out: Record<string, unknown>
  cases: BenchCase[]
}

const FLAG = '--heard-part'

/** Forks a child for `req` and resolves with its result; rejects if it exits first or takes longer than `timeoutMs`. */
export function runHeardPart(req: HeardRequest, timeoutMs: number): Promise<HeardResult> {
  const child = fork(fileURLToPath(import.meta.url), [FLAG], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  })
  return new Promise<HeardResult>((ok, ko) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      ko(new Error(`relay bench ${req.part}: no result after ${timeoutMs / 1000} s`))
    }, timeoutMs)
    child.once('message', (result: HeardResult | { error: string }) => {
      clearTimeout(timer)
      if ('error' in result) ko(new Error(result.error))
      else ok(result)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      ko(new Error(`relay bench ${req.part}: the child exited (${signal ?? `code ${code}`}) without a result`))
    })
    child.send(req)
  })
}

/**
 * What a listener hears through the relay: click latency relay vs mesh (relay-clicks.ts) and the
 * gaps of mesh -> relay -> mesh switches (relay-switch.ts), against a fresh relay child serving
 * signalling and /relay; then a room on a relay carrying a crowd (relay-crowd.ts: late joins and
 * mouth-to-ear, quiet and crowded) and a room on a cascade of 3 relays (relay-cascade.ts), each
 * starting relay children of its own. Each part runs its headless peers (real wrtc) in a child of
 * its own (serve, below). BENCH_RELAY_CLICKS clicks per path (default 80),
 * BENCH_RELAY_SWITCHES round trips (default 5), BENCH_RELAY_CROWD listeners (default 50), and
 * BENCH_RELAY_CASCADE (default 1); 0 skips a part (the other sizes: crowdRequest, cascadeRequest).
 * BENCH_RELAY_QUICK=1 makes every default small.
 * A part that fails is reported as a 'failed' case; the other results are kept.
 */
export async function heardThroughRelay(cases: BenchCase[]): Promise<Record<string, unknown>> {
  const clicks = knob('CLICKS', 80, 20)
  const rounds = knob('SWITCHES', 5, 1)
  const crowd = crowdRequest()
  const cascade = cascadeRequest()
  const out: Record<string, unknown> = {}
  const part = async (req: HeardRequest): Promise<void> => {
    const t = performance.now()
    console.error(`relay bench: ${req.part} ... (load ${os.loadavg()[0]!.toFixed(2)})`)
    try {
      const result = await runHeardPart(req, 900_000)
      cases.push(...result.cases)
      out[req.part] = { ...result.out, durationS: round((performance.now() - t) / 1000, 1), loadavg1: round(os.loadavg()[0]!) }
    } catch (err) {
      const message = (err as Error).message
      console.error(`relay bench: ${req.part} failed: ${message}`)
      out[req.part] = { error: message }
      cases.push({ name: req.part, unit: 'failed', samples: 0, median: NaN, p95: NaN, min: NaN, max: NaN, mean: NaN, extra: { note: message.slice(0, 120) } })
    }
  }
  if (clicks > 0 || rounds > 0) {
    const child = spawnChild('relay')
    try {
      const origin = (await child.next('ready', 60_000)).url!
      const relay = origin.replace(/^http/, 'ws') + '/relay'
      if (clicks > 0) await part({ part: 'm2e', origin, relay, n: clicks })
      if (rounds > 0) await part({ part: 'switch', origin, relay, n: rounds })
    } finally {
      await stopChild(child)
    }
  }
  if (crowd) await part({ part: 'crowd', ...crowd })
  if (cascade) await part({ part: 'cascade', ...cascade })
  return out
}

/**
 * The crowd part's sizes: BENCH_RELAY_CROWD listeners on the relay (default 50; 0 skips), of
 * which twice BENCH_RELAY_CROWD_SINKS (default 3: before and after the crowd) record clicks;
 * BENCH_RELAY_LATE_JOINS joins (default 20) quiet and crowded; BENCH_RELAY_CROWD_CLICKS clicks
 * (default 60) each time.
 */
function crowdRequest(): CrowdRequest | null {
  const listeners = knob('CROWD', 50, 20)
  if (listeners <= 0) return null
  const sinks = Math.min(Math.floor(listeners / 2), knob('CROWD_SINKS', 3, 2))
  return { listeners, sinks, joins: knob('LATE_JOINS', 20, 5), clicks: knob('CROWD_CLICKS', 60, 20), procs: 2 }
}

/**
 * The cascade part's sizes, per relay: BENCH_RELAY_CASCADE_SINKS click sinks (default 2),
 * BENCH_RELAY_CASCADE_CROWD werift listeners (default 15), BENCH_RELAY_CASCADE_JOINS late joins
 * (default 7); BENCH_RELAY_CASCADE_CLICKS clicks (default 60). BENCH_RELAY_CASCADE=0 skips it.
 */
function cascadeRequest(): CascadeRequest | null {
  if (knob('CASCADE', 1) <= 0) return null
  return { sinks: knob('CASCADE_SINKS', 2, 1), crowd: knob('CASCADE_CROWD', 15, 3), joins: knob('CASCADE_JOINS', 7, 2), clicks: knob('CASCADE_CLICKS', 60, 20) }
}

async function serve(req: HeardRequest): Promise<void> {
  const cases: BenchCase[] = []
  const out =
    req.part === 'crowd'
      ? await (await import('./relay-crowd.ts')).relayCrowd(req, cases)
      : req.part === 'cascade'
        ? await (await import('./relay-cascade.ts')).relayCascade(req, cases)
        : req.part === 'm2e'
          ? await (await import('./relay-clicks.ts')).relayClickLatency({ origin: req.origin, relay: req.relay, clicks: req.n }, cases)
          : await (await import('./relay-switch.ts')).relaySwitchGaps({ origin: req.origin, relay: req.relay, rounds: req.n }, cases)
  const result: HeardResult = { out, cases }
  process.send!(result, () => process.exit(0))
}

if (process.argv.includes(FLAG) && process.send) {
  process.once('message', (req: HeardRequest) => {
    serve(req).catch((err: unknown) => process.send!({ error: (err as Error).message ?? String(err) }, () => process.exit(1)))
  })
}
