/**
 * Shared helpers for benches: sample statistics, environment description,
 * a timing loop, a polling wait and a plain-text table. Every bench report carries
 * `environment` and, where it fits, `cases` in the BenchCase shape, so results
 * from different benches read the same way.
 */
import os from 'node:os'

export interface Summary {
  samples: number
  median: number
  p95: number
  min: number
  max: number
  mean: number
}

export interface BenchCase extends Summary {
  name: string
  unit: string
  /** Free-form numbers that belong to the case (e.g. bytes, entries). */
  extra?: Record<string, number | string>
  /** The raw samples (rounded to 1 µs when in ms), for re-analysis. */
  values?: number[]
}

export interface Environment {
  node: string
  platform: string
  arch: string
  cpus: number
  cpuModel: string
  loadavg: number[]
  totalMemMb: number
  date: string
}

export interface BenchReport {
  name: string
  environment?: Environment
  cases?: BenchCase[]
  [key: string]: unknown
}

/** Percentile by nearest rank on a sorted copy. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!
}

export function summarize(samples: readonly number[]): Summary {
  const n = samples.length
  return {
    samples: n,
    median: percentile(samples, 50),
    p95: percentile(samples, 95),
    min: n ? Math.min(...samples) : NaN,
    max: n ? Math.max(...samples) : NaN,
    mean: n ? samples.reduce((a, b) => a + b, 0) / n : NaN,
  }
}

export function environment(): Environment {
  const cpus = os.cpus()
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    totalMemMb: Math.round(os.totalmem() / 2 ** 20),
    date: new Date().toISOString(),
  }
}

/** Times `fn` (sync or async) `samples` times after `warmup` untimed calls; milliseconds. */
export async function timeIt(fn: () => unknown, opts: { samples: number; warmup?: number }): Promise<number[]> {
  for (let i = 0; i < (opts.warmup ?? 3); i++) await fn()
  const out: number[] = []
  for (let i = 0; i < opts.samples; i++) {
    const t = performance.now()
    await fn()
    out.push(performance.now() - t)
  }
  return out
}

export { waitFor } from '../helpers/wait.ts'

/** Least-squares slope of y over x (NaN with fewer than two distinct x). */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length)
  if (n < 2) return NaN
  const mx = xs.slice(0, n).reduce((a, b) => a + b, 0) / n
  const my = ys.slice(0, n).reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my)
    den += (xs[i]! - mx) ** 2
  }
  return den === 0 ? NaN : num / den
}

/** A case from raw samples. */
export function benchCase(name: string, unit: string, samples: readonly number[], extra?: BenchCase['extra']): BenchCase {
  const values = samples.map((v) => (unit === 'ms' ? Math.round(v * 1000) / 1000 : v))
  return { name, unit, ...summarize(samples), ...(extra ? { extra } : {}), values }
}

const fmt = (v: unknown): string => {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v)
    if (Number.isInteger(v)) return String(v)
    return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3)
  }
  return v === undefined || v === null ? '' : String(v)
}

/** Renders rows as an aligned text table (columns default to the keys of the first row). */
export function formatTable(rows: readonly Record<string, unknown>[], columns?: readonly string[]): string {
  if (rows.length === 0) return '(no rows)'
  const cols = columns ?? Object.keys(rows[0]!)
  const cells = [cols.map(String), ...rows.map((r) => cols.map((c) => fmt(r[c])))]
  const widths = cols.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)))
  const line = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n')
}

/** The standard table for a report's cases (columns: every extra any case has). */
export function casesTable(cases: readonly BenchCase[]): string {
  const rows = cases.map((c) => ({ case: c.name, unit: c.unit, median: c.median, p95: c.p95, min: c.min, max: c.max, n: c.samples, ...(c.extra ?? {}) }))
  return formatTable(rows, [...new Set(rows.flatMap((r) => Object.keys(r)))])
}
