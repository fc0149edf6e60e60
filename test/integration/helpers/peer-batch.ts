/**
 * The parent's side of listener-proc.ts: a batch of headless peers in a child
 * process of their own, their status as last reported (every 250 ms), and a
 * stop that waits for the child to exit (killed if it takes over 10 s).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { setPriority } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { TopologyLimits } from '../../../src/net/topology.ts'
import { stopChild } from '../../helpers/child.ts'

const CHILD = fileURLToPath(new URL('./listener-proc.ts', import.meta.url))

export interface BatchPeer {
  name: string
  link: string
  relay: string[]
  /** Speak a tone of this frequency while on stage. */
  tone?: number
}

export interface PeerStatus {
  name: string
  url: string | null
  state: string | null
  /** Its failover reserve on another relay is connected and subscribed. */
  standby: boolean
  via: string
  hears: Record<string, boolean>
  /** Longest silence (ms) since the last `mark()`, or null before any. */
  gap: number | null
}

export interface PeerBatch {
  readonly proc: ChildProcess
  /** Participant id by peer name. */
  readonly ids: ReadonlyMap<string, string>
  /** Last reported status by peer name. */
  readonly status: ReadonlyMap<string, PeerStatus>
  /** How the child ended, if it did ('SIGSEGV', 'code 1'); null while it runs. */
  readonly exit: string | null
  /** Starts measuring gaps from now. */
  mark(): void
  stop(): Promise<void>
}

export interface BatchOptions {
  limits: TopologyLimits
  /** Tones each peer reports whether it hears. */
  freqs: number[]
  /**
   * Run the child at a lower CPU priority: in a real room every listener is its own device;
   * here dozens share two cores with the relays and, at equal priority, starve them.
   */
  nice?: number
}

export function spawnPeerBatch(peers: BatchPeer[], opts: BatchOptions): Promise<PeerBatch> {
  const proc = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  if (opts.nice && proc.pid !== undefined) setPriority(proc.pid, opts.nice)
  const ids = new Map<string, string>()
  const status = new Map<string, PeerStatus>()
  let stopping: Promise<void> | null = null
  let exit: string | null = null
  proc.once('exit', (code, signal) => {
    exit = signal ?? `code ${code}`
    // Not asked to stop: its peers vanished without a goodbye, which explains what follows.
    if (!stopping) console.error(`peer batch (${peers.map((p) => p.name).join(', ')}) exited unasked: ${exit}`)
  })
  const batch: PeerBatch = {
    proc,
    ids,
    status,
    get exit() {
      return exit
    },
    mark: () => {
      if (proc.connected) proc.send({ type: 'mark' })
    },
    stop: () =>
      (stopping ??= stopChild(proc)),
  }
  proc.on('message', (msg: { type: string; peers?: PeerStatus[] }) => {
    if (msg.type === 'status') for (const p of msg.peers!) status.set(p.name, p)
  })
  return new Promise<PeerBatch>((ok, ko) => {
    proc.on('message', (msg: { type: string; message?: string; ids?: Record<string, string> }) => {
      for (const [name, id] of Object.entries(msg.ids ?? {})) ids.set(name, id)
      if (msg.type === 'started') ok(batch)
      else if (msg.type === 'error') ko(new Error(msg.message))
    })
    proc.once('exit', (code, signal) => ko(new Error(`peer batch process exited (${signal ?? code}) before it started`)))
    proc.send({ type: 'start', peers, limits: opts.limits, freqs: opts.freqs })
  })
}
