/**
 * Bench: the PWA's weight and how fast its home screen becomes usable.
 *
 * - Bundle: gzip sizes of what dist/index.html loads before any user action
 *   (entry module, modulepreloads, stylesheets, the service-worker register
 *   script), against the budgets (JS <= 120 kB, CSS <= 20 kB gzip). Lazy
 *   chunks (e.g. the QR code) are listed apart and do not count.
 * - Time to interactive: the production build served by the relay
 *   (`startRelay`) on 127.0.0.1, loaded in headless Chromium with a fresh
 *   context (cold cache, no service worker) each time; TTI is when the
 *   home screen's "Start room" button exists (Svelte attaches its handlers at
 *   mount, so present means it reacts), timed from navigation start in the page.
 *
 * - Joining a room on its relay: link to first audio in a fresh browser
 *   context (app-relay-join.ts).
 *
 * Run alone: `npx tsx test/bench/app.ts` (env BENCH_APP_LOADS=10, BENCH_APP_JOINS=10,
 * BENCH_APP_NOBUILD=1 to measure an existing dist/), or through test/bench/run.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { gzipSync } from 'node:zlib'
import { startRelay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { launchChromium, LOOPBACK_ICE_FLAGS } from '../e2e/browser.ts'
import { relayJoinTimes, type RelayJoinResult } from './app-relay-join.ts'
import { benchCase, type BenchCase } from './stats.ts'

export const BUDGET = { jsGzipKb: 120, cssGzipKb: 20 } as const

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DIST = join(ROOT, 'dist')

export interface FileSize {
  file: string
  bytes: number
  gzip: number
}

export interface Dist {
  initialJs: FileSize[]
  initialCss: FileSize[]
  lazyJs: FileSize[]
}

export interface Summary {
  runs: number
  median: number
  p95: number
  min: number
  max: number
}

export interface AppReport {
  name: 'app'
  host: { cpus: number; node: string }
  bundle: {
    jsGzipKb: number
    cssGzipKb: number
    budget: typeof BUDGET
    withinBudget: boolean
    initialJs: FileSize[]
    initialCss: FileSize[]
    lazyJs: FileSize[]
  }
  /** Milliseconds from navigation start, over fresh loads of the home screen. */
  home: { ttiMs: Summary; fcpMs: Summary; domContentLoadedMs: Summary }
  /** Opening a listener link of a room already on its relay, to first audio. */
  relayJoin: Omit<RelayJoinResult, 'case'>
  cases: BenchCase[]
}

function summary(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!
  const round = (n: number) => Math.round(n * 10) / 10
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
  return { runs: s.length, median: round(mid), p95: round(at(0.95)), min: round(s[0]!), max: round(s[s.length - 1]!) }
}

function size(dist: string, file: string): FileSize {
  const bytes = readFileSync(join(dist, file))
  return { file, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }
}

