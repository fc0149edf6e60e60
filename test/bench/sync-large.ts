/**
 * Bench: a large room log reaching a fresh joiner (issue 12: "a 20,000-entry
 * room reaches a fresh joiner over the mesh and over the relay in <= 3 s on
 * loopback"). The log is the room fixture's (signed entries, ~150 B each).
 *
 *   mesh/sync       two @roamhq/wrtc peers on 127.0.0.1, the data channel as a
 *                   PeerLink: from the joiner attaching its sync (connection
 *                   already up) until its doc holds every entry (room guard on).
 *   mesh/verified   the same as a RoomClient joins: an UpdateVerifier as the
 *                   sync gate (every new entry's signature checked before it
 *                   is applied) and a RoomReplica that reuses its work: until
 *                   every entry is verified and the state computed.
 *   relay/push      the owner pushing the log into an empty relay (once).
 *   relay/sync      a fresh RelayClient (WebSocket on 127.0.0.1) until its doc
 *   relay/verified  holds every entry / its replica has verified them.
 * A sample that does not complete in `BENCH_SYNC_TIMEOUT_MS` is counted in
 * `extra.failed` and left out of the statistics. `extra.cpuMs` is the median
 * CPU time of the whole process (every thread: Ed25519 runs on libuv's pool)
 * per sample, and `extra.mainMs` that of the main thread alone (Linux): wall
 * time on a shared 2-core machine follows the load, CPU time much less.
 *
 * Env: BENCH_SYNC_ENTRIES (20000), BENCH_SAMPLES (5), BENCH_SYNC_TIMEOUT_MS (30000).
 */
import { readFileSync } from 'node:fs'
import WebSocket from 'ws'
import wrtc from '@roamhq/wrtc'
import * as Y from 'yjs'
import { Peer, type PeerOptions } from '../../src/net/peer.ts'
import { PeerLink } from '../../src/net/peer-link.ts'
import { attachSync, type SyncAttachment } from '../../src/net/sync.ts'
import { RelayClient, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'
import { fromBase64url, generateIdentity } from '../../src/identity/index.ts'
import { checkRemoteUpdate, deriveDiscoveryKey, logOf, membershipKey, RoomReplica } from '../../src/room/index.ts'
import { UpdateVerifier } from '../../src/room/verify-update.ts'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { buildRoom, type RoomFixture } from './room-fixture.ts'
import { benchCase, environment, waitFor, type BenchCase, type BenchReport } from './stats.ts'

const ENTRIES = Number(process.env.BENCH_SYNC_ENTRIES ?? 20_000)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 5)
const TIMEOUT_MS = Number(process.env.BENCH_SYNC_TIMEOUT_MS ?? 30_000)
const WS = WebSocket as unknown as RelayWebSocketClass
const LOOPBACK = / 127\.0\.0\.1 \d+ typ host/

interface Timed {
  sync: number
  verified: number | null
  /** CPU ms of the process (all threads) and of its main thread during the sample. */
  cpu: number
  main: number
}

/** CPU ms of this process's main thread (its task's utime + stime; 0 where /proc is not). */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return 0
  }
}

/**
 * One fresh joiner on `link`: ms until its doc holds the log, and (`verify`) until every entry is
 * verified, with the gate and replica of a RoomClient.
 */
async function join(room: RoomFixture, link: Parameters<typeof attachSync>[2], verify: boolean): Promise<Timed> {
  const doc = new Y.Doc()
  const verifier = verify ? new UpdateVerifier({ doc, roomId: room.roomId, refuseNothingNew: false }) : null
  const replica = verifier ? new RoomReplica(doc, { roomId: room.roomId, now: () => room.now, verified: verifier }) : null
  const cpu0 = process.cpuUsage()
  const main0 = mainThreadCpuMs()
  const t0 = performance.now()
  const acceptUpdate = verifier ? async (u: Uint8Array) => (await verifier.verify(u)).ok : (u: Uint8Array) => checkRemoteUpdate(u).ok
  const sync: SyncAttachment = attachSync(doc, null, link, { acceptUpdate })
  const cpu = (): Pick<Timed, 'cpu' | 'main'> => {
    const used = process.cpuUsage(cpu0)
    return { cpu: (used.user + used.system) / 1000, main: mainThreadCpuMs() - main0 }
  }
  try {
    await waitFor(() => `joiner log ${logOf(doc).length}/${ENTRIES}`, () => logOf(doc).length === ENTRIES && sync.synced, TIMEOUT_MS, 5)
    const synced = performance.now() - t0
    if (!replica) return { sync: synced, verified: null, ...cpu() }
    await replica.whenSettled()
    if (replica.entries.length !== ENTRIES) throw new Error(`verified ${replica.entries.length}/${ENTRIES}`)
    return { sync: synced, verified: performance.now() - t0, ...cpu() }
  } finally {
    sync()
    replica?.destroy()
    verifier?.destroy()
    doc.destroy()
  }
}

