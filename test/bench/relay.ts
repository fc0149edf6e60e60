/**
 * Bench: the relay's fan-out capacity (`npm run bench -- relay`).
 *
 * 3 speakers publish to a real relay (startRelay: /relay WebSocket, signed
 * auth and membership proof, room doc replica, speaker validation, werift
 * forwarder); N listeners subscribe; N rises step by step
 * (BENCH_RELAY_NS) until packet loss > 1%, the latency the load adds (p95
 * minus the first step's median) > 20 ms, a listener fails to join, or the
 * time budget (BENCH_RELAY_BUDGET_S, default 200 s) runs out. A breach must
 * hold for BENCH_RELAY_RETRIES more windows (default 2) before it counts (the
 * box may be shared); BENCH_RELAY_MAX_LOSS and BENCH_RELAY_MAX_ADDED_MS change
 * the limits. The steps in BENCH_RELAY_RSS_NS (default 25, 50, 75) are always
 * measured: the summary's per-listener memory is the slope of the relay's RSS
 * (after a full GC) over them (those where every listener joined and loss stayed
 * within the limit). Streams per core: 100 x streams / relay CPU % at
 * the largest step within the limits. Then the wrtc-vs-werift comparison from
 * relay-forwarding.ts runs once (BENCH_RELAY_COMPARE_N, default 20 listeners;
 * 0 skips it) for the ratio.
 *
 * 1 vs N workers: after the ramp above (the relay forwards in its main thread,
 * as `stoop relay` does by default), a second ramp with the same steps and
 * limits and `startRelay({ workers: BENCH_RELAY_WORKERS })` (default 2; 0 or 1
 * skips it), fresh children. Per step, the CPU of each relay thread
 * (/proc/thread-self: the main thread, each forwarding shard) and the streams
 * the relay would carry once its busiest thread is saturated (streams x 100 /
 * busiest thread %); `workers` in the JSON compares the two at the largest step
 * both measured within the limits (streams per core, that projection and its
 * ratio, RSS per listener, loss, latency, load).
 *
 * Processes, all on 127.0.0.1: the relay alone in one child (its CPU, memory
 * and event loop are what is measured), the speakers in one, listeners spread
 * over BENCH_RELAY_PROCS (default 3) children; each is this file forked with
 * `--role=` (relay-children.ts: the messages; relay-child-relay.ts,
 * relay-child-speakers.ts, relay-child-listeners.ts: the roles). Clients speak the relay
 * protocol through RelaySocket (src/net/relay-socket.ts) and use werift for
 * ICE and DTLS; speakers send synthetic 80-byte payloads (about Opus at 32
 * kbps, 20 ms, 50 packets/s) carrying the send time and a counter. A listener
 * skips werift's receive path once connected (relay-tap.ts): loss from the
 * RTP sequence numbers of every packet, latency (one machine, one clock:
 * performance.timeOrigin + now) from one packet in BENCH_RELAY_VERIFY_EVERY
 * (default 4), which werift's SRTP session verifies and decrypts (failures
 * are counted: `authFailures`). A listener has joined once it hears every
 * speaker; a connection that carries nothing is a failed join, tried again.
 *
 * Then what a listener hears through a relay (heardThroughRelay, fresh relay
 * children, headless peers): click latency relay vs mesh, a relay room and a mesh
 * room recorded together (relay-clicks.ts: cases m2e/mesh, m2e/relay,
 * m2e/added), the longest silence per switch mesh -> relay -> mesh
 * (relay-switch.ts: switch gap cases), late joins (`first-audio`) and click latency
 * in a room on a relay carrying 50 listeners (relay-crowd.ts: late-join and
 * m2e/relay+N cases), and the same across a cascade of 3 relays found on a hyperdht
 * testnet (relay-cascade.ts: cascade/A, B, C cases, with each relay's CPU per stream).
 * The ramp is relay-ramp.ts, the workers comparison relay-workers.ts, the heard
 * parts' driver relay-heard.ts and the summary relay-summary.ts.
 *
 * Relay CPU: process.cpuUsage() of the relay child over 1 s samples, percent
 * of one core, and the window's user/kernel split. Run alone: `npx tsx
 * test/bench/relay.ts`. BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the
 * relay per measurement window; BENCH_HEAP_SNAPSHOT=<dir> a heap snapshot per
 * report; BENCH_RELAY_LOG=<level> the relay's JSON log on stderr.
 *
 * A quick dev run (a few minutes; its numbers are not results): BENCH_RELAY_QUICK=1
 * makes the defaults small (steps 10,25,50,75, 4 s windows, no wrtc-vs-werift
 * comparison, 20 clicks, 1 switch round trip, a crowd of 20 with 5 late joins, a
 * cascade of 3 listeners per relay); any BENCH_RELAY_* set by name still wins.
 */
