/**
 * Runs one "heard" part of the relay bench (relay-clicks.ts, relay-switch.ts)
 * in a child process of its own: its headless peers (real @roamhq/wrtc) then
 * share no event loop with the bench, and a native crash of wrtc (it can
 * segfault while closing connections) fails that part, not the whole report.
 *
 * Parent -> child: one HeardRequest; child -> parent: `{ out, cases }` or
 * `{ error }`, then it exits. Advanced serialization keeps NaN and nested values as they are.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BenchCase } from './stats.ts'

export interface HeardRequest {
  part: 'm2e' | 'switch'
  /** The relay's http origin (signalling, links) and its /relay WebSocket URL. */
  origin: string
  relay: string
  /** Clicks per path (m2e) or round trips (switch). */
  n: number
}

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

async function serve(req: HeardRequest): Promise<void> {
  const cases: BenchCase[] = []
  const opts = { origin: req.origin, relay: req.relay }
  const out =
    req.part === 'm2e'
      ? await (await import('./relay-clicks.ts')).relayClickLatency({ ...opts, clicks: req.n }, cases)
      : await (await import('./relay-switch.ts')).relaySwitchGaps({ ...opts, rounds: req.n }, cases)
  const result: HeardResult = { out, cases }
  process.send!(result, () => process.exit(0))
}

if (process.argv.includes(FLAG) && process.send) {
  process.once('message', (req: HeardRequest) => {
    serve(req).catch((err: unknown) => process.send!({ error: (err as Error).message ?? String(err) }, () => process.exit(1)))
  })
}
