/**
 * Processes a lab test runs inside its namespaces: the real `stoop relay` (or the same relay
 * serving a test's own build of the app, app-relay-main.ts) and headless peers (peer-main.ts), with their JSON events as they come and a wait for one.
 *
 * STOOP_NETNS_LOGS=<dir> also writes every process's whole stdout and stderr there, one
 * file each (`<name>-<start ms>.log`): a failure prints only the last few events.
 */
import type { ChildProcess } from 'node:child_process'
import { appendFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { waitFor } from '../../helpers/wait.ts'
import { ADDR, LAB_SUBNET, type Lab, type NsName } from './lab.ts'

const STOOP = fileURLToPath(new URL('../../../src/cli/stoop.js', import.meta.url))
const PEER_MAIN = fileURLToPath(new URL('./peer-main.ts', import.meta.url))
const APP_RELAY_MAIN = fileURLToPath(new URL('./app-relay-main.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

export type Event = { event?: string; t?: number } & Record<string, unknown>

export interface LabProc {
  readonly child: ChildProcess
  /** Date.now() when it was spawned (events carry `t` on the same clock). */
  readonly startedAt: number
  readonly events: readonly Event[]
  readonly stderr: () => string
  /** The first event (seen or to come) that matches; fails with the last events and stderr. */
  next(match: (ev: Event) => boolean, timeoutMs?: number): Promise<Event>
  /** SIGTERM, then SIGKILL after 10 s; resolves once it exited. */
  stop(): Promise<void>
  kill(signal: NodeJS.Signals): Promise<void>
}

function wrap(name: string, child: ChildProcess): LabProc {
  const startedAt = Date.now()
  const events: Event[] = []
  let stderr = ''
  const logDir = process.env.STOOP_NETNS_LOGS
  const log = logDir ? (text: string) => appendFileSync(`${logDir}/${name}-${startedAt}.log`, text) : () => undefined
  createInterface({ input: child.stdout! }).on('line', (line) => {
    log(`${line}\n`)
    try {
      const ev: unknown = JSON.parse(line)
      if (ev !== null && typeof ev === 'object') events.push(ev as Event)
    } catch (err) {
      void err // text lines (the relay's banner) are not events
    }
  })
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000)
    log(`stderr: ${d.toString()}`)
  })
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  const running = () => child.exitCode === null && child.signalCode === null
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (running()) child.kill(signal)
    await exited
  }
  return {
    child,
    startedAt,
    events,
    stderr: () => stderr,
    async next(match, timeoutMs = 30_000) {
      await waitFor(() => `${name}: a matching event; last ${JSON.stringify(events.slice(-4))}; exit ${child.exitCode}; stderr ${stderr.slice(-1500)}`, () => events.some(match), timeoutMs)
      return events.find(match)!
    },
    async stop() {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await kill('SIGTERM')
      clearTimeout(timer)
    },
    kill,
  }
}

/** `stoop relay` in the public namespace on 10.77.0.1 (STUN on its default port unless told). */
export function startLabRelay(lab: Lab, args: readonly string[] = []): LabProc {
  const child = lab.spawn('pub', [process.execPath, STOOP, 'relay', '--host', ADDR.relay, '--log-level', 'warn', ...(args.includes('--port') ? [] : ['--port', '8787']), ...args], { cwd: ROOT })
  return wrap('relay', child)
}

/** The same relay serving the app built into `dist` (app-relay-main.ts), for a browser in the lab. */
export function startLabAppRelay(lab: Lab, dist: string): LabProc {
  const child = lab.spawn('pub', [process.execPath, '--import', 'tsx', APP_RELAY_MAIN, JSON.stringify({ host: ADDR.relay, dist })], { cwd: ROOT })
  return wrap('relay', child)
}

/** Resolves once the relay answers HTTP (asked from inside the lab, by node: curl is not assumed). */
export async function relayReady(lab: Lab, port = 8787, timeoutMs = 20_000): Promise<void> {
  const probe = `fetch('http://${ADDR.relay}:${port}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`
  const answers = () => lab.exec('pub', [process.execPath, '-e', probe]).then(() => true, () => false)
  await waitFor(`the relay to answer /healthz on port ${port}`, answers, timeoutMs, 250)
}

export interface LabPeerOptions {
  link: string
  name: string
  speak?: number
  record?: string
  key?: string
  ice?: string[]
  relay?: string[] | false
  meshSize?: number
}

/** A headless peer in `where`, signalling through the lab relay, candidates kept inside the lab. */
export function startLabPeer(lab: Lab, where: NsName, opts: LabPeerOptions): LabProc {
  const args = { subnet: LAB_SUBNET, signal: `ws://${ADDR.relay}:8787/signal`, ...opts }
  const child = lab.spawn(where, [process.execPath, '--import', 'tsx', PEER_MAIN, JSON.stringify(args)], { cwd: ROOT })
  return wrap(opts.name, child)
}
