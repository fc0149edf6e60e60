/**
 * The fuzz loop for one target, in the thread that runs it: batches of fast-check arbitraries
 * (structure-aware; a failure is shrunk to a small counterexample) alternating with batches of
 * seeded havoc mutations of the corpus (valid samples, saved crashers, known hostile inputs).
 *
 * Every input is timed on its own. One over the limit is run twice more and the fastest of the
 * three counts (a GC pause or a JIT tier-up is not the input's fault); if that is still over, the
 * input is a 'slow' failure. The slowest confirmed input is kept per target.
 */
import fc from 'fast-check'
import { mutateBytes, mutateString, Rng } from './mutate.ts'
import type { InputSlot } from './slot.ts'
import { ContractError, type Input, type Target } from './target.ts'

export type FailureKind = 'crash' | 'contract' | 'slow' | 'hang'
export type Phase = 'seed' | 'fast-check' | 'mutation' | 'unknown'

export interface Failure {
  target: string
  kind: FailureKind
  phase: Phase
  message: string
  stack: string
  /** Confirmed time of a slow input; 0 otherwise. */
  ms: number
  input: Input
}

export interface TargetStats {
  target: string
  cases: number
  fastCheckCases: number
  mutationCases: number
  elapsedMs: number
  slowestMs: number
  slowestInput: Input | null
  /** Distinct failures. */
  failures: number
  /** Failing inputs, repeats of a known failure included. */
  failingInputs: number
}

/** When a target stops: after `cases` inputs or `ms` of running, whichever comes first. */
export interface Budget {
  cases?: number
  ms?: number
}

export interface EngineOptions {
  seed: number
  budget: Budget
  limitMs: number
  /** A target stops after this many distinct failures. */
  maxFailures: number
  slot?: InputSlot
  slotIndex?: number
  onFailure(f: Failure): void
  onProgress?(s: TargetStats): void
}

export class SlowInputError extends Error {
  override name = 'SlowInputError'
  constructor(
    readonly ms: number,
    limitMs: number,
  ) {
    super(`input took ${ms.toFixed(1)} ms (limit ${limitMs} ms), fastest of three runs`)
  }
}

/** Per batch: structure-aware cases cost more to make, mutations are cheap; about 30/70. */
const FAST_CHECK_BATCH = 150
const MUTATION_BATCH = 350

/** What makes two failures the same bug: target, kind, message with its numbers masked, top stack frame. */
export function failureSignature(f: Failure): string {
  const top = f.stack.split('\n').find((l) => l.trim().startsWith('at ')) ?? ''
  return [f.target, f.kind, f.message.replace(/\d+(\.\d+)?/g, '#').slice(0, 160), top].join('|')
}

export function failureOf(target: string, input: Input, err: unknown, phase: Phase): Failure {
  const e = err instanceof Error ? err : new Error(String(err))
  const kind: FailureKind = e instanceof SlowInputError ? 'slow' : e instanceof ContractError ? 'contract' : 'crash'
  return { target, kind, phase, message: `${e.name}: ${e.message}`, stack: e.stack ?? '', ms: e instanceof SlowInputError ? e.ms : 0, input }
}

type Exec = (input: Input) => void | Promise<void>

/** The timed call of `target.run`; throws what the target throws, or a SlowInputError. */
function timedExec(target: Target, stats: TargetStats, opts: EngineOptions, phase: () => Phase): Exec {
  const { limitMs, slot } = opts
  const index = opts.slotIndex ?? 0
  const count = (): void => {
    stats.cases++
    if (phase() === 'fast-check') stats.fastCheckCases++
    else if (phase() === 'mutation') stats.mutationCases++
  }
  const settle = (input: Input, best: number): void => {
    if (best > stats.slowestMs) {
      stats.slowestMs = best
      stats.slowestInput = input
    }
    if (best > limitMs) throw new SlowInputError(best, limitMs)
  }
  const suspect = (ms: number): boolean => ms > stats.slowestMs || ms > limitMs
  if (target.async) {
    const once = async (input: string): Promise<number> => {
      const t0 = performance.now()
      await target.run(input)
      return performance.now() - t0
    }
    return async (input) => {
      slot?.write(input, index)
      let best = await once(input as string)
      count()
      for (let i = 0; i < 2 && suspect(best); i++) best = Math.min(best, await once(input as string))
      if (suspect(best)) settle(input, best)
    }
  }
  const run = target.run as (input: Input) => void
  const once = (input: Input): number => {
    const t0 = performance.now()
    run(input)
    return performance.now() - t0
  }
  return (input) => {
    slot?.write(input, index)
    let best = once(input)
    count()
    for (let i = 0; i < 2 && suspect(best); i++) best = Math.min(best, once(input))
    if (suspect(best)) settle(input, best)
  }
}

