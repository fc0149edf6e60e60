/**
 * Parent side of mesh-worker.ts: forks a worker (tsx loader, --expose-gc so
 * memory readings follow a full GC) and turns its IPC replies into promises.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { setPriority } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { WorkerRequest } from './mesh-worker.ts'

const here = dirname(fileURLToPath(import.meta.url))

export class MeshWorker {
  readonly #child: ChildProcess
  readonly #pending = new Map<number, { ok: (v: Record<string, unknown>) => void; ko: (e: Error) => void }>()
  readonly ready: Promise<void>
  #next = 1
  #exited = false

  /** `nice`: a lower CPU priority for the child (peers standing for other devices than the relay's). */
  constructor(
    readonly name: string,
    opts: { nice?: number } = {},
  ) {
    this.#child = fork(join(here, 'mesh-worker.ts'), [], {
      cwd: join(here, '..', '..'),
      execArgv: ['--import', 'tsx', '--expose-gc'],
      env: { ...process.env, STOOP_MESH_WORKER: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    if (opts.nice && this.#child.pid !== undefined) setPriority(this.#child.pid, opts.nice)
    let started!: () => void
    this.ready = new Promise<void>((ok) => (started = ok))
    this.#child.on('message', (msg: { id: number; ok: boolean; error?: string }) => {
      if (msg.id === 0) return started()
      const p = this.#pending.get(msg.id)
      this.#pending.delete(msg.id)
      if (msg.ok) p?.ok(msg as unknown as Record<string, unknown>)
      else p?.ko(new Error(`${this.name}: ${msg.error}`))
    })
    this.#child.on('exit', (code) => {
      this.#exited = true
      for (const p of this.#pending.values()) p.ko(new Error(`${this.name} exited (${code})`))
      this.#pending.clear()
    })
  }

  async call<T = Record<string, unknown>>(req: WorkerRequest, timeoutMs = 120_000): Promise<T> {
    await this.ready
    if (this.#exited) throw new Error(`${this.name} has exited`)
    const id = this.#next++
    return new Promise<T>((ok, ko) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        ko(new Error(`${this.name}: ${req.op} timed out`))
      }, timeoutMs)
      this.#pending.set(id, {
        ok: (v) => {
          clearTimeout(timer)
          ok(v as T)
        },
        ko: (e) => {
          clearTimeout(timer)
          ko(e)
        },
      })
      this.#child.send({ id, ...req })
    })
  }

  /** Stops the peers (bounded wait), then ends the process. */
  async close(): Promise<void> {
    if (this.#exited) return
    await this.call({ op: 'stop' }, 10_000).catch((err: Error) => console.error(`mesh bench: ${err.message}`))
    const gone = new Promise<void>((ok) => this.#child.once('exit', () => ok()))
    this.#child.kill('SIGTERM')
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))])
    if (!this.#exited) this.#child.kill('SIGKILL')
  }
}
