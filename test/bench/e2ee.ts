/**
 * Bench: what end-to-end encryption (SFrame, src/media/sframe.ts) costs per audio stream (issue 11).
 *
 *   node/seal, node/open          µs per 20 ms Opus frame in Node (SframeKeyring with node:crypto's
 *                                 AES-GCM, as `stoop peer --media werift` calls it per packet), back
 *                                 to back; `cpuUs` is the process CPU per frame, `corePct` that at
 *                                 50 frames/s: % of a core per stream, sending and receiving side
 *   node-webcrypto/...            the same through WebCrypto (the browsers' path; Node's first one)
 *   chromium/seal, chromium/open  the same in a dedicated worker of Debian's Chromium (where the
 *                                 app's transform runs), CPU from the browser's process tree
 *   node/paced, chromium/paced    seal + open of one frame every 20 ms: the time E2EE adds to a
 *                                 frame's way from mouth to ear (target: 1 ms at the median)
 *   m2e/werift, m2e/werift+e2ee   mouth to ear of clicks (mesh-clicks.ts) between two headless peers
 *                                 on werift, E2EE off and on in turn, same run; the difference of
 *                                 the medians is the same added time seen end to end, under the
 *                                 jitter buffer's noise
 *   cpu/<media>/N                 CPU (% of a core) of a listener's process receiving N streams in a
 *                                 mesh: @roamhq/wrtc (no E2EE possible), werift, werift + E2EE;
 *                                 `perStream`: the slope over N, the cost of one more stream heard
 *
 * BENCH_E2EE_PARTS (crypto,chromium,m2e,cpu), BENCH_E2EE_FRAMES, BENCH_E2EE_CLICKS, BENCH_E2EE_STREAMS cut it down.
 */
import os from 'node:os'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { generateIdentity } from '../../src/identity/index.ts'
import { startHeadlessPeer, type HeadlessPeer } from '../../src/headless/headless-peer.ts'
import { dbfs } from '../../src/audio/level.ts'
import type { MediaKind } from '../../src/node/media.ts'
import { benchCase, environment, slope, summarize, waitFor, type BenchCase, type BenchReport } from './stats.ts'
import { CLICK_PERIOD_MS, clickSource, FrameLog, heardClicks } from './mesh-clicks.ts'
import { nodeFrameCipher } from '../../src/headless/e2ee.ts'
import type { FrameCipherFactory } from '../../src/media/sframe.ts'
import { backToBack, opusPackets, paced } from './e2ee-crypto.ts'
import { browserCrypto } from './e2ee-chromium.ts'
import { PeersProc, type Measure } from './e2ee-peers.ts'

const env = (name: string, def: string): string => process.env[`BENCH_E2EE_${name}`] ?? def
const PARTS = new Set(env('PARTS', 'crypto,chromium,m2e,cpu').split(','))
const FRAMES = Number(env('FRAMES', '3000'))
const CLICKS = Number(env('CLICKS', '40'))
const STREAMS = env('STREAMS', '1,2').split(',').map(Number)
const FRAMES_PER_S = 50
const LIMITS = { meshSize: 12, hysteresis: 0, hardCap: 12 }

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (msg: string): void => void process.stderr.write(`e2ee: ${msg}\n`)
const corePct = (cpuUs: number): number => round((cpuUs * FRAMES_PER_S) / 1e4, 3)

async function cryptoCases(cases: BenchCase[], packets: Uint8Array[]): Promise<Record<string, unknown>> {
  let bytes = {}
  for (const [name, cipher] of [['node', nodeFrameCipher], ['node-webcrypto', undefined]] as Array<[string, FrameCipherFactory | undefined]>) {
    const r = await backToBack(packets, cipher)
    cases.push(benchCase(`${name}/seal`, 'µs', r.sealUs.map((v) => round(v, 2)), { cpuUs: round(r.sealCpuUs), corePct: corePct(r.sealCpuUs) }))
    cases.push(benchCase(`${name}/open`, 'µs', r.openUs.map((v) => round(v, 2)), { cpuUs: round(r.openCpuUs), corePct: corePct(r.openCpuUs) }))
    const p = await paced(packets.slice(0, 500), cipher)
    cases.push(benchCase(`${name}/paced`, 'µs', p.map((v) => round(v, 2)), { note: 'seal + open, one frame per 20 ms' }))
    bytes = { opusBytesMedian: r.bytes.median, sframeOverheadBytes: r.bytes.overhead }
  }
  return bytes
}

