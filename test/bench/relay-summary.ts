/**
 * The relay bench's summary: the key figures of one run in a flat object (the JSON's
 * `summary`, printed at the end): capacity and memory from the ramp (relay-ramp.ts),
 * 1 vs N workers (relay-workers.ts), and what a listener hears (the heard parts'
 * cases: relay added latency, switch gaps, late joins, mouth-to-ear in a crowd and on a
 * cascade of 3 relays).
 */
import os from 'node:os'
import type { BenchCase } from './stats.ts'
import { PACKET_MS, round } from './relay-common.ts'
import type { RampEnv, RampResult } from './relay-ramp.ts'
import { bestWithin, perListener, type WorkersComparison } from './relay-workers.ts'

export function relaySummary(env: RampEnv, main: RampResult, workers: WorkersComparison | null, cases: BenchCase[]): Record<string, number | string> {
  const { steps, stoppedBy, firstBreach } = main
  const best = bestWithin(steps, env)
  const last = steps.at(-1)
  const summary: Record<string, number | string> = {
    limits: `loss <= ${env.maxLoss}%, added p95 <= ${env.maxAddedMs} ms`,
    stoppedBy,
    firstBreach: firstBreach ?? 'none',
    maxListenersWithinLimits: best?.listeners ?? 0,
    maxStreamsWithinLimits: best?.streams ?? 0,
    /** Streams one core carries at the relay's cost at the largest step within the limits. */
    streamsPerCore: best?.streamsPerCore ?? NaN,
    cpuPerStreamPct: best?.cpuPerStreamPct ?? NaN,
    shareOf1000StreamsPerCore: best ? round(best.streamsPerCore / 1000, 2) : NaN,
    streamsPerCoreLastStep: last?.streamsPerCore ?? NaN,
    rssPerListenerMb: perListener(steps, env, (s) => s.rssMb),
    heapPerListenerMb: perListener(steps, env, (s) => s.heapMb),
    rssSlopeOver: steps.filter((s) => env.rssNs.includes(s.listeners)).map((s) => s.listeners).join(','),
    authFailures: steps.reduce((a, s) => a + s.authFailures, 0),
    /** Forwarding rate per core of relay CPU at the best step within limits (50 packets/s per stream). */
    streamsPerCoreByPackets: best ? Math.round(best.packetsOutPerCoreS / (1000 / PACKET_MS)) : NaN,
    packetsOutPerCoreS: last?.packetsOutPerCoreS ?? NaN,
    host: `${os.cpus().length} cpus, ${os.cpus()[0]?.model ?? '?'}`,
  }
  if (workers) {
    const [w1, wn] = workers.workers
    summary.workersComparedAtN = workers.listeners
    summary[`streamsPerCore${w1}vs${wn}Workers`] = workers.streamsPerCore.join(' vs ')
    summary[`projectedStreams${w1}vs${wn}Workers`] = workers.projectedStreams.join(' vs ')
    summary.workersCapacityRatio = workers.capacityRatio
    summary[`streamsAtBusiestThread100pct${w1}vs${wn}Workers`] = workers.busiestFit.map((f) => f.streamsAt100).join(' vs ')
    summary.workersCapacityRatioByFit = workers.capacityRatioByFit
    summary[`maxListenersWithinLimits${w1}vs${wn}Workers`] = workers.maxListenersWithinLimits.join(' vs ')
    summary[`rssPerListenerMb${w1}vs${wn}Workers`] = workers.rssPerListenerMb.join(' vs ')
  }
  return Object.assign(summary, heardSummary(cases))
}

/** What a listener hears: the heard parts' key figures, from their cases. */
function heardSummary(cases: BenchCase[]): Record<string, number | string> {
  const out: Record<string, number | string> = {}
  const ms = cases.filter((c) => c.unit === 'ms')
  const named = (name: string) => ms.find((c) => c.name === name)
  const added = ['sink', 'heard'].flatMap((point) => {
    const c = named(`m2e/added ${point}`)
    return c ? [`${point}: median ${c.median}, p95 ${c.p95}`] : []
  })
  if (added.length) out.relayAddedLatencyMs = added.join('; ')
  const toRelay = named('switch gap mesh->relay')
  const toMesh = named('switch gap relay->mesh')
  if (toRelay && toMesh) out.switchGapMaxMs = `mesh->relay ${toRelay.max}, relay->mesh ${toMesh.max}`
  const fig = (c: BenchCase) => `p50 ${round(c.median, 1)}, p95 ${round(c.p95, 1)} (${c.samples})`
  const quiet = named('late-join relay room')
  const crowded = ms.find((c) => c.name.startsWith('late-join relay room+'))
  if (quiet) Object.assign(out, { lateJoins: quiet.samples, lateJoinFirstAudioP50Ms: round(quiet.median, 1), lateJoinFirstAudioP95Ms: round(quiet.p95, 1) })
  if (crowded) {
    const n = crowded.name.split('+')[1]!
    Object.assign(out, { lateJoinsCrowded: crowded.samples, [`lateJoinFirstAudioP50MsAt${n}Listeners`]: round(crowded.median, 1), [`lateJoinFirstAudioP95MsAt${n}Listeners`]: round(crowded.p95, 1) })
  }
  for (const c of ms.filter((c) => /^m2e\/relay(\+\d+| quiet) sink/.test(c.name))) out[`${c.name} ms`] = fig(c)
  for (const c of ms.filter((c) => c.name.startsWith('cascade/'))) {
    const cpu = c.extra?.['cpu%/stream']
    out[`${c.name} ms`] = fig(c) + (cpu === undefined ? '' : `; relay ${c.extra?.['relay cpu%']} % for ${c.extra?.streams} streams`)
  }
  return out
}