/** Runs `target` until its budget is spent; failures go to `onFailure` as they happen. */
export async function fuzzTarget(target: Target, seeds: Input[], opts: EngineOptions): Promise<TargetStats> {
  const stats: TargetStats = { target: target.name, cases: 0, fastCheckCases: 0, mutationCases: 0, elapsedMs: 0, slowestMs: 0, slowestInput: null, failures: 0, failingInputs: 0 }
  let phase: Phase = 'seed'
  const exec = timedExec(target, stats, opts, () => phase)
  const started = performance.now()
  // Distinct failures only: a known bug fails most mutations of its corpus element, and must not
  // end the target's run (nor flood the report).
  const seen = new Set<string>()
  const fail = (input: Input, err: unknown): void => {
    const f = failureOf(target.name, input, err, phase)
    const signature = failureSignature(f)
    stats.failingInputs++
    if (seen.has(signature)) return
    seen.add(signature)
    stats.failures++
    opts.onFailure(f)
  }
  // Synchronous targets stay synchronous: a promise is awaited only when the target made one.
  const attempt = (input: Input): void | Promise<void> => {
    let p: void | Promise<void>
    try {
      p = exec(input)
    } catch (err) {
      return fail(input, err)
    }
    if (p) return p.catch((err: unknown) => fail(input, err))
  }
  // Warm-up: the corpus runs untimed first (each element's first run pays for JIT compilation).
  const untimed = target.run as (input: Input) => void | Promise<void>
  for (const s of seeds) {
    try {
      opts.slot?.write(s, opts.slotIndex ?? 0)
      await untimed(s)
    } catch {
      // Reported by the timed run below.
    }
  }
  for (const s of seeds) {
    const p = attempt(s)
    if (p) await p
  }
  const bytesCorpus = seeds.filter((s): s is Uint8Array => s instanceof Uint8Array)
  const stringCorpus = seeds.filter((s): s is string => typeof s === 'string')
  const rng = new Rng(opts.seed)
  const { cases, ms } = opts.budget
  const over = (): boolean =>
    stats.failures >= opts.maxFailures || (cases !== undefined && stats.cases >= cases) || (ms !== undefined && performance.now() - started >= ms)
  for (let batch = 0; !over(); batch++) {
    phase = 'fast-check'
    const numRuns = cases !== undefined ? Math.max(1, Math.min(FAST_CHECK_BATCH, Math.ceil((cases - stats.cases) * 0.3))) : FAST_CHECK_BATCH
    const params = { seed: (opts.seed + batch * 7919) | 0, numRuns, interruptAfterTimeLimit: 30_000, markInterruptAsFailure: false }
    const arb = target.arbitrary as fc.Arbitrary<Input>
    const details = target.async ? await fc.check(fc.asyncProperty(arb, exec as (i: Input) => Promise<void>), params) : fc.check(fc.property(arb, exec as (i: Input) => void), params)
    if (details.failed && details.counterexample) fail(details.counterexample[0], details.errorInstance)
    phase = 'mutation'
    for (let i = 0; i < MUTATION_BATCH && !over(); i++) {
      const p = attempt(target.kind === 'bytes' ? mutateBytes(rng, bytesCorpus, target.maxLen) : mutateString(rng, stringCorpus, target.tokens ?? [], target.maxLen))
      if (p) await p
    }
    stats.elapsedMs = performance.now() - started
    opts.onProgress?.(stats)
  }
  stats.elapsedMs = performance.now() - started
  return stats
}
