/**
 * Part of the mesh bench: state convergence in a room of N, in the mode the topology puts
 * a room of N in. `hand/N`: a hand raise until every one of N peers (1 speaker with a tone,
 * N-1 silent listeners, 5 peers per child process) shows it in its state.
 *
 * Up to mesh size the room is a full mesh and a raise travels over its data channels;
 * past it (with the bench's relay, which every link's host serves) the room is on the
 * relay and a raise goes through the relay's copy of the room doc (a star). The room
 * counts as formed when every peer is connected to every other one (mesh) or plays
 * from a ready relay and has the room state (relay); a room that never forms fails the
 * case with how far it got.
 *
 * On the relay the peers' processes run at a lower CPU priority (nice 10) than the bench's
 * own, which hosts the relay: in a real room the relay is another machine, and here 50
 * listeners decoding the speaker (~3.5 % of a core each) saturate both cores on their own,
 * so at equal priority the relay starved until joiners gave up (signalling and welcomes
 * timing out after 10 s). Even so that decoding keeps both cores busy at 50, and what the case
 * then measures is mostly waiting for a core: BENCH_MESH_HAND_TONE=0 seats the speaker
 * without audio, to see the convergence itself.
 */
import { generateIdentity } from '../../src/identity/index.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { DEFAULT_LIMITS, planTopology, type TopologyLimits } from '../../src/net/topology.ts'
import { benchCase, summarize, waitFor, type BenchCase } from './stats.ts'
import { MeshWorker } from './mesh-procs.ts'
import type { PeerStatus } from './mesh-worker.ts'

const PEERS_PER_PROCESS = 5
const TONE = process.env.BENCH_MESH_HAND_TONE === '0' ? 0 : 440
/** A room of 50 on the relay took 115 s to form with the box's load at 16: 4 s a peer, 150 s at least. */
const formTimeoutMs = (n: number): number => Math.max(150_000, n * 4000)

const now = (): number => performance.now()
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d
const log = (msg: string): void => void process.stderr.write(`mesh: ${msg}\n`)

interface Placed {
  worker: MeshWorker
  index: number
}

/** The mode the topology plans for a room of `n` with a relay to use. */
export function roomModeOf(n: number, limits: TopologyLimits): 'mesh' | 'relay' {
  const ids = Array.from({ length: n }, (_, i) => `p${i}`)
  const mode = planTopology({ self: ids[0]!, present: ids, speakers: new Set(), relayAvailable: true, current: 'mesh', joined: true }, limits).mode
  return mode === 'relay' ? 'relay' : 'mesh'
}

/**
 * Starts the room over the child processes: the speaker first (in the first process), then the
 * listeners, 100 ms apart in each process. The processes start theirs together for a mesh, one
 * after another for a room on the relay: 50 joins within a second swamp the relay of this shared
 * 2-core box (welcomes and signalling time out, and those peers give up), which is not what this
 * case measures (relay-join-storm.test.ts is where a crowd joins at once).
 */
async function startRoom(origin: string, n: number, limits: TopologyLimits, workers: MeshWorker[], mode: 'mesh' | 'relay'): Promise<Placed[]> {
  const links = await createRoomLinks(await generateIdentity(), { title: `bench hands ${n}`, topic: '', origin })
  await Promise.all(workers.map((w) => w.ready))
  const listeners: Placed[] = []
  const start = async (w: MeshWorker, i: number): Promise<void> => {
    const count = Math.min(PEERS_PER_PROCESS, n - i * PEERS_PER_PROCESS) - (i === 0 ? 1 : 0)
    await w.call({ op: 'start', link: links.listener, count, limits, staggerMs: 100, ...(i === 0 ? { speaker: { link: links.speaker, freq: TONE } } : {}) })
    for (let k = 0; k < count; k++) listeners.push({ worker: w, index: k + (i === 0 ? 1 : 0) })
  }
  if (mode === 'mesh') await Promise.all(workers.map(start))
  else for (const [i, w] of workers.entries()) await start(w, i)
  return listeners
}

/**
 * Waits until the room of `n` is formed in `mode` (see the module comment): the last statuses, the
 * peers started again after a fatal failure (mesh-worker.ts) and those failures.
 */