async function chromiumCases(cases: BenchCase[], packets: Uint8Array[]): Promise<Record<string, unknown>> {
  const r = await browserCrypto(packets, { rounds: Math.max(1, Math.round(FRAMES / 50)), paced: 250 })
  const note = `batches of 50, ${r.chromium}, isolated ${r.isolated}`
  cases.push(benchCase('chromium/seal', 'µs', r.sealUs.map((v) => round(v, 2)), { cpuUs: round(r.sealCpuUs), corePct: corePct(r.sealCpuUs), note }))
  cases.push(benchCase('chromium/open', 'µs', r.openUs.map((v) => round(v, 2)), { cpuUs: round(r.openCpuUs), corePct: corePct(r.openCpuUs), note }))
  cases.push(benchCase('chromium/paced', 'µs', r.pacedUs.map((v) => round(v, 2)), { note: 'seal + open, one frame per 20 ms' }))
  return { chromium: r.chromium, crossOriginIsolated: r.isolated }
}

/** Clicks from one werift peer to another, E2EE on or off; latencies in ms. */
async function clicks(origin: string, e2ee: boolean): Promise<{ latencies: number[]; sent: number; decrypted: number }> {
  const links = await createRoomLinks(await generateIdentity(), { title: 'bench e2ee m2e', topic: '', origin })
  const now = (): number => performance.now()
  const heard = new FrameLog(now)
  const sound: boolean[] = []
  let recording = false
  let decrypted = 0
  const source = clickSource({ periodMs: CLICK_PERIOD_MS, now })
  const base = { media: 'werift' as MediaKind, e2ee, loopbackOnly: true, relay: false as const, reportEvery: 1 }
  const peers: HeadlessPeer[] = []
  try {
    peers.push(await startHeadlessPeer({ ...base, link: links.moderator, speak: { kind: 'frames', next: source.next } }))
    const listener = await startHeadlessPeer({
      ...base,
      link: links.listener,
      onHeard: (f) => {
        sound.push(dbfs(f) > -40)
        if (recording) heard.push(f)
      },
      onEvent: (ev) => {
        if (ev.event === 'stats' && ev.e2ee) decrypted = (ev.e2ee as { decrypted: number }).decrypted
      },
    })
    peers.push(listener)
    await waitFor('the listener to hear clicks', () => sound.slice(-200).some(Boolean), 60_000)
    await sleep(2000) // past the jitter buffer's start
    recording = true
    const first = source.sent.length
    await sleep(CLICKS * CLICK_PERIOD_MS + 400)
    recording = false
    const m = heardClicks(source.sent, heard)
    return { latencies: m.latencies, sent: source.sent.length - first, decrypted }
  } finally {
    await Promise.all(peers.map((p) => p.stop()))
  }
}

async function m2eCases(cases: BenchCase[], relay: Relay): Promise<Record<string, unknown>> {
  const all = { off: [] as number[], on: [] as number[] }
  const out: Record<string, unknown> = {}
  // Off and on in turn, twice: the machine's load drifts over a run.
  for (const e2ee of [false, true, false, true]) {
    const r = await clicks(relay.url, e2ee)
    all[e2ee ? 'on' : 'off'].push(...r.latencies)
    log(`m2e ${e2ee ? 'on' : 'off'}: ${r.latencies.length}/${r.sent} clicks, median ${round(summarize(r.latencies).median)} ms${e2ee ? `, ${r.decrypted} frames opened` : ''}`)
  }
  cases.push(benchCase('m2e/werift', 'ms', all.off))
  cases.push(benchCase('m2e/werift+e2ee', 'ms', all.on))
  out.addedMedianMs = round(summarize(all.on).median - summarize(all.off).median, 2)
  log(`m2e: E2EE on - off, medians: ${out.addedMedianMs} ms`)
  return out
}

type CpuMode = { name: string; media: MediaKind; e2ee: boolean }
const CPU_MODES: CpuMode[] = [
  { name: 'wrtc', media: 'wrtc', e2ee: false },
  { name: 'werift', media: 'werift', e2ee: false },
  { name: 'werift+e2ee', media: 'werift', e2ee: true },
]

