/**
 * Relay bench part: what a listener of a big room hears, and how fast a late joiner
 * hears it, on a relay carrying a crowd (BENCH_RELAY_CROWD, default 50 listeners).
 *
 * One room, on a relay of its own (relay-child-relay.ts, alone in its process): a
 * tone speaker and a click speaker (relay-audience.ts) and BENCH_RELAY_CROWD_SINKS
 * (default 3) headless listeners recording the clicks at the sink of the relay track,
 * all in this process. Everyone uses { meshSize: 2, hysteresis: 1 }, so the room is on
 * the relay before anything is timed (the topology rules are not what is measured
 * here; relay-join-storm.test.ts and the mesh bench's hand/N use the room's real size).
 *
 *   1. quiet: the clicks are recorded at the sinks, then BENCH_RELAY_LATE_JOINS (default 20)
 *      listeners join one after another, each timed by its own `first-audio` event (`joined`
 *      to the tone first heard: what `stoop peer --json` reports)
 *   2. the crowd: relay-child-listeners.ts's werift listeners (they count loss and verify SRTP, decode
 *      nothing; in child processes at nice 10, standing for other devices than the relay's)
 *      subscribe to the same room, then as many sinks again join it
 *   3. crowded: the clicks are recorded at every sink while the relay's CPU and the crowd's
 *      loss are measured over the same window, then the late joins again
 *
 * Cases: `late-join relay room` / `late-join relay room+<N>` (ms, joined -> first audio),
 * `m2e/relay quiet sink` / `m2e/relay+<N> sink` (ms, click mouth-to-ear at the sink; the
 * crowded one at the sinks that joined the crowded room), and `m2e/relay+<N> sink, there
 * before the crowd` (the first sinks, which lived through the crowd's joins).
 */
import { generateIdentity } from '../../src/identity/index.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { addListeners, gapsOf, lossPct, measureWindow, spawnChild, stopChild, type Child } from './relay-children.ts'
import { clickCase, clickListener, joinCase, lateJoins, recordClicks, roomKeys, startSpeakers, type ClickListener, type Speakers, type Where } from './relay-audience.ts'
import { CLICK_PERIOD_MS } from './mesh-clicks.ts'
import { summarize, waitFor, type BenchCase } from './stats.ts'

export interface CrowdRequest {
  /** Listeners the relay carries in the crowded phase: the click sinks (twice `sinks`) and the werift crowd. */
  listeners: number
  sinks: number
  clicks: number
  joins: number
  /** Child processes for the werift crowd. */
  procs: number
}

const LIMITS = { meshSize: 2, hysteresis: 1, hardCap: 60 }
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d
const log = (msg: string): void => void process.stderr.write(`relay bench: crowd: ${msg}\n`)

/** The `i`-th of `parts` near-equal shares of `n`. */
export const share = (n: number, parts: number, i: number): number => Math.floor(n / parts) + (i < n % parts ? 1 : 0)

