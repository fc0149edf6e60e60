/**
 * Relay bench part: a room spread over a cascade of 3 relays, the scale-out path
 * past one machine (relay/cascade/, docs/relay.md "Cascading between relays").
 *
 * Relays A, B and C (relay-child-relay.ts, each alone in its process, forwarding in
 * its main thread) find each other on a hyperdht testnet on 127.0.0.1, as
 * test/integration/relay-cascade.test.ts does; a fourth relay child without swarm serves
 * the room's signalling (the links' origin), so the three do forwarding only. The tone
 * and click speakers (relay-audience.ts) use relay A only. On each relay a first headless
 * listener brings the room there (its members' sync; the relay then finds the others
 * serving it), then BENCH_RELAY_CASCADE_CROWD (default 15) werift listeners (relay-child-listeners.ts;
 * loss, no decoding; one child per relay at nice 10) and BENCH_RELAY_CASCADE_SINKS
 * (default 2) headless listeners recording the clicks at the sink join it; every listener
 * is given its own relay only (no standby elsewhere). A's listeners hear the speakers directly, B's and C's
 * over one cascade hop (A forwards each speaker once to B and once to C).
 *
 * Measured together over one window: mouth-to-ear at the sinks per relay, and per relay
 * CPU (mean of 1 s samples), forwarded streams and CPU per stream, with the crowd's loss
 * per relay. Then BENCH_RELAY_CASCADE_JOINS (default 7) late joins per relay, one after
 * another, each timed by its own `first-audio` event (`joined` to the tone first heard).
 * Everyone uses { meshSize: 2, hysteresis: 1 }: the room is on its relays from the start.
 *
 * Cases: `cascade/<X> m2e sink`, `cascade/<X> late-join` for X = A, B, C.
 */
import createTestnet, { type Testnet } from 'hyperdht/testnet.js'
import { generateIdentity } from '../../src/identity/index.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { deriveDiscoveryKey } from '../../src/room/index.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'
import { addListeners, gapsOf, lossPct, measureWindow, spawnChild, stopChild, type Child, type RelayRoomInfo } from './relay-children.ts'
import { clickCase, clickListener, joinCase, lateJoins, recordClicks, roomKeys, startSpeakers, type ClickListener, type JoinTimes, type Speakers, type Where } from './relay-audience.ts'
import { CLICK_PERIOD_MS } from './mesh-clicks.ts'
import { summarize, waitFor, type BenchCase } from './stats.ts'

export interface CascadeRequest {
  /** Per relay: headless click sinks, werift listeners, late joins. */
  sinks: number
  crowd: number
  joins: number
  clicks: number
}

const NAMES = ['A', 'B', 'C'] as const
const LIMITS = { meshSize: 2, hysteresis: 1, hardCap: 60 }
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d
const log = (msg: string): void => void process.stderr.write(`relay bench: cascade: ${msg}\n`)
const wsOf = (origin: string): string => origin.replace(/^http/, 'ws') + '/relay'

interface Side {
  name: (typeof NAMES)[number]
  relay: Child
  origin: string
  crowd: Child
  /** The first listener on the relay (it brings the room there), then the sinks that join once the crowd is in. */
  seed: ClickListener | null
  sinks: ClickListener[]
}