async function formed(workers: MeshWorker[], n: number, mode: 'mesh' | 'relay'): Promise<{ statuses: PeerStatus[]; restarts: number; failures: string[] }> {
  let failures: string[] = []
  let restarts = 0
  const statuses = async (): Promise<PeerStatus[]> => {
    const all = await Promise.all(workers.map((w) => w.call<{ peers: PeerStatus[]; failures: string[]; restarts: number }>({ op: 'status' })))
    failures = all.flatMap((s) => s.failures)
    restarts = all.reduce((a, s) => a + s.restarts, 0)
    return all.flatMap((s) => s.peers)
  }
  const ok = (p: PeerStatus): boolean => (mode === 'mesh' ? p.connected === n - 1 : p.exists && p.via === 'relay' && p.relay === 'ready')
  let last: PeerStatus[] = []
  await waitFor(
    mode === 'mesh' ? `a full mesh of ${n}` : `a room of ${n} on its relay`,
    async () => {
      last = await statuses()
      return last.length === n && last.every(ok)
    },
    formTimeoutMs(n),
    250,
  ).catch((err: Error) => {
    const got = mode === 'mesh' ? `${last.reduce((a, p) => a + p.connected, 0) / 2} of ${(n * (n - 1)) / 2} connections up` : `${last.filter(ok).length} of ${n} peers on the relay`
    const where = new Map<string, number>()
    for (const p of last) {
      const k = `${p.via}/${p.relay}${p.exists ? '' : '/no-state'} seeing ${p.present}`
      where.set(k, (where.get(k) ?? 0) + 1)
    }
    const why = [...new Set([...failures, ...last.map((p) => p.relayFailure && `relay: ${p.relayFailure}`)].filter(Boolean))].slice(0, 3)
    throw new Error(`${err.message} (${got}, ${restarts} restarted; via/relay: ${[...where].map(([k, v]) => `${k} ${v}`).join(', ') || 'no status'}${why.length ? `; ${why.join(' | ')}` : ''})`)
  })
  return { statuses: last, restarts, failures }
}

export async function handConvergence(origin: string, n: number, reps: number, cases: BenchCase[]): Promise<Record<string, unknown>> {
  const limits: TopologyLimits = { ...DEFAULT_LIMITS, hardCap: Math.max(DEFAULT_LIMITS.hardCap, n) }
  const mode = roomModeOf(n, limits)
  const t0 = now()
  const workers = Array.from({ length: Math.ceil(n / PEERS_PER_PROCESS) }, (_, i) => new MeshWorker(`hands-${n}-${i}`, mode === 'relay' ? { nice: 10 } : {}))
  try {
    const listeners = await startRoom(origin, n, limits, workers, mode)
    const { statuses: last, restarts, failures } = await formed(workers, n, mode)
    const setupS = round((now() - t0) / 1000)
    const reconnects = last.reduce((a, p) => a + p.reconnects, 0)
    log(`hand/${n}: ${mode === 'mesh' ? 'full mesh' : 'room on its relay'} of ${n} up in ${setupS} s (${reconnects} mesh reconnects, ${restarts} peers started again${failures.length ? `: ${failures.slice(0, 2).join(' | ')}` : ''})`)

    const raise: number[] = []
    const lower: number[] = []
    const perPeer: number[] = []
    const statusKey = async (who: Placed) => (await who.worker.call<{ peers: PeerStatus[] }>({ op: 'status' })).peers[who.index]!.id
    const round1 = async (who: Placed, op: 'raise' | 'lower', key: string | null): Promise<{ key: string; ms: number }> => {
      // Arm every process's watch before acting, so no state change is missed.
      const k = key ?? (await statusKey(who))
      await Promise.all(workers.map((w) => w.call({ op: 'arm', key: k, raised: op === 'raise' })))
      const { t0: at } = await who.worker.call<{ t0: number }>({ op, index: who.index })
      const got = await Promise.all(workers.map((w) => w.call<{ times: Record<string, number>; missing: number }>({ op: 'collect', timeoutMs: 20_000 })))
      const missing = got.reduce((a, g) => a + g.missing, 0)
      if (missing) throw new Error(`mesh bench: ${missing} of ${n} peers never saw the ${op}`)
      const times = got.flatMap((g) => Object.values(g.times)).map((t) => t - at)
      if (op === 'raise') perPeer.push(...times)
      return { key: k, ms: Math.max(...times) }
    }
    for (let r = 0; r < reps; r++) {
      const who = listeners[r % listeners.length]!
      const up = await round1(who, 'raise', null)
      raise.push(up.ms)
      lower.push((await round1(who, 'lower', up.key)).ms)
    }
    cases.push(
      benchCase(`hand/${n}`, 'ms', raise, {
        note: `all ${n} peers, ${mode}${TONE ? '' : ', silent speaker'}; median peer ${round(summarize(perPeer).median)} ms, lower ${round(summarize(lower).median)} ms, up in ${setupS} s, ${workers.length} proc${restarts ? `, ${restarts} restarted` : ''}`,
      }),
    )
    return { n, mode, tone: TONE, processes: workers.length, limits, setupS, reconnectsDuringSetup: reconnects, restartedDuringSetup: restarts, setupFailures: failures, lowerMs: summarize(lower), perPeerRaiseMs: summarize(perPeer), lowerValues: lower }
  } finally {
    await Promise.all(workers.map((w) => w.close()))
  }
}
