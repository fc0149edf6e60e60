/**
 * A child process of the chat bench holding a batch of headless listeners (real
 * RoomClients: signalling presence, sealed awareness, relay or mesh) that send
 * reactions on command, as the browser does: `setPresence({ reaction: { emoji, at } })`.
 * Driven over the fork IPC channel:
 *
 *   parent -> child  {type:'start', link, relay, names}
 *   child -> parent  {type:'started', ids} | {type:'error', message}
 *   child -> parent  {type:'status', via: {relay: n, mesh: n}, present: n} every 500 ms
 *                    (present: the fewest people any of its peers sees present, itself included)
 *   parent -> child  {type:'react', startAt, spreadMs, first, total}: peer i of this batch
 *                    reacts at startAt + (first + i) * spreadMs / total (Date.now clock)
 *   parent -> child  {type:'stop'} (the child exits when its peers have left)
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startHeadlessPeer, type HeadlessPeer } from '../../src/headless/headless-peer.ts'
import { REACTIONS } from '../../src/participant/reactions.ts'
import { stopChild } from '../helpers/child.ts'

type Command =
  | { type: 'start'; link: string; relay: string; names: string[] }
  | { type: 'react'; startAt: number; spreadMs: number; first: number; total: number }
  | { type: 'stop' }

export interface Reactors {
  readonly count: number
  /** Peers of every batch on each path, as last reported. */
  via(): Record<string, number>
  /** The fewest people any reactor sees present (itself included), as last reported. */
  present(): number
  /** All peers react once, spread evenly over `spreadMs` from `startAt`. */
  react(startAt: number, spreadMs: number): void
  stop(): Promise<void>
}

/** `count` reactors in `batches` child processes (started in parallel, each joining its peers one by one). */
export async function spawnReactors(opts: { link: string; relay: string; count: number; batches: number }): Promise<Reactors> {
  const self = fileURLToPath(import.meta.url)
  const per = Math.ceil(opts.count / opts.batches)
  const via: Array<Record<string, number>> = []
  const present: number[] = []
  const procs: ChildProcess[] = []
  const started = Array.from({ length: opts.batches }, (_, b) => {
    const names = Array.from({ length: Math.min(per, opts.count - b * per) }, (_, i) => `R${b * per + i + 1}`)
    const proc = fork(self, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    procs.push(proc)
    proc.on('message', (m: { type: string; via?: Record<string, number>; present?: number }) => {
      if (m.type !== 'status') return
      via[b] = m.via!
      present[b] = m.present!
    })
    return new Promise<{ proc: ChildProcess; first: number; size: number }>((ok, ko) => {
      proc.on('message', (m: { type: string; message?: string }) => {
        if (m.type === 'started') ok({ proc, first: b * per, size: names.length })
        else if (m.type === 'error') ko(new Error(m.message))
      })
      proc.once('exit', (code, signal) => ko(new Error(`reactor batch exited (${signal ?? code}) before it started`)))
      proc.send({ type: 'start', link: opts.link, relay: opts.relay, names })
    })
  })
  const stop = (): Promise<void> =>
Promise.all(procs.map((p) => stopChild(p))).then(() => undefined)
  let batches: Awaited<(typeof started)[number]>[]
  try {
    batches = await Promise.all(started)
  } catch (err) {
    await stop()
    throw err
  }
  return {
    count: opts.count,
    via: () => {
      const sum: Record<string, number> = {}
      for (const v of via) for (const [k, n] of Object.entries(v ?? {})) sum[k] = (sum[k] ?? 0) + n
      return sum
    },
    present: () => Math.min(...present),
    react: (startAt, spreadMs) => {
      for (const b of batches) b.proc.send({ type: 'react', startAt, spreadMs, first: b.first, total: opts.count })
    },
    stop,
  }
}

/** The child's side. */
function child(): void {
  const peers: HeadlessPeer[] = []
  let report: NodeJS.Timeout | null = null
  const send = (msg: object): void => void process.send?.(msg)
  const start = async (cmd: Extract<Command, { type: 'start' }>): Promise<void> => {
    for (const name of cmd.names) peers.push(await startHeadlessPeer({ link: cmd.link, relay: [cmd.relay], name, loopbackOnly: true, reportEvery: 3600 }))
    send({ type: 'started', ids: peers.map((p) => p.id) })
    report = setInterval(() => {
      const via: Record<string, number> = {}
      for (const p of peers) via[p.client.via] = (via[p.client.via] ?? 0) + 1
      send({ type: 'status', via, present: Math.min(...peers.map((p) => p.client.mesh.present.size + 1)) })
    }, 500)
  }
  const react = (cmd: Extract<Command, { type: 'react' }>): void => {
    peers.forEach((p, i) => {
      const emoji = REACTIONS[(cmd.first + i) % REACTIONS.length]!.emoji
      const at = cmd.startAt + ((cmd.first + i) * cmd.spreadMs) / cmd.total
      setTimeout(() => p.client.setPresence({ reaction: { emoji, at: Date.now() } }), Math.max(0, at - Date.now()))
    })
  }
  process.on('message', (cmd: Command) => {
    if (cmd.type === 'start') start(cmd).catch((err: unknown) => send({ type: 'error', message: String((err as Error)?.stack ?? err) }))
    else if (cmd.type === 'react') react(cmd)
    else {
      if (report) clearInterval(report)
      void Promise.allSettled(peers.map((p) => p.stop())).then(() => process.exit(0))
    }
  })
  process.on('disconnect', () => process.exit(0))
}

if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) child()
