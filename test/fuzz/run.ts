/**
 * `npm run fuzz`: every decoder at a trust boundary against random and mutated hostile input.
 *
 *   npm run fuzz                      full run: at least 1,000,000 cases over all targets
 *   npm run fuzz -- --budget[=S]      short run of about S seconds (default 30); also when CI=true
 *   npm run fuzz -- --target=sync,wav only these targets (see target.ts for the list)
 *   options: --cases=N (full run total)  --seed=N  --jobs=N (parallel workers, default 1)
 *            --limit-ms=N (per input, default 50)  --no-save  --json=FILE (write the report)
 *
 * A failing input (a throw out of a decoder's contract, a broken invariant, an input over the
 * time limit, a hang or a dead worker) is saved under test/fuzz/corpus/<target>/ and printed with
 * its stack; the exit code is then 1.
 */
import { writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { CORPUS_DIR } from './corpus.ts'
import type { Budget } from './engine.ts'
import { runFuzz, type FuzzReport } from './fuzz.ts'
import { TARGET_NAMES, type Input } from './target.ts'

const FULL_CASES = 1_000_000
const BUDGET_SECONDS = 30
/** Sample building and worker start-up, paid once per worker. */
const STARTUP_MS = 2500

function option(name: string): string | undefined {
  const arg = process.argv.slice(2).find((a) => a === `--${name}` || a.startsWith(`--${name}=`))
  if (arg === undefined) return undefined
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : ''
}

function preview(input: Input | null): string {
  if (input === null) return '-'
  const text = typeof input === 'string' ? JSON.stringify(input) : Buffer.from(input).toString('hex')
  return `${input.length} ${typeof input === 'string' ? 'chars' : 'bytes'}: ${text.length > 72 ? `${text.slice(0, 72)}...` : text}`
}

function printReport(r: FuzzReport, mode: string): void {
  const rows = r.targets.map((s) => [
    s.target, String(s.cases), String(Math.round(s.cases / (s.elapsedMs / 1000))), s.slowestMs.toFixed(2), `${s.failures} (${s.failingInputs} inputs)`, preview(s.slowestInput),
  ])
  const head = ['target', 'cases', 'cases/s', 'slowest ms', 'failures', 'slowest input']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')
  console.log(`\n# fuzz (${mode}, seed ${r.seed})`)
  console.log(line(head))
  for (const row of rows) console.log(line(row))
  console.log(`total: ${r.cases} cases in ${(r.elapsedMs / 1000).toFixed(1)} s (${Math.round(r.casesPerSecond)} cases/s), ${r.failures.length} distinct failures`)
  for (const f of r.failures) {
    console.log(`\n## ${f.target}: ${f.kind} in ${f.phase}${f.repeats > 0 ? ` (and ${f.repeats} more like it)` : ''}`)
    console.log(`input: ${preview(f.input)}${f.file ? `\nsaved: ${f.file}` : ''}`)
    console.log(f.stack || f.message)
  }
}

async function main(): Promise<number> {
  if (option('help') !== undefined) {
    console.log('usage: npm run fuzz [-- --budget[=seconds]] [--target=a,b] [--cases=N] [--seed=N] [--jobs=N] [--limit-ms=N] [--no-save] [--json=FILE]')
    console.log(`targets: ${TARGET_NAMES.join(', ')}`)
    return 0
  }
  const targets = option('target')?.split(',').filter(Boolean) ?? [...TARGET_NAMES]
  const unknown = targets.filter((t) => !(TARGET_NAMES as readonly string[]).includes(t))
  if (unknown.length > 0) {
    console.error(`unknown target(s) ${unknown.join(', ')}; have ${TARGET_NAMES.join(', ')}`)
    return 2
  }
  const jobs = Math.max(1, Math.min(Number(option('jobs') ?? 1) || 1, availableParallelism()))
  const budgetArg = option('budget')
  const short = budgetArg !== undefined || process.env.CI === 'true'
  let budget: Budget
  let mode: string
  if (short) {
    const seconds = Number(budgetArg) || BUDGET_SECONDS
    const perWorker = Math.ceil(targets.length / jobs)
    budget = { ms: Math.max(200, (seconds * 1000 - STARTUP_MS) / perWorker) }
    mode = `budget ${seconds} s`
  } else {
    const total = Number(option('cases') ?? FULL_CASES)
    budget = { cases: Math.ceil(total / targets.length) }
    mode = `full, ${total} cases`
  }
  const seed = option('seed') !== undefined ? Number(option('seed')) >>> 0 : (Math.random() * 0x1_0000_0000) >>> 0
  console.log(`fuzzing ${targets.join(', ')} (${mode}, seed ${seed}, ${jobs} worker${jobs > 1 ? 's' : ''})`)
  const report = await runFuzz({
    targets,
    budget,
    seed,
    limitMs: Number(option('limit-ms') ?? 50),
    hangMs: 10_000,
    jobs,
    corpusDir: CORPUS_DIR,
    save: option('no-save') === undefined,
    maxFailures: 25,
    log: (l) => console.log(l),
  })
  printReport(report, mode)
  const json = option('json')
  if (json) writeFileSync(json, JSON.stringify({ ...report, mode }, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v), 2) + '\n')
  return report.failures.length > 0 ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
