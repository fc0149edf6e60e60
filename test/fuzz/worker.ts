/**
 * A fuzz worker thread: builds the samples, runs its targets one after another and reports to
 * the main thread (fuzz.ts). It writes each input to the shared slot before running it, so a hang
 * or a death is traced to its input from outside.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { loadCorpus } from './corpus.ts'
import { fuzzTarget, type Budget, type Failure, type TargetStats } from './engine.ts'
import { buildSamples } from './samples.ts'
import { InputSlot } from './slot.ts'
import { TARGET_NAMES } from './target.ts'
import { createTargets } from './targets.ts'

export interface WorkerData {
  targets: string[]
  budget: Budget
  seed: number
  limitMs: number
  maxFailures: number
  corpusDir: string
  sab: SharedArrayBuffer
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'failure'; failure: Failure }
  | { type: 'progress'; stats: TargetStats }
  | { type: 'done'; stats: TargetStats }
  | { type: 'finished' }

/** FNV-1a: each target gets its own stream from the run's seed. */
function hash(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

async function main(): Promise<void> {
  const data = workerData as WorkerData
  const port = parentPort!
  const post = (m: WorkerMessage): void => port.postMessage(m)
  const slot = new InputSlot(data.sab)
  const { samples, ctx } = await buildSamples()
  const targets = createTargets(samples, ctx, data.targets)
  post({ type: 'ready' })
  for (const t of targets) {
    const seeds = [...t.seeds, ...loadCorpus(data.corpusDir, t.name, t.kind)]
    const stats = await fuzzTarget(t, seeds, {
      seed: (data.seed ^ hash(t.name)) >>> 0,
      budget: data.budget,
      limitMs: data.limitMs,
      maxFailures: data.maxFailures,
      slot,
      slotIndex: (TARGET_NAMES as readonly string[]).indexOf(t.name),
      onFailure: (failure) => post({ type: 'failure', failure }),
      onProgress: (s) => post({ type: 'progress', stats: { ...s, slowestInput: null } }),
    })
    t.dispose?.()
    post({ type: 'done', stats })
  }
  post({ type: 'finished' })
}

void main()
