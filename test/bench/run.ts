/**
 * Bench runner: `npm run bench -- <name> [<name>...]` runs test/bench/<name>.ts
 * (each exports `run(): Promise<BenchReport>`), writes bench/results/<name>.json
 * and prints a short table. Without a name it lists the benches.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { casesTable, environment, type BenchReport } from './stats.ts'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
/** A bench is a module here that exports `run()`; the others are its helpers. Read, not imported: importing loads wrtc. */
async function available(): Promise<string[]> {
  const files = (await readdir(here)).filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  const benches = await Promise.all(files.map(async (f) => (/^export (async )?function run\(/m.test(await readFile(join(here, f), 'utf8')) ? f.slice(0, -3) : null)))
  return benches.filter((n): n is string => n !== null).sort()
}

async function main(): Promise<number> {
  const names = process.argv.slice(2).filter((a) => !a.startsWith('-'))
  const all = await available()
  if (names.length === 0) {
    console.log(`usage: npm run bench -- <name> [...]\nbenches: ${all.join(', ')}`)
    return 0
  }
  let failed = 0
  for (const name of names) {
    if (!all.includes(name)) {
      console.error(`unknown bench "${name}" (have: ${all.join(', ')})`)
      failed++
      continue
    }
    const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as { run?: () => Promise<BenchReport> }
    if (typeof mod.run !== 'function') {
      console.error(`test/bench/${name}.ts does not export run()`)
      failed++
      continue
    }
    const started = performance.now()
    const report = await mod.run()
    const out = { ...report, environment: report.environment ?? environment(), durationS: Math.round((performance.now() - started) / 100) / 10 }
    const file = join(root, 'bench', 'results', `${name}.json`)
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, JSON.stringify(out, null, 2) + '\n')
    console.log(`\n# ${name}  (${out.durationS} s, node ${out.environment.node}, ${out.environment.cpus} cpus, load ${out.environment.loadavg.join(' ')})`)
    if (Array.isArray(report.cases) && report.cases.length > 0) console.log(casesTable(report.cases))
    else console.log('(no cases table; see the JSON)')
    console.log(`-> ${file}`)
  }
  return failed ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
