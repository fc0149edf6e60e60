/**
 * The e2ee bench's browser part: SFrame seal and open in a dedicated worker of Debian's Chromium
 * (the code the app's transform runs per frame, src/media/sframe.ts), on the same Opus packets as
 * the Node part. The page and worker (e2ee-page/) are served from source by a Vite dev server on
 * 127.0.0.1, cross-origin isolated so the worker's timer reads to 5 µs.
 *
 *   µs per frame   wall time per call, timed in batches of BATCH frames back to back
 *   CPU per frame  CPU time of the whole Chromium process tree (from /proc) over those batches,
 *                  WebCrypto's own threads included, less what the tree spends idle in as long
 *   paced          one frame every 20 ms: seal + open of each, the time added to its way
 */
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createServer } from 'vite'
import { launchChromium } from '../e2e/browser.ts'
import type { Reply, Request } from './e2ee-page/worker.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BATCH = 50
const TICK_MS = 1000 / 100 // /proc counts CPU in USER_HZ ticks (100 on Linux)

export interface BrowserCrypto {
  sealUs: number[]
  openUs: number[]
  sealCpuUs: number
  openCpuUs: number
  pacedUs: number[]
  isolated: boolean
  chromium: string
}

/** CPU ms of `root` and every process below it. */
function treeCpuMs(root: number): number {
  const stats = new Map<number, { ppid: number; cpu: number }>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const s = readFileSync(`/proc/${name}/stat`, 'utf8')
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
      stats.set(Number(name), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) * TICK_MS })
    } catch (err) {
      void err // a process that ended while listing
    }
  }
  let total = 0
  const under = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p && hops < 64; p = stats.get(p)?.ppid, hops++) if (p === root) return true
    return false
  }
  for (const [pid, s] of stats) if (under(pid)) total += s.cpu
  return total
}

export async function browserCrypto(packets: readonly Uint8Array[], opts: { rounds: number; paced: number }): Promise<BrowserCrypto> {
  const vite = await createServer({
    root: ROOT,
    configFile: false,
    logLevel: 'silent',
    server: {
      host: '127.0.0.1',
      port: 0,
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
    },
  })
  await vite.listen()
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    const url = vite.resolvedUrls?.local[0]
    if (!url) throw new Error('e2ee bench: the Vite server has no local URL')
    await page.goto(`${url}test/bench/e2ee-page/index.html`)
    await page.waitForFunction(() => 'e2eeBench' in globalThis, undefined, { timeout: 60_000 })
    const call = (req: Request): Promise<Reply> => page.evaluate((r) => (globalThis as unknown as { e2eeBench: (r: Request) => Promise<Reply> }).e2eeBench(r), req)
    await call({ op: 'init', packets: packets.map((p) => [...p]) })
    const frames = BATCH * opts.rounds
    const idleStart = treeCpuMs(process.pid)
    await new Promise((r) => setTimeout(r, 3000))
    const idlePerMs = (treeCpuMs(process.pid) - idleStart) / 3000
    const timed = async (op: 'seal' | 'open'): Promise<{ us: number[]; cpuUs: number; isolated: boolean }> => {
      const cpu = treeCpuMs(process.pid)
      const t = performance.now()
      const r = await call({ op, batch: BATCH, rounds: opts.rounds })
      const busy = treeCpuMs(process.pid) - cpu - idlePerMs * (performance.now() - t)
      return { us: r.us, cpuUs: (Math.max(0, busy) * 1000) / frames, isolated: r.isolated }
    }
    const seal = await timed('seal')
    const open = await timed('open')
    const paced = await call({ op: 'paced', frames: opts.paced, periodMs: 20 })
    return { sealUs: seal.us, openUs: open.us, sealCpuUs: seal.cpuUs, openCpuUs: open.cpuUs, pacedUs: paced.us, isolated: seal.isolated, chromium: browser.version() }
  } finally {
    await browser.close()
    await vite.close()
  }
}
