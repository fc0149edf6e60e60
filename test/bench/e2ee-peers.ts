/**
 * Headless peers in a child process for the e2ee bench, so one process's CPU can be read alone:
 * a listener's process receiving N streams, on one media path or the other.
 *
 * Parent side: `PeersProc` forks this file (tsx loader) with STOOP_E2EE_PEERS=1; the child then
 * serves `{id, op, ...}` requests with `{id, ok, ...}` replies. Importing it does nothing else.
 *
 *   start    `count` headless peers on `link`, each speaking a tone (`tone` + 100 Hz per peer) or silent
 *   measure  this process's CPU (% of one core) over `ms`, and per peer: the share of 10 ms
 *            frames heard with sound, how many speakers it heard, the E2EE counters
 *   stop     stops the peers
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TopologyLimits } from '../../src/net/topology.ts'
import type { MediaKind } from '../../src/node/media.ts'
import type { NodeE2eeStats } from '../../src/headless/e2ee.ts'

export type PeersRequest =
  | { op: 'start'; link: string; count: number; media: MediaKind; e2ee: boolean; tone?: number; limits: TopologyLimits }
  | { op: 'measure'; ms: number }
  | { op: 'stop' }

export interface PeerReading {
  /** Share of the 10 ms frames heard over the window that held sound (above -40 dBFS). */
  sound: number
  /** Speakers heard above -40 dBFS in the last second of the window (its `audio-level` event). */
  heardFrom: number
  e2ee: NodeE2eeStats | null
}

export interface Measure {
  cpuPct: number
  peers: PeerReading[]
}

async function serve(): Promise<void> {
  const { startHeadlessPeer } = await import('../../src/headless/headless-peer.ts')
  const { dbfs } = await import('../../src/audio/level.ts')
  type Peer = { stop(): Promise<void>; sound: boolean[]; heardFrom: number; e2ee: NodeE2eeStats | null }
  const peers: Peer[] = []
  const handlers = {
    async start(req: Extract<PeersRequest, { op: 'start' }>): Promise<object> {
      for (let i = 0; i < req.count; i++) {
        const p: Peer = { stop: async () => {}, sound: [], heardFrom: 0, e2ee: null }
        const h = await startHeadlessPeer({
          link: req.link,
          media: req.media,
          e2ee: req.e2ee,
          loopbackOnly: true,
          relay: false,
          limits: req.limits,
          reportEvery: 1,
          ...(req.tone ? { speak: { kind: 'tone' as const, freq: req.tone + 100 * i } } : {}),
          onHeard: (f) => void p.sound.push(dbfs(f) > -40),
          onEvent: (ev) => {
            if (ev.event === 'stats' && ev.e2ee) p.e2ee = ev.e2ee as NodeE2eeStats
            if (ev.event === 'audio-level') p.heardFrom = Object.values(ev.dbfs as Record<string, number>).filter((db) => db > -40).length
          },
        })
        p.stop = () => h.stop()
        peers.push(p)
      }
      return {}
    },
    async measure(req: Extract<PeersRequest, { op: 'measure' }>): Promise<Measure> {
      const from = peers.map((p) => p.sound.length)
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await new Promise((r) => setTimeout(r, req.ms))
      const c = process.cpuUsage(c0)
      const cpuPct = ((c.user + c.system) / 1000 / (performance.now() - t0)) * 100
      return {
        cpuPct,
        peers: peers.map((p, i) => {
          const window = p.sound.slice(from[i])
          return { sound: window.filter(Boolean).length / Math.max(1, window.length), heardFrom: p.heardFrom, e2ee: p.e2ee }
        }),
      }
    },
    async stop(): Promise<object> {
      await Promise.allSettled(peers.map((p) => p.stop()))
      return {}
    },
  }
  process.on('message', (msg: { id: number } & PeersRequest) => {
    const handler = handlers[msg.op] as (req: PeersRequest) => Promise<object>
    handler(msg).then(
      (result) => process.send?.({ id: msg.id, ok: true, ...result }),
      (err: unknown) => process.send?.({ id: msg.id, ok: false, error: String((err as Error)?.stack ?? err) }),
    )
  })
  process.send?.({ id: 0, ok: true })
}

if (process.env.STOOP_E2EE_PEERS === '1' && process.send) void serve()

/** The parent's handle on one child. */
export class PeersProc {
  readonly #child: ChildProcess
  readonly #pending = new Map<number, (msg: { ok: boolean; error?: string } & Record<string, unknown>) => void>()
  readonly ready: Promise<void>
  #next = 1

  constructor(readonly name: string) {
    this.#child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, STOOP_E2EE_PEERS: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let started!: () => void
    this.ready = new Promise((ok) => (started = ok))
    this.#child.on('message', (msg: { id: number; ok: boolean; error?: string }) => {
      if (msg.id === 0) return started()
      this.#pending.get(msg.id)?.(msg)
      this.#pending.delete(msg.id)
    })
    this.#child.on('exit', (code, signal) => {
      for (const done of this.#pending.values()) done({ ok: false, error: `exited (${signal ?? code})` })
      this.#pending.clear()
    })
  }

  async call<T extends object = object>(req: PeersRequest, timeoutMs = 120_000): Promise<T> {
    await this.ready
    const id = this.#next++
    return new Promise<T>((ok, ko) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        ko(new Error(`${this.name}: ${req.op} timed out`))
      }, timeoutMs)
      this.#pending.set(id, (msg) => {
        clearTimeout(timer)
        if (msg.ok) ok(msg as unknown as T)
        else ko(new Error(`${this.name}: ${msg.error}`))
      })
      this.#child.send({ id, ...req })
    })
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    await this.call({ op: 'stop' }, 15_000).catch((err: Error) => console.error(`e2ee bench: ${err.message}`))
    const gone = new Promise<void>((ok) => this.#child.once('exit', () => ok()))
    this.#child.kill('SIGTERM')
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))])
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL')
  }
}
