/**
 * Child process for the mesh bench: runs headless peers (real @roamhq/wrtc,
 * 127.0.0.1 only) and answers the parent over IPC, so a room can be spread
 * over several processes and a speaker's CPU and memory can be read alone.
 *
 * Protocol: the parent sends `{ id, op, ...args }`, the child replies
 * `{ id, ok: true, ...result }` or `{ id, ok: false, error }`. Times are
 * `performance.timeOrigin + performance.now()` so they compare across processes.
 * Runs only when started by mesh-procs.ts (STOOP_MESH_WORKER=1); importing it does nothing.
 */
import wrtc from '@roamhq/wrtc'
import { startHeadlessPeer, type HeadlessPeer } from '../../src/headless/headless-peer.ts'
import type { PeerWrtc } from '../../src/net/peer.ts'
import type { TopologyLimits } from '../../src/net/topology.ts'
import { loopbackOnly } from './mesh-loopback.ts'

export type WorkerRequest =
  | { op: 'start'; link: string; count: number; speaker?: { link: string; freq: number }; limits?: TopologyLimits; staggerMs?: number }
  | { op: 'status' }
  | { op: 'raise'; index: number }
  | { op: 'lower'; index: number }
  | { op: 'arm'; key: string; raised: boolean }
  | { op: 'collect'; timeoutMs: number }
  | { op: 'measure'; ms: number }
  | { op: 'stop' }

export interface PeerStatus {
  id: string
  connected: number
  exists: boolean
  onStage: boolean
  hands: string[]
  reconnects: number
  /** The path audio is played from, and the relay's state (null: no relay configured). */
  via: 'mesh' | 'relay'
  relay: string | null
  /** Why the relay last failed, if it did. */
  relayFailure: string | null
  /** Peers it sees present (on the signalling bus or connected). */
  present: number
}

export interface Usage {
  cpuPct: number
  wallMs: number
  rssMb: number
  heapMb: number
}

export const wallNow = (): number => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function serve(): void {
  const rtc = loopbackOnly(wrtc as unknown as PeerWrtc)
  const peers: HeadlessPeer[] = []
  const relayFailures = new Map<HeadlessPeer, string>()
  const failures: string[] = []
  let restarts = 0
  let stopping = false
  let watch: { key: string; raised: boolean; times: Map<string, number>; offs: Array<() => void> } | null = null

  const handlers: { [K in WorkerRequest['op']]: (req: Extract<WorkerRequest, { op: K }>) => Promise<object> } = {
    async start(req) {
      // The speaker (if any) first, then `count` listeners; `peers` keeps that order across calls.
      const total = req.count + (req.speaker ? 1 : 0)
      for (let i = 0; i < total; i++) {
        if (i > 0 && req.staggerMs) await sleep(req.staggerMs)
        const speaker = i === 0 ? req.speaker : undefined
        const slot = peers.length
        peers.push(await startPeer(req, speaker, slot))
      }
      return { ids: peers.map((p) => p.id) }
    },
    async status() {
      const list: PeerStatus[] = peers.map((p) => ({
        id: p.id,
        connected: p.client.mesh.connected.length,
        exists: p.client.state.exists,
        onStage: p.client.state.seatOf.has(p.id),
        hands: p.client.state.hands.map((h) => h.key),
        reconnects: p.client.mesh.counters.reconnects,
        via: p.client.via,
        relay: p.client.relay?.state ?? null,
        relayFailure: relayFailures.get(p) ?? null,
        present: p.client.mesh.present.size,
      }))
      return { peers: list, failures, restarts, candidates: { kept: rtc.kept, dropped: rtc.dropped } }
    },
    async raise(req) {
      const t0 = wallNow()
      await peers[req.index]!.client.actor.raiseHand()
      return { t0, key: peers[req.index]!.id }
    },
    async lower(req) {
      const t0 = wallNow()
      await peers[req.index]!.client.actor.lowerHand()
      return { t0, key: peers[req.index]!.id }
    },
    async arm(req) {
      const w = { key: req.key, raised: req.raised, times: new Map<string, number>(), offs: [] as Array<() => void> }
      watch = w
      for (const p of peers) {
        const check = (): void => {
          if (w.times.has(p.id)) return
          if (p.client.state.hands.some((h) => h.key === w.key) === w.raised) w.times.set(p.id, wallNow())
        }
        w.offs.push(p.client.on('state', check))
      }
      return {}
    },
    async collect(req) {
      const w = watch
      if (!w) throw new Error('collect without arm')
      const end = Date.now() + req.timeoutMs
      while (w.times.size < peers.length && Date.now() < end) await sleep(5)
      for (const off of w.offs) off()
      watch = null
      return { times: Object.fromEntries(w.times), missing: peers.length - w.times.size }
    },
    async measure(req) {
      globalThis.gc?.()
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await sleep(req.ms)
      const c = process.cpuUsage(c0)
      const wallMs = performance.now() - t0
      globalThis.gc?.()
      const mem = process.memoryUsage()
      const usage: Usage = { cpuPct: ((c.user + c.system) / 1000 / wallMs) * 100, wallMs, rssMb: mem.rss / 2 ** 20, heapMb: mem.heapUsed / 2 ** 20 }
      return usage
    },
    async stop() {
      stopping = true
      await Promise.all(peers.map((p) => p.stop()))
      return {}
    },
  }

  /**
   * One peer in `slot` of `peers`. A peer that fails for good (e.g. `signal-unreachable`: the
   * signalling server did not answer its first connection, which a starved box does now and
   * then) is started again in its slot, as a person would run `stoop peer` again, at most
   * twice per slot; the failure is kept and the restart counted (`restarts` in the status).
   */
  async function startPeer(req: Extract<WorkerRequest, { op: 'start' }>, speaker: { link: string; freq: number } | undefined, slot: number, attempt = 0): Promise<HeadlessPeer> {
    const peer = await startHeadlessPeer({
      link: speaker?.link ?? req.link,
      wrtc: rtc,
      // The relay's media too (its SDP carries every address it has): 127.0.0.1 only.
      loopbackOnly: true,
      reportEvery: 3600,
      ...(req.limits ? { limits: req.limits } : {}),
      // freq 0: on stage by its link's grant, sending nothing.
      ...(speaker && speaker.freq > 0 ? { speak: { kind: 'tone' as const, freq: speaker.freq } } : {}),
    })
    peer.done.catch((err: Error & { code?: string }) => {
      failures.push(`${err.code ?? 'error'}: ${err.message}`)
      if (stopping || attempt >= 2 || peers[slot] !== peer) return
      restarts++
      void sleep(1000)
        .then(() => (stopping ? null : startPeer(req, speaker, slot, attempt + 1)))
        .then(
          (again) => {
            if (again && !stopping) peers[slot] = again
            else void again?.stop()
          },
          (e: Error) => failures.push(`restart: ${e.message}`),
        )
    })
    peer.client.relay?.on('state', (state, reason) => {
      if (state === 'failed') relayFailures.set(peer, reason ?? 'unknown')
    })
    return peer
  }

  process.on('message', (msg: { id: number } & WorkerRequest) => {
    const handler = handlers[msg.op] as (req: WorkerRequest) => Promise<object>
    handler(msg).then(
      (result) => process.send!({ id: msg.id, ok: true, ...result }),
      (err: Error) => process.send!({ id: msg.id, ok: false, error: `${err.message}` }),
    )
  })
  process.send!({ id: 0, ok: true, ready: true })
}

if (process.env.STOOP_MESH_WORKER === '1' && process.send) serve()