/** A connected pair of wrtc peers on loopback (signals in-process), as PeerLinks. */
async function meshPair(): Promise<{ holder: PeerLink; joiner: PeerLink; close: () => void }> {
  const impl = wrtc as unknown as PeerOptions['wrtc']
  const a = new Peer({ wrtc: impl, polite: false })
  const b = new Peer({ wrtc: impl, polite: true })
  const wire = (to: Peer) => (msg: unknown) => {
    const m = msg as { type: string; candidate?: string }
    if (m.type === 'candidate' && !LOOPBACK.test(m.candidate ?? '')) return
    const copy = JSON.parse(JSON.stringify(msg)) as unknown
    setImmediate(() => to.signal(copy))
  }
  a.on('signal', wire(b))
  b.on('signal', wire(a))
  await Promise.all([a, b].map((p) => new Promise<void>((ok) => p.on('connect', ok))))
  return { holder: new PeerLink(a), joiner: new PeerLink(b), close: () => (a.destroy(), b.destroy()) }
}

async function sample(n: number, fn: () => Promise<Timed>, failures: string[]): Promise<Timed[]> {
  const out: Timed[] = []
  for (let i = 0; i < n; i++) {
    try {
      out.push(await fn())
    } catch (err) {
      failures.push(String((err as Error).message ?? err))
    }
  }
  return out
}

function cases(prefix: string, timed: Timed[], failures: string[], extra: Record<string, number | string>): BenchCase[] {
  const failed = { ...extra, failed: failures.length, ...(failures[0] ? { error: failures[0].slice(0, 80) } : {}) }
  const one = (name: string, of: Timed[], ms: (t: Timed) => number): BenchCase =>
    benchCase(`${prefix}/${name}`, 'ms', of.map(ms), { ...failed, cpuMs: Math.round(median(of.map((t) => t.cpu))), mainMs: Math.round(median(of.map((t) => t.main))) })
  const verified = timed.filter((t) => t.verified !== null)
  const sync = timed.filter((t) => t.verified === null)
  return [one('sync', sync, (t) => t.sync), one('verified', verified, (t) => t.verified!)]
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)]!
}

async function meshCases(room: RoomFixture, extra: Record<string, number>): Promise<BenchCase[]> {
  const failures: string[] = []
  const one = async (verify: boolean): Promise<Timed> => {
    const pair = await meshPair()
    const holder = attachSync(room.doc, null, pair.holder)
    try {
      return await join(room, pair.joiner, verify)
    } finally {
      holder()
      pair.close()
    }
  }
  const timed = [...(await sample(SAMPLES, () => one(false), failures)), ...(await sample(SAMPLES, () => one(true), failures))]
  return cases('mesh', timed, failures, extra)
}

async function relayCases(room: RoomFixture, extra: Record<string, number>): Promise<BenchCase[]> {
  const relay: Relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  const url = `${relay.url.replace('http', 'ws')}/relay`
  const key = membershipKey(fromBase64url(room.secret)!)
  const member = () => key
  const failures: string[] = []
  const out: BenchCase[] = []
  try {
    const owner = new RelayClient({ WebSocket: WS, wrtc, member })
    await owner.connect(url, room.roomId, room.owner)
    const held = () => relay.rooms.room(discoveryHex(deriveDiscoveryKey(room.roomId)))
    const t0 = performance.now()
    const pushed = attachSync(room.doc, null, owner.link)
    await waitFor('relay holds the log', () => held() !== undefined && logOf(held()!.doc).length === ENTRIES, 120_000, 5)
    out.push(benchCase('relay/push', 'ms', [performance.now() - t0], extra))
    const one = async (verify: boolean): Promise<Timed> => {
      const guest = new RelayClient({ WebSocket: WS, wrtc, member })
      try {
        await guest.connect(url, room.roomId, await generateIdentity())
        return await join(room, guest.link, verify)
      } finally {
        guest.destroy()
      }
    }
    const timed = [...(await sample(SAMPLES, () => one(false), failures)), ...(await sample(SAMPLES, () => one(true), failures))]
    out.push(...cases('relay', timed, failures, extra))
    pushed()
    owner.destroy()
  } finally {
    await relay.close()
  }
  return out
}

export async function run(): Promise<BenchReport> {
  const room = await buildRoom(100, ENTRIES, 20)
  const extra = { entries: ENTRIES, docBytes: Y.encodeStateAsUpdate(room.doc).byteLength }
  const out: BenchCase[] = [...(await meshCases(room, extra)), ...(await relayCases(room, extra))]
  return { name: 'sync-large', environment: environment(), entries: ENTRIES, cases: out }
}