/** A listener's process with `n` speakers (another process) in a mesh: its CPU over 3 windows of 3 s. */
async function listenerCpu(origin: string, mode: CpuMode, n: number): Promise<{ cpu: number[]; sound: number; heardFrom: number; opened: number }> {
  const links = await createRoomLinks(await generateIdentity(), { title: 'bench e2ee cpu', topic: '', origin })
  const speakers = new PeersProc(`speakers ${mode.name}`)
  const listener = new PeersProc(`listener ${mode.name}`)
  try {
    await speakers.call({ op: 'start', link: links.moderator, count: n, media: mode.media, e2ee: mode.e2ee, tone: 300, limits: LIMITS })
    await listener.call({ op: 'start', link: links.listener, count: 1, media: mode.media, e2ee: mode.e2ee, limits: LIMITS })
    await waitFor(`the listener (${mode.name}) to hear ${n} speakers`, async () => {
      const m = (await listener.call<Measure>({ op: 'measure', ms: 1000 })).peers[0]!
      return m.sound > 0.9 && m.heardFrom === n
    }, 90_000, 0)
    await sleep(2000)
    const windows: Measure[] = []
    for (let i = 0; i < 3; i++) windows.push(await listener.call<Measure>({ op: 'measure', ms: 3000 }))
    const e2ee = windows.at(-1)!.peers[0]!.e2ee
    const worst = (f: (m: Measure) => number): number => Math.min(...windows.map(f))
    return { cpu: windows.map((w) => round(w.cpuPct, 2)), sound: round(worst((w) => w.peers[0]!.sound), 3), heardFrom: worst((w) => w.peers[0]!.heardFrom), opened: e2ee?.decrypted ?? 0 }
  } finally {
    await Promise.all([listener.close(), speakers.close()])
  }
}

async function cpuCases(cases: BenchCase[], relay: Relay): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  const failed: string[] = []
  for (const mode of CPU_MODES) {
    const medians: number[] = []
    const ns: number[] = []
    for (const n of STREAMS) {
      // A room that never comes together on a starved machine is reported, not the end of the bench.
      const r = await listenerCpu(relay.url, mode, n).catch((err: Error) => {
        failed.push(`${mode.name}/${n}: ${err.message}`)
        log(`cpu ${mode.name} ${n} streams failed: ${err.message}`)
        return null
      })
      if (!r) continue
      ns.push(n)
      medians.push(summarize(r.cpu).median)
      cases.push(benchCase(`cpu/${mode.name}/${n}`, '% core', r.cpu, { sound: r.sound, heardFrom: r.heardFrom, ...(mode.e2ee ? { opened: r.opened } : {}), perStreamOfTotal: round(summarize(r.cpu).median / n, 2) }))
      log(`cpu ${mode.name} ${n} streams: ${r.cpu.join(', ')} % (sound ${r.sound}, heard ${r.heardFrom} speakers)`)
    }
    out[`perStream/${mode.name}`] = ns.length > 1 ? round(slope(ns, medians), 2) : null
  }
  if (failed.length) out.failed = failed
  log(`cpu per stream heard (slope over ${STREAMS.join(', ')}): ${CPU_MODES.map((m) => `${m.name} ${out[`perStream/${m.name}`] ?? '-'} %`).join(', ')}`)
  return out
}

export async function run(): Promise<BenchReport> {
  const cases: BenchCase[] = []
  const extra: Record<string, unknown> = { loadBefore: os.loadavg().map((x) => round(x, 2)) }
  const packets = opusPackets(FRAMES)
  if (PARTS.has('crypto')) Object.assign(extra, await cryptoCases(cases, packets))
  if (PARTS.has('chromium')) Object.assign(extra, await chromiumCases(cases, packets))
  const relay = PARTS.has('m2e') || PARTS.has('cpu') ? await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger }) : null
  try {
    if (relay && PARTS.has('m2e')) extra.m2e = await m2eCases(cases, relay)
    if (relay && PARTS.has('cpu')) extra.cpu = await cpuCases(cases, relay)
  } finally {
    await relay?.close()
  }
  extra.loadAfter = os.loadavg().map((x) => round(x, 2))
  return { name: 'e2ee', environment: environment(), cases, ...extra }
}