import { pathToFileURL } from 'node:url'
import { environment, type BenchCase, type BenchReport } from './stats.ts'
import { knob } from './relay-common.ts'
import { ramp, rampEnv, stepsTable, type RelayStep } from './relay-ramp.ts'
import { bestWithin, compareWorkers, workersTable, type WorkersComparison } from './relay-workers.ts'
import { heardThroughRelay } from './relay-heard.ts'
import { relaySummary } from './relay-summary.ts'

export interface RelayBenchReport extends BenchReport {
  name: 'relay'
  steps: RelayStep[]
  /** The same steps with the relay forwarding on BENCH_RELAY_WORKERS worker threads. */
  workerSteps: RelayStep[]
  workers: WorkersComparison | null
  maxListeners: number
  stoppedBy: string
  comparison?: unknown
  /** What a listener hears, by part (heardThroughRelay): m2e, switch, crowd, cascade. */
  heard: Record<string, unknown>
  summary: Record<string, number | string>
}

export async function run(): Promise<RelayBenchReport> {
  const env = rampEnv()
  const compareN = knob('COMPARE_N', 20, 0)
  // 1 vs N forwarding threads (BENCH_RELAY_WORKERS, default 2; 0 or 1 skips): a second ramp with the
  // same steps and limits, so both meet the same listeners on the same box, each as far as it stays
  // within the limits.
  const workersN = knob('WORKERS', 2)
  const cases: BenchCase[] = []
  const main = await ramp(1, env.stepsN, env, cases, '')
  const sharded = workersN > 1 ? await ramp(workersN, env.stepsN, env, cases, ` workers=${workersN}`) : null
  const { steps, stoppedBy } = main

  let comparison: unknown
  if (compareN > 0) {
    const { run: forwarding } = await import('./relay-forwarding.ts')
    comparison = await forwarding({ listeners: [compareN], warmupS: 2, measureS: 6 })
  }
  const heard = await heardThroughRelay(cases)

  // Within the limits: the steps before the first breach.
  const best = bestWithin(steps, env)
  console.log('\n' + stepsTable(steps))
  console.log(`stopped by: ${stoppedBy}`)
  const workers = sharded ? compareWorkers(main, sharded, env) : null
  if (sharded) {
    console.log(`\n1 vs ${workersN} workers (stopped by: ${sharded.stoppedBy}):\n` + workersTable(main, sharded))
    if (workers) console.log(`workers: ${JSON.stringify(workers)}`)
  }
  const summary = relaySummary(env, main, workers, cases)
  console.log(`summary: ${JSON.stringify(summary)}`)
  return { name: 'relay', environment: environment(), cases, steps, workerSteps: sharded?.steps ?? [], workers, maxListeners: best?.listeners ?? 0, stoppedBy, comparison, heard, summary }
}

// ---- entry ----------------------------------------------------------------------------------

const role = process.argv.find((a) => a.startsWith('--role='))?.slice(7)
const crash = (err: unknown) => {
  console.error(err)
  process.exit(1)
}
if (role === 'relay') import('./relay-child-relay.ts').then((m) => m.relayMain()).catch(crash)
else if (role === 'speakers') import('./relay-child-speakers.ts').then((m) => m.speakersMain()).catch(crash)
else if (role === 'listeners') import('./relay-child-listeners.ts').then((m) => m.listenersMain()).catch(crash)
else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (report) => console.log(JSON.stringify(report.summary, null, 2)),
    (err: unknown) => {
      console.error(err)
      process.exitCode = 1
    },
  )
}
