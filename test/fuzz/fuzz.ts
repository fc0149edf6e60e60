/**
 * Runs fuzz targets in worker threads and collects what they find.
 *
 * Why workers: a decoder that loops forever cannot be interrupted from inside its own thread.
 * The main thread watches each worker's heartbeat (the shared input slot, bumped once per case);
 * when it stops for `hangMs`, or the worker dies (out of memory, a native crash), the main thread
 * terminates it, reads the input it was running from the slot, records a 'hang' or 'crash', and
 * starts a fresh worker for the targets that had not finished.
 *
 * Failures are deduplicated by target, kind, message (digits masked) and top stack frame; each
 * distinct one is saved under test/fuzz/corpus/<target>/ when `save` is set, so every later run
 * starts from it.
 */
import { Worker } from 'node:worker_threads'
import { saveInput } from './corpus.ts'
import { failureSignature, type Budget, type Failure, type TargetStats } from './engine.ts'
import { InputSlot } from './slot.ts'
import { TARGET_NAMES } from './target.ts'
import type { WorkerData, WorkerMessage } from './worker.ts'

export interface FuzzOptions {
  targets: readonly string[]
  /** Per target. */
  budget: Budget
  seed: number
  limitMs: number
  /** A worker whose heartbeat stops this long is hung. */
  hangMs: number
  jobs: number
  corpusDir: string
  save: boolean
  maxFailures: number
  log?: (line: string) => void
}

export type ReportedFailure = Failure & { file?: string; repeats: number }

export interface FuzzReport {
  seed: number
  elapsedMs: number
  cases: number
  casesPerSecond: number
  targets: TargetStats[]
  failures: ReportedFailure[]
}

/** Room for the largest input any target makes (strings take two bytes a unit). */
const SLOT_BYTES = 1 << 20
const WORKER_URL = new URL('./worker.ts', import.meta.url).href
// tsx's loader, registered inside the worker: workers do not inherit the main thread's hooks.
const BOOT = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(WORKER_URL)}) })`

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const log = opts.log ?? (() => {})
  const started = performance.now()
  const stats = new Map<string, TargetStats>()
  const finished = new Set<string>()
  const failures: ReportedFailure[] = []
  const bySignature = new Map<string, ReportedFailure>()

  const record = (f: Failure): void => {
    const signature = failureSignature(f)
    const known = bySignature.get(signature)
    if (known) {
      known.repeats++
      return
    }
    const reported: ReportedFailure = { ...f, repeats: 0, ...(opts.save ? { file: saveInput(opts.corpusDir, f.target, f.kind, f.input) } : {}) }
    bySignature.set(signature, reported)
    failures.push(reported)
    log(`  ! ${f.target}: ${f.kind} (${f.phase}): ${f.message.split('\n')[0]}${reported.file ? ` -> ${reported.file}` : ''}`)
  }

  const runWorker = (targets: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const slot = InputSlot.create(SLOT_BYTES)
      const data: WorkerData = { targets, budget: opts.budget, seed: opts.seed, limitMs: opts.limitMs, maxFailures: opts.maxFailures, corpusDir: opts.corpusDir, sab: slot.sab }
      const worker = new Worker(BOOT, { eval: true, workerData: data, resourceLimits: { maxOldGenerationSizeMb: 1536 } })
      let ready = false
      let over = false
      let beat = slot.heartbeat
      let beatAt = performance.now()
      const end = (): void => {
        over = true
        clearInterval(watchdog)
        void worker.terminate()
        resolve()
      }
      const culprit = (kind: 'hang' | 'crash', message: string): void => {
        const { input, target, truncated } = slot.read()
        const name = TARGET_NAMES[target] ?? 'unknown'
        record({ target: name, kind, phase: 'unknown', message: `${message}${truncated ? ' (input truncated)' : ''}`, stack: '', ms: 0, input })
        finished.add(name)
      }
      const watchdog = setInterval(() => {
        if (!ready || over) return
        const now = performance.now()
        if (slot.heartbeat !== beat) {
          beat = slot.heartbeat
          beatAt = now
        } else if (now - beatAt > opts.hangMs) {
          culprit('hang', `no answer for ${Math.round(now - beatAt)} ms`)
          end()
        }
      }, 250)
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') ready = true
        else if (m.type === 'failure') record(m.failure)
        else if (m.type === 'progress') stats.set(m.stats.target, m.stats)
        else if (m.type === 'done') {
          stats.set(m.stats.target, m.stats)
          finished.add(m.stats.target)
          const s = m.stats
          log(`  ${s.target}: ${s.cases} cases in ${(s.elapsedMs / 1000).toFixed(1)} s, slowest ${s.slowestMs.toFixed(2)} ms`)
        } else if (m.type === 'finished') end()
      })
      const died = (why: string): void => {
        if (over) return
        if (!ready) {
          over = true
          clearInterval(watchdog)
          return reject(new Error(`fuzz worker failed to start: ${why}`))
        }
        culprit('crash', `worker died: ${why}`)
        end()
      }
      worker.on('error', (err) => died(err.stack ?? String(err)))
      worker.on('exit', (code) => died(`exit code ${code}`))
    })

  const queues: string[][] = Array.from({ length: Math.max(1, opts.jobs) }, () => [])
  opts.targets.forEach((t, i) => queues[i % queues.length]!.push(t))
  await Promise.all(
    queues.map(async (queue) => {
      for (let rest = queue; rest.length > 0; rest = rest.filter((t) => !finished.has(t))) {
        const before = finished.size
        await runWorker(rest)
        // A worker that died before naming a target must not be restarted on the same list forever.
        if (finished.size === before) finished.add(rest[0]!)
      }
    }),
  )
  const elapsedMs = performance.now() - started
  const targets = opts.targets.map((t) => stats.get(t)).filter((s): s is TargetStats => s !== undefined)
  const cases = targets.reduce((n, s) => n + s.cases, 0)
  return { seed: opts.seed, elapsedMs, cases, casesPerSecond: cases / (elapsedMs / 1000), targets, failures }
}