export async function relayCascade(req: CascadeRequest, cases: BenchCase[]): Promise<Record<string, unknown>> {
  let testnet: Testnet | null = null
  const children: Child[] = []
  const recording = { on: false }
  let speakers: Speakers | null = null
  const sides: Side[] = []
  try {
    testnet = await createTestnet(3, { host: '127.0.0.1' })
    const swarm = `--swarm=${JSON.stringify(testnet.bootstrap)}`
    const signal = spawnChild('relay')
    const relays = NAMES.map(() => spawnChild('relay', ['--expose-gc'], [swarm]))
    const crowds = NAMES.map(() => spawnChild('listeners', [], [], { nice: 10 }))
    children.push(signal, ...relays, ...crowds)
    const [sig, ...ready] = await Promise.all([signal, ...relays].map((c) => c.next('ready', 90_000)))
    await Promise.all(crowds.map((c) => c.next('ready', 60_000)))
    for (const [i, name] of NAMES.entries()) sides.push({ name, relay: relays[i]!, origin: ready[i]!.url!, crowd: crowds[i]!, seed: null, sinks: [] })
    const where: Where = { links: await createRoomLinks(await generateIdentity(), { title: 'bench cascade', topic: '', origin: sig!.url! }), limits: LIMITS }
    const discovery = discoveryHex(deriveDiscoveryKey(where.links.roomId))

    const t0 = performance.now()
    speakers = await startSpeakers(where, [wsOf(sides[0]!.origin)])
    const sp = speakers
    for (const side of sides) side.seed = await clickListener(where, [wsOf(side.origin)], sp.clicks.id, recording)
    const heardAfterS: Record<string, number> = {}
    await waitFor(
      () => `a listener on every relay with the click track (${sides.filter((s) => !s.seed!.hasTrack()).map((s) => s.name)} not yet)`,
      () => {
        for (const s of sides) if (!(s.name in heardAfterS) && s.seed!.hasTrack()) heardAfterS[s.name] = round((performance.now() - t0) / 1000, 2)
        return Object.keys(heardAfterS).length === sides.length
      },
      120_000,
      100,
    )
    const info = await Promise.all(sides.map((s) => roomInfo(s.relay, discovery)))
    log(`a listener on each relay hears the clicks (after ${JSON.stringify(heardAfterS)} s); links ${info.map((x, i) => `${NAMES[i]} -> ${x.links.length}`).join(', ')}`)

    const { roomId, secret } = roomKeys(where.links.listener)
    const added = await Promise.all(sides.map((s) => addListeners(s.crowd, { url: s.origin, roomId, secret, n: req.crowd, speakers: 2 })))
    for (const side of sides) for (let i = 0; i < req.sinks; i++) side.sinks.push(await clickListener(where, [wsOf(side.origin)], sp.clicks.id, recording))
    await waitFor('every sink with the click track', () => sides.every((s) => s.sinks.every((l) => l.hasTrack())), 60_000, 50)
    await new Promise((r) => setTimeout(r, 1500)) // past the first packets and NetEq's start-up
    const windowMs = req.clicks * CLICK_PERIOD_MS + 400
    const sinks = [...sides.flatMap((s) => s.sinks), ...sides.map((s) => s.seed!)]
    const [w, rec] = await Promise.all([measureWindow(relays, crowds, windowMs), recordClicks(sp, sinks, recording, req.clicks)])
    const joins: JoinTimes[] = []
    for (const side of sides) {
      log(`${req.joins} late joins on ${side.name}`)
      joins.push(await lateJoins(where, [wsOf(side.origin)], speakers.tone.id, req.joins))
    }
    const out: Record<string, unknown> = { limits: LIMITS, perRelay: { sinks: req.sinks, crowd: req.crowd, joins: req.joins }, sinksHearAfterS: heardAfterS }
    for (const [i, side] of sides.entries()) {
      const r = w.relays[i]!
      const cpu = summarize(r.cpu)
      const relayOut = {
        streams: r.streams,
        cpuPct: { median: round(cpu.median), p95: round(cpu.p95), mean: round(cpu.mean) },
        cpuPerStreamPct: round(cpu.mean / Math.max(1, r.streams), 4),
        idleCpuPct: round(ready[i]!.idleCpu!, 2),
        marginalCpuPerStreamPct: round(Math.max(0, cpu.mean - ready[i]!.idleCpu!) / Math.max(1, r.streams), 4),
        packetsInPerS: round(r.packetsIn / r.seconds),
        packetsOutPerS: round(r.packetsOut / r.seconds),
        rssMb: round(r.rss / 2 ** 20),
        crowdLossPct: round(lossPct([w.listeners[i]!]), 3),
        crowdMaxGapMs: gapsOf([w.listeners[i]!]),
        crowdJoined: added[i]!.total,
        links: info[i]!.links.length,
        remotePublishers: info[i]!.remote.length,
        localPublishers: info[i]!.publishers.length - info[i]!.remote.length,
      }
      const hop = i === 0 ? "speakers' relay" : 'one cascade hop'
      const extra = { hop, 'relay cpu%': relayOut.cpuPct.mean, streams: r.streams, 'cpu%/stream': relayOut.cpuPerStreamPct }
      const m2e = clickCase(`cascade/${side.name} m2e sink`, rec, extra, side.sinks.map((l) => sinks.indexOf(l)))
      // The seed lived through the crowd's joins (see relay-crowd.ts): apart, not pooled.
      const seed = clickCase(`cascade/${side.name} seed`, rec, {}, [sinks.indexOf(side.seed!)])
      cases.push(m2e, joinCase(`cascade/${side.name} late-join`, joins[i]!, { hop }))
      out[side.name] = {
        relay: relayOut,
        m2eSinkMs: { median: m2e.median, p95: m2e.p95, samples: m2e.samples, note: m2e.extra?.note },
        m2eSeedSinkMs: { median: seed.median, p95: seed.p95, samples: seed.samples },
        lateJoins: { firstAudioMs: summarize(joins[i]!.firstAudioMs), toJoinedMs: summarize(joins[i]!.toJoinedMs), failed: joins[i]!.failed, via: joins[i]!.via },
      }
    }
    return out
  } finally {
    for (const s of sides) await Promise.all([...s.sinks, ...(s.seed ? [s.seed] : [])].map((l) => l.stop()))
    await speakers?.stop()
    await Promise.all(children.map(stopChild))
    await testnet?.destroy()
  }
}

async function roomInfo(relay: Child, discovery: string): Promise<RelayRoomInfo> {
  const info = relay.next('room-info', 10_000)
  relay.send({ t: 'room-info', discovery })
  return info
}