export async function relayCrowd(req: CrowdRequest, cases: BenchCase[]): Promise<Record<string, unknown>> {
  const relay = spawnChild('relay', ['--expose-gc'])
  const crowd: Child[] = Array.from({ length: req.procs }, () => spawnChild('listeners', [], [], { nice: 10 }))
  const recording = { on: false }
  let speakers: Speakers | null = null
  const before: ClickListener[] = []
  const after: ClickListener[] = []
  try {
    const [ready] = await Promise.all([relay.next('ready', 60_000), ...crowd.map((c) => c.next('ready', 60_000))])
    const origin = ready.url!
    const url = origin.replace(/^http/, 'ws') + '/relay'
    const where: Where = { links: await createRoomLinks(await generateIdentity(), { title: 'bench crowd', topic: '', origin }), limits: LIMITS }
    speakers = await startSpeakers(where, [url])
    const sp = speakers
    const addSinks = async (into: ClickListener[]): Promise<void> => {
      for (let i = 0; i < req.sinks; i++) into.push(await clickListener(where, [url], sp.clicks.id, recording))
      const everyone = [sp.tone, sp.clicks, ...into.map((s) => s.peer)]
      await waitFor('the room on its relay, every sink with the click track', () => into.every((s) => s.hasTrack()) && everyone.every((p) => p.client.mesh.connected.length === 0), 60_000, 50)
      await new Promise((r) => setTimeout(r, 1500)) // past the first packets and NetEq's start-up
    }
    await addSinks(before)
    const quiet = clickCase('m2e/relay quiet sink', await recordClicks(sp, before, recording, req.clicks), { listeners: req.sinks })
    log(`${req.joins} late joins, quiet room`)
    const quietJoins = await lateJoins(where, [url], sp.tone.id, req.joins)
    cases.push(quiet, joinCase('late-join relay room', quietJoins, { listeners: req.sinks }))

    const tap = req.listeners - 2 * req.sinks
    log(`${tap} more listeners, then ${req.sinks} more sinks`)
    const { roomId, secret } = roomKeys(where.links.listener)
    const added = await Promise.all(crowd.map((c, i) => addListeners(c, { url: origin, roomId, secret, n: share(tap, req.procs, i), speakers: 2 })))
    await addSinks(after)
    const n = added.reduce((a, x) => a + x.total, 0) + 2 * req.sinks
    const windowMs = req.clicks * CLICK_PERIOD_MS + 400
    const [w, rec] = await Promise.all([measureWindow([relay], crowd, windowMs), recordClicks(sp, [...after, ...before], recording, req.clicks)])
    const r = w.relays[0]!
    const cpu = summarize(r.cpu)
    const relayOut = {
      listeners: n,
      streams: r.streams,
      cpuPct: { median: round(cpu.median), p95: round(cpu.p95), mean: round(cpu.mean) },
      cpuPerStreamPct: round(cpu.mean / Math.max(1, r.streams), 4),
      idleCpuPct: round(ready.idleCpu!, 2),
      marginalCpuPerStreamPct: round(Math.max(0, cpu.mean - ready.idleCpu!) / Math.max(1, r.streams), 4),
      rssMb: round(r.rss / 2 ** 20),
      packetsOutPerS: round(r.packetsOut / r.seconds),
      lagP99Ms: round(r.lagP99Ms),
      crowdLossPct: round(lossPct(w.listeners), 3),
      crowdMaxGapMs: gapsOf(w.listeners),
      crowdFailedToJoin: added.reduce((a, x) => a + x.failed, 0),
      crowdJoinRetries: added.reduce((a, x) => a + x.retries, 0),
    }
    const fresh = after.map((_, i) => i)
    const old = before.map((_, i) => after.length + i)
    // The sinks that joined the crowded room are what a listener of a big room hears; those that were
    // there while the crowd joined show what the joins left in their jitter buffers.
    const crowded = clickCase(`m2e/relay+${n} sink`, rec, { listeners: n, 'relay cpu%': relayOut.cpuPct.mean, 'crowd loss%': relayOut.crowdLossPct }, fresh)
    const through = clickCase(`m2e/relay+${n} sink, there before the crowd`, rec, { listeners: n }, old)
    log(`${req.joins} late joins, ${n} listeners`)
    const crowdedJoins = await lateJoins(where, [url], sp.tone.id, req.joins)
    cases.push(crowded, through, joinCase(`late-join relay room+${n}`, crowdedJoins, { listeners: n, 'relay cpu%': relayOut.cpuPct.mean }))
    const m2e = (c: BenchCase) => ({ median: c.median, p95: c.p95, samples: c.samples, note: c.extra?.note })
    const joins = (j: typeof quietJoins) => ({ firstAudioMs: summarize(j.firstAudioMs), toJoinedMs: summarize(j.toJoinedMs), failed: j.failed, via: j.via })
    return {
      limits: LIMITS,
      sinks: req.sinks,
      quiet: { m2eSinkMs: m2e(quiet), lateJoins: joins(quietJoins) },
      crowded: { relay: relayOut, m2eSinkMs: m2e(crowded), m2eSinkThereBeforeMs: m2e(through), lateJoins: joins(crowdedJoins) },
    }
  } finally {
    await Promise.all([...before, ...after].map((s) => s.stop()))
    await speakers?.stop()
    await Promise.all([relay, ...crowd].map(stopChild))
  }
}
