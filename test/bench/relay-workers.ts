/**
 * 1 worker vs N in the relay bench: the two ramps (relay-ramp.ts) compared at the
 * largest step both measured within the limits, the busiest thread's CPU fitted
 * over the steps that forwarded, and the per-listener memory slope; also the table of both ramps.
 */
import { formatTable, slope } from './stats.ts'
import type { RelayThreads } from './relay-children.ts'
import { breachOf, type RampEnv, type RampResult, type RelayStep } from './relay-ramp.ts'
import { round } from './relay-common.ts'

/** 1 worker (the main thread forwards) vs N (worker threads forward), the same steps in one run. */
export interface WorkersComparison {
  workers: [number, number]
  /** The step compared: the largest N measured in both ramps, within the limits in both if any was. */
  listeners: number
  streams: [number, number]
  /** 100 x streams / relay process CPU % (every thread): the cost of a stream. */
  streamsPerCore: [number, number]
  relayCpuPct: [{ median: number; p95: number }, { median: number; p95: number }]
  threads: [RelayThreads, RelayThreads]
  projectedStreams: [number, number]
  /** projectedStreams[1] / projectedStreams[0]: how much more one relay carries. */
  capacityRatio: number
  /**
   * The busiest thread's CPU against streams over the steps of each ramp that forwarded (every
   * listener joined, loss within the limit; least squares): % per stream, % at no stream, and the
   * streams at which it reaches 100 %. Less at the mercy of one window than a single step's projection.
   */
  busiestFit: [BusiestFit, BusiestFit]
  /** streamsAt100[1] / streamsAt100[0]. */
  capacityRatioByFit: number
  /** The largest N of each ramp within the limits (the box's limit as much as the relay's). */
  maxListenersWithinLimits: [number, number]
  rssPerListenerMb: [number, number]
  lossPct: [number, number]
  latencyMs: [{ median: number; p95: number }, { median: number; p95: number }]
  loadavg1: [number, number]
}

export interface BusiestFit {
  perStreamPct: number
  fixedPct: number
  streamsAt100: number
}

/**
 * Whether the relay forwarded in `s` what it was given: every listener joined, loss within the
 * limit. Latency may be over (the box is shared); a step that lost its streams measures neither
 * the cost nor the memory of a stream, and would bend a fit or a slope anywhere.
 */
function forwarding(s: RelayStep, env: RampEnv): boolean {
  return s.joined >= s.listeners && s.lossPct <= env.maxLoss
}

/** The busiest relay thread's CPU as a line over the forwarding steps' streams (see WorkersComparison.busiestFit); NaN below 2 steps. */
function busiestFit(steps: RelayStep[], env: RampEnv): BusiestFit {
  const pts = steps.filter((s) => s.threads.busiestPct !== null && forwarding(s, env))
  if (pts.length < 2) return { perStreamPct: NaN, fixedPct: NaN, streamsAt100: NaN }
  const xs = pts.map((s) => s.streams)
  const ys = pts.map((s) => s.threads.busiestPct!)
  const b = slope(xs, ys)
  const a = ys.reduce((x, y) => x + y, 0) / Math.max(1, ys.length) - (b * xs.reduce((x, y) => x + y, 0)) / Math.max(1, xs.length)
  return { perStreamPct: round(b, 4), fixedPct: round(a), streamsAt100: Math.round((100 - a) / b) }
}

/** The largest step of `steps` within the limits (none: null). */
export function bestWithin(steps: RelayStep[], env: RampEnv): RelayStep | null {
  const firstOut = steps.findIndex((s) => breachOf(s, env) !== null)
  return (firstOut < 0 ? steps : steps.slice(0, firstOut)).at(-1) ?? null
}

/** Per-listener memory: the slope of `f` over the forwarding steps named in BENCH_RELAY_RSS_NS; NaN below 2. */
export function perListener(steps: RelayStep[], env: RampEnv, f: (s: RelayStep) => number): number {
  const mem = steps.filter((s) => env.rssNs.includes(s.listeners) && forwarding(s, env))
  if (mem.length < 2) return NaN
  return round(slope(mem.map((s) => s.joined), mem.map(f)), 3)
}

/**
 * 1 vs N workers at the largest step both ramps measured within the loss and latency limits (a
 * listener that failed to join only makes a step a little smaller), else at the largest both measured.
 */
export function compareWorkers(one: RampResult, many: RampResult, env: RampEnv): WorkersComparison | null {
  const common = one.steps.filter((a) => many.steps.some((b) => b.listeners === a.listeners)).map((a) => a.listeners)
  const ok = (s: RelayStep) => s.lossPct <= env.maxLoss && s.addedP95Ms <= env.maxAddedMs
  const within = common.filter((n) => [one, many].every((r) => ok(r.steps.find((s) => s.listeners === n)!)))
  const n = (within.length ? within : common).at(-1)
  if (n === undefined) return null
  const a = one.steps.find((s) => s.listeners === n)!
  const b = many.steps.find((s) => s.listeners === n)!
  const pair = <T>(f: (s: RelayStep) => T): [T, T] => [f(a), f(b)]
  const fitOne = busiestFit(one.steps, env)
  const fitMany = busiestFit(many.steps, env)
  return {
    workers: [one.workers, many.workers],
    listeners: n,
    streams: pair((s) => s.streams),
    streamsPerCore: pair((s) => s.streamsPerCore),
    relayCpuPct: pair((s) => ({ median: s.relayCpuPct.median, p95: s.relayCpuPct.p95 })),
    threads: pair((s) => s.threads),
    projectedStreams: pair((s) => s.projectedStreams),
    capacityRatio: round(b.projectedStreams / a.projectedStreams),
    maxListenersWithinLimits: [bestWithin(one.steps, env)?.listeners ?? 0, bestWithin(many.steps, env)?.listeners ?? 0],
    busiestFit: [fitOne, fitMany],
    capacityRatioByFit: round(fitMany.streamsAt100 / fitOne.streamsAt100),
    rssPerListenerMb: [perListener(one.steps, env, (s) => s.rssMb), perListener(many.steps, env, (s) => s.rssMb)],
    lossPct: pair((s) => s.lossPct),
    latencyMs: pair((s) => ({ median: s.latencyMs.median, p95: s.latencyMs.p95 })),
    loadavg1: pair((s) => s.loadavg1),
  }
}

export function workersTable(one: RampResult, many: RampResult): string {
  const ns = [...new Set([...one.steps, ...many.steps].map((s) => s.listeners))].sort((x, y) => x - y)
  const rows = ns.flatMap((n) => {
    const pair: Array<[number, RelayStep | undefined]> = [[one.workers, one.steps.find((s) => s.listeners === n)], [many.workers, many.steps.find((s) => s.listeners === n)]]
    return pair.flatMap(([workers, s]) => (s ? [{ s, workers }] : [])).map(({ s, workers }) => ({
      N: s.listeners,
      workers,
      streams: s.streams,
      'cpu% med': s.relayCpuPct.median,
      'cpu% p95': s.relayCpuPct.p95,
      'streams/core': s.streamsPerCore,
      'main%': s.threads.mainPct ?? NaN,
      'shards%': s.threads.shardPct.join('/') || '-',
      'busiest%': s.threads.busiestPct ?? NaN,
      projected: s.projectedStreams,
      'rss MB': s.rssMb,
      'loss%': s.lossPct,
      'lat p50': s.latencyMs.median,
      'lat p95': s.latencyMs.p95,
      load: s.loadavg1,
    }))
  })
  return formatTable(rows)
}