/** What index.html loads up front, from its script/link tags; everything else in assets/ is lazy. */
export function measureDist(dist = DIST): Dist {
  const html = readFileSync(join(dist, 'index.html'), 'utf8')
  const refs = (re: RegExp) => [...html.matchAll(re)].map((m) => m[1]!.replace(/^\.?\//, ''))
  const js = [...new Set([...refs(/<script[^>]*\ssrc="([^"]+)"/g), ...refs(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)])]
  const css = refs(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)
  const initial = new Set([...js, ...css])
  const lazy = allAssets(dist).filter((f) => f.endsWith('.js') && !initial.has(f))
  return { initialJs: js.map((f) => size(dist, f)), initialCss: css.map((f) => size(dist, f)), lazyJs: lazy.map((f) => size(dist, f)) }
}

function allAssets(dist: string): string[] {
  return readdirSync(join(dist, 'assets')).map((f) => `assets/${f}`)
}

/** Records `window.__tti` when the home screen's "Start room" button first exists. */
const TTI_PROBE = `new MutationObserver(function (_, obs) {
  if (window.__tti !== undefined) return
  for (const b of document.querySelectorAll('button')) {
    if (b.textContent.trim() === 'Start room') { window.__tti = performance.now(); obs.disconnect(); return }
  }
}).observe(document, { childList: true, subtree: true })`

async function buildApp(): Promise<void> {
  const { build } = await import('vite')
  await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn' })
}

export async function run(opts: { loads?: number; joins?: number; build?: boolean } = {}): Promise<AppReport> {
  const loads = opts.loads ?? Number(process.env.BENCH_APP_LOADS ?? 10)
  const joins = opts.joins ?? Number(process.env.BENCH_APP_JOINS ?? 10)
  if (opts.build ?? (process.env.BENCH_APP_NOBUILD !== '1' || !existsSync(join(DIST, 'index.html')))) await buildApp()

  const dist = measureDist()
  const kb = (files: FileSize[]) => Math.round((files.reduce((n, f) => n + f.gzip, 0) / 1024) * 100) / 100
  const jsGzipKb = kb(dist.initialJs)
  const cssGzipKb = kb(dist.initialCss)

  const relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist: DIST })
  const browser = await launchChromium()
  const tti: number[] = []
  const fcp: number[] = []
  const dcl: number[] = []
  try {
    for (let i = 0; i <= loads; i++) {
      const context = await browser.newContext({ viewport: { width: 360, height: 740 }, serviceWorkers: 'block' })
      const page = await context.newPage()
      // A string, not a function: tsx (esbuild keepNames) would wrap named helpers in `__name`.
      await page.addInitScript(TTI_PROBE)
      await page.goto(relay.url)
      await page.waitForFunction(() => (window as unknown as { __tti?: number }).__tti !== undefined, undefined, { timeout: 30_000 })
      const m = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming
        const paint = performance.getEntriesByName('first-contentful-paint')[0]
        return { tti: (window as unknown as { __tti: number }).__tti, fcp: paint?.startTime ?? NaN, dcl: nav.domContentLoadedEventEnd }
      })
      await context.close()
      if (i === 0) continue // warm-up: Chromium's own first-start costs
      tti.push(m.tti)
      if (Number.isFinite(m.fcp)) fcp.push(m.fcp)
      dcl.push(m.dcl)
    }
  } finally {
    await browser.close()
  }
  const roomBrowser = await launchChromium(LOOPBACK_ICE_FLAGS)
  let relayJoin: RelayJoinResult
  try {
    relayJoin = await relayJoinTimes({ origin: relay.url, browser: roomBrowser, joins })
  } finally {
    await roomBrowser.close()
    await relay.close()
  }

  const report: AppReport = {
    name: 'app',
    host: { cpus: (await import('node:os')).cpus().length, node: process.version },
    bundle: {
      jsGzipKb,
      cssGzipKb,
      budget: BUDGET,
      withinBudget: jsGzipKb <= BUDGET.jsGzipKb && cssGzipKb <= BUDGET.cssGzipKb,
      ...dist,
    },
    home: { ttiMs: summary(tti), fcpMs: summary(fcp.length ? fcp : [NaN]), domContentLoadedMs: summary(dcl) },
    relayJoin: { joins: relayJoin.joins, failed: relayJoin.failed, firstVia: relayJoin.firstVia },
    cases: [benchCase('home screen: time to interactive', 'ms', tti), relayJoin.case],
  }
  const h = report.home
  console.log(
    [
      `initial JS  ${jsGzipKb} kB gzip (budget ${BUDGET.jsGzipKb})  ${dist.initialJs.map((f) => f.file).join(', ')}`,
      `initial CSS ${cssGzipKb} kB gzip (budget ${BUDGET.cssGzipKb})`,
      `lazy JS     ${dist.lazyJs.map((f) => `${f.file} ${(f.gzip / 1024).toFixed(1)} kB`).join(', ') || 'none'}`,
      `home TTI    median ${h.ttiMs.median} ms, p95 ${h.ttiMs.p95} ms over ${h.ttiMs.runs} loads (FCP median ${h.fcpMs.median} ms)`,
      `relay join  link to first audio median ${relayJoin.case.median.toFixed(0)} ms, p95 ${relayJoin.case.p95.toFixed(0)} ms over ${relayJoin.case.samples} joins (${relayJoin.failed} heard nothing in 30 s)`,
      `budget      ${report.bundle.withinBudget ? 'OK' : 'OVER'}`,
    ].join('\n'),
  )
  return report
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (report) => console.log(JSON.stringify(report, null, 2)),
    (err: unknown) => {
      console.error(err)
      process.exitCode = 1
    },
  )
}
