/**
 * Bench: the WebRTC mesh on loopback, with real @roamhq/wrtc headless peers
 * (src/headless/headless-peer.ts) signalling through a local relay on 127.0.0.1. Remote ICE
 * candidates other than 127.0.0.1 are dropped (mesh-loopback.ts).
 *   m2e/sink, m2e/heard   mouth-to-ear latency of chirps sent every 307 ms (so they fall at every
 *                         phase of the 20 ms Opus packet; four shapes in turn so each is paired with
 *                         its send time even past 307 ms), found by cross-correlation in the decoded
 *                         audio at the RTCAudioSink and after the headless peer's 10 ms mixer (onHeard)
 *   first-audio           startHeadlessPeer() call -> first heard frame with the speaker's tone,
 *                         listeners joining and leaving one after another
 *   hand/N                a hand raise until every one of N peers (1 speaker with a tone, N-1 silent
 *                         listeners, 5 peers per child process) shows it in its state, in the room's
 *                         real mode: a full mesh up to mesh size, past it on the relay (mesh-hands.ts)
 *   cpu/speaker+N         a speaker's process (alone in a child) with N listeners (another child):
 *                         CPU % of one core over 2 s windows, RSS after a full GC (a mesh at every N:
 *                         the mesh size is raised to hold them)
 * Sizes and counts can be cut down with BENCH_MESH_* variables (see below).
 */
import os from 'node:os'
import wrtc from '@roamhq/wrtc'
import { startRelay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks, type RoomLinks } from '../../src/cli/room-create.ts'
import { startHeadlessPeer, type HeadlessPeer, type PeerEvent } from '../../src/headless/headless-peer.ts'
import { attachSink, type AudioWrtc } from '../../src/node/audio-io.ts'
import { generateIdentity } from '../../src/identity/index.ts'
import { detectTones, hasTone } from '../../src/audio/goertzel.ts'
import { SAMPLE_RATE } from '../../src/audio/tone.ts'
import { VOICE_OPUS } from '../../src/net/opus.ts'
import { DEFAULT_LIMITS } from '../../src/net/topology.ts'
import type { PeerWrtc } from '../../src/net/peer.ts'
import { benchCase, environment, summarize, waitFor, type BenchCase, type BenchReport } from './stats.ts'
import { CLICK_PERIOD_MS, clickSource, FrameLog, heardClicks } from './mesh-clicks.ts'
import { loopbackOnly, type LoopbackWrtc } from './mesh-loopback.ts'
import { MeshWorker } from './mesh-procs.ts'
import { handConvergence } from './mesh-hands.ts'
import type { PeerStatus, Usage } from './mesh-worker.ts'

const env = (name: string, def: string): string => process.env[`BENCH_MESH_${name}`] ?? def
const list = (s: string): number[] => s.split(',').filter(Boolean).map(Number)
const PARTS = new Set(env('PARTS', 'm2e,first-audio,hand,cpu').split(','))
const CLICKS = Number(env('CLICKS', '120'))
const JOINS = Number(env('JOINS', '20'))
const SIZES = list(env('SIZES', '5,10,20,50'))
const HAND_REPS = Number(env('HAND_REPS', '20'))
const LISTENERS = list(env('LISTENERS', '1,2,4,8'))
const WINDOWS = 5
const WINDOW_MS = 2000
const TONE = 1000

const now = (): number => performance.now()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d
const load = (): number[] => os.loadavg().map((x) => round(x, 2))
const log = (msg: string): void => void process.stderr.write(`mesh: ${msg}\n`)

async function newRoom(origin: string, title: string): Promise<RoomLinks> {
  return createRoomLinks(await generateIdentity(), { title, topic: '', origin })
}

interface Ctx {
  origin: string
  rtc: LoopbackWrtc
}

// ---- 1. mouth-to-ear ------------------------------------------------------------------

async function mouthToEar(ctx: Ctx, cases: BenchCase[]): Promise<Record<string, unknown>> {
  const links = await newRoom(ctx.origin, 'bench m2e')
  const heard = new FrameLog(now)
  const atSink = new FrameLog(now)
  let recording = false
  const sink: { stop: (() => void) | null } = { stop: null }
  const peers: HeadlessPeer[] = []
  try {
    // The listener first, so its 'track' handler is in place before the speaker shows up.
    const pcs: RTCPeerConnection[] = []
    const listenerRtc = loopbackOnly(wrtc as unknown as PeerWrtc, (pc) => pcs.push(pc))
    const listener = await startHeadlessPeer({ link: links.listener, wrtc: listenerRtc, reportEvery: 3600, onHeard: (f) => recording && heard.push(f) })
    peers.push(listener)
    listener.client.mesh.on('track', (_from, track) => {
      sink.stop?.()
      sink.stop = attachSink(wrtc as unknown as AudioWrtc, track, (f) => recording && atSink.push(f))
    })
    const clicks = clickSource({ periodMs: CLICK_PERIOD_MS, now })
    const speaker = await startHeadlessPeer({ link: links.speaker, wrtc: ctx.rtc, reportEvery: 3600, speak: { kind: 'frames', next: clicks.next } })
    peers.push(speaker)
    await waitFor('the listener to get the track', () => sink.stop !== null, 20_000)
    await sleep(1500) // past the first packets and NetEq's start-up
    const pc = pcs.find((p) => p.connectionState === 'connected')
    if (!pc) throw new Error('mesh bench: no connected listener connection')
    const before = await netEq(pc)
    recording = true
    const firstSent = clicks.sent.length
    await sleep(CLICKS * CLICK_PERIOD_MS + 400)
    recording = false
    const sentDuring = clicks.sent.length - firstSent
    const after = await netEq(pc)
    const fmtp = [...(await speaker.client.mesh.stats()).values()][0]?.outbound[0]?.sdpFmtpLine ?? null
    const ptime = /a=ptime:(\d+)/.exec(pc.remoteDescription?.sdp ?? '')?.[1] ?? null

    const out: Record<string, unknown> = {
      clicksSent: sentDuring,
      periodMs: CLICK_PERIOD_MS,
      fmtp,
      ptime: ptime === null ? null : Number(ptime),
      netEq: netEqDelta(before, after),
      listenerCandidates: { kept: listenerRtc.kept, droppedNonLoopback: listenerRtc.dropped },
    }
    for (const [name, rec] of [
      ['m2e/sink', atSink],
      ['m2e/heard', heard],
    ] as const) {
      const m = heardClicks(clicks.sent, rec)
      const missed = sentDuring - m.latencies.length
      cases.push(benchCase(name, 'ms', m.latencies, { note: `${m.latencies.length}/${sentDuring} clicks matched, xcorr ${round(summarize(m.scores).median, 2)}` }))
      out[name] = { detected: m.detected, matched: m.latencies.length, unmatched: m.unmatched, missed, medianScore: summarize(m.scores).median }
    }
    return out
  } finally {
    sink.stop?.()
    await Promise.all(peers.map((p) => p.stop()))
  }
}

type NetEqCounters = Record<(typeof NETEQ_FIELDS)[number], number>
const NETEQ_FIELDS = [
  'jitterBufferDelay',
  'jitterBufferTargetDelay',
  'jitterBufferMinimumDelay',
  'jitterBufferEmittedCount',
  'concealmentEvents',
  'insertedSamplesForDeceleration',
  'removedSamplesForAcceleration',
  'packetsReceived',
] as const

/** The inbound audio counters of libwebrtc's jitter buffer (NetEq), from the raw stats. */
async function netEq(pc: RTCPeerConnection): Promise<NetEqCounters> {
  const out = Object.fromEntries(NETEQ_FIELDS.map((f) => [f, 0])) as NetEqCounters
  for (const s of (await pc.getStats()).values() as Iterable<Record<string, unknown>>) {
    if (s.type !== 'inbound-rtp' || s.kind !== 'audio') continue
    for (const f of NETEQ_FIELDS) out[f] += typeof s[f] === 'number' ? s[f] : 0
  }
  return out
}

/** Mean delays per emitted sample (ms) over the interval between two readings. */
function netEqDelta(a: NetEqCounters, b: NetEqCounters): Record<string, number> {
  const d = (f: (typeof NETEQ_FIELDS)[number]) => b[f] - a[f]
  const emitted = d('jitterBufferEmittedCount')
  const perSample = (f: (typeof NETEQ_FIELDS)[number]) => (emitted > 0 ? round((d(f) / emitted) * 1000, 2) : NaN)
  return {
    meanDelayMs: perSample('jitterBufferDelay'),
    targetDelayMs: perSample('jitterBufferTargetDelay'),
    minimumDelayMs: perSample('jitterBufferMinimumDelay'),
    concealmentEvents: d('concealmentEvents'),
    insertedSamples: d('insertedSamplesForDeceleration'),
    removedSamples: d('removedSamplesForAcceleration'),
    packetsReceived: d('packetsReceived'),
  }
}

// ---- 2. time to first audio --------------------------------------------------------------

async function firstAudio(ctx: Ctx, cases: BenchCase[]): Promise<Record<string, unknown>> {
  const links = await newRoom(ctx.origin, 'bench first audio')
  const speaker = await startHeadlessPeer({ link: links.speaker, wrtc: ctx.rtc, reportEvery: 3600, speak: { kind: 'tone', freq: TONE } })
  const totals: number[] = []
  const phases: Record<string, number[]> = { joined: [], 'peer-connected': [], track: [] }
  try {
    await waitFor('the speaker on stage', () => speaker.client.state.seatOf.has(speaker.id), 15_000)
    for (let i = 0; i < JOINS; i++) {
      let first: number | null = null
      const seen: Record<string, number> = {}
      const t0 = now()
      const onEvent = (e: PeerEvent): void => {
        if (e.event in phases && !(e.event in seen)) seen[e.event] = now() - t0
      }
      const listener = await startHeadlessPeer({
        link: links.listener,
        wrtc: ctx.rtc,
        reportEvery: 3600,
        onEvent,
        onHeard: (f) => {
          if (first === null && hasTone(detectTones(f, SAMPLE_RATE, [TONE])[0]!)) first = now()
        },
      })
      try {
        await waitFor('the listener to hear the tone', () => first !== null, 15_000)
        totals.push(first! - t0)
        for (const k of Object.keys(phases)) if (k in seen) phases[k]!.push(seen[k]!)
      } finally {
        await listener.stop()
      }
      // Let the speaker see the leave before the next join.
      await waitFor('the speaker to drop the listener', () => speaker.client.mesh.connected.length === 0, 10_000)
    }
  } finally {
    await speaker.stop()
  }
  const med = (k: string) => round(summarize(phases[k]!).median)
  cases.push(benchCase('first-audio', 'ms', totals, { note: `median joined ${med('joined')}, connected ${med('peer-connected')}, track ${med('track')} ms` }))
  return { phasesMs: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, summarize(v)])) }
}

// ---- 3. state convergence: mesh-hands.ts -------------------------------------------------

// ---- 4. CPU and memory per connection at a speaker ------------------------------------------

async function speakerCost(ctx: Ctx, cases: BenchCase[]): Promise<Record<string, unknown>> {
  const links = await newRoom(ctx.origin, 'bench cpu')
  const spk = new MeshWorker('speaker')
  const lst = new MeshWorker('listeners')
  const levels: Array<{ listeners: number; cpu: number[]; rssMb: number; heapMb: number }> = []
  // A mesh at every level: past mesh size (9 people at 8 listeners) the room would go to the relay.
  const most = Math.max(...LISTENERS) + 1
  const limits = { ...DEFAULT_LIMITS, meshSize: Math.max(DEFAULT_LIMITS.meshSize, most), hardCap: Math.max(DEFAULT_LIMITS.hardCap, most) }
  try {
    await spk.call({ op: 'start', link: links.listener, count: 0, limits, speaker: { link: links.speaker, freq: 440 } })
    const speakerStatus = async () => (await spk.call<{ peers: PeerStatus[] }>({ op: 'status' })).peers[0]!
    await waitFor('the speaker on stage', async () => (await speakerStatus()).onStage, 15_000, 100)
    const measure = async (listeners: number) => {
      await sleep(3000) // encoders started, joins settled
      const cpu: number[] = []
      const rss: number[] = []
      const heap: number[] = []
      for (let i = 0; i < WINDOWS; i++) {
        const u = await spk.call<Usage>({ op: 'measure', ms: WINDOW_MS })
        cpu.push(u.cpuPct)
        rss.push(u.rssMb)
        heap.push(u.heapMb)
      }
      levels.push({ listeners, cpu, rssMb: summarize(rss).median, heapMb: summarize(heap).median })
    }
    await measure(0)
    let have = 0
    for (const n of LISTENERS) {
      await lst.call({ op: 'start', link: links.listener, count: n - have, limits, staggerMs: 100 })
      have = n
      await waitFor(`${n} connections at the speaker`, async () => (await speakerStatus()).connected === n, 60_000, 100)
      await measure(n)
    }
  } finally {
    await Promise.all([spk.close(), lst.close()])
  }
  const base = levels[0]!
  const baseCpu = summarize(base.cpu).median
  for (const l of levels) {
    const cpu = summarize(l.cpu).median
    const note =
      l.listeners === 0
        ? `baseline (on stage, no peers): RSS ${round(l.rssMb)} MB`
        : `per conn ${round((cpu - baseCpu) / l.listeners, 2)} % core, RSS ${round(l.rssMb)} MB (+${round((l.rssMb - base.rssMb) / l.listeners, 2)} MB/conn)`
    cases.push(benchCase(`cpu/speaker+${l.listeners}`, '% core', l.cpu.map((x) => round(x, 2)), { note }))
  }
  // Least-squares slope over all levels: the cost of one more connection.
  const xs = levels.map((l) => l.listeners)
  const slope = (ys: number[]) => {
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length
    const my = ys.reduce((a, b) => a + b, 0) / ys.length
    return xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0)
  }
  return {
    limits,
    windowMs: WINDOW_MS,
    windows: WINDOWS,
    levels: levels.map((l) => ({ ...l, cpuMedian: summarize(l.cpu).median, cpuP95: summarize(l.cpu).p95 })),
    fit: { cpuPctPerConnection: round(slope(levels.map((l) => summarize(l.cpu).median)), 3), rssMbPerConnection: round(slope(levels.map((l) => l.rssMb)), 3) },
  }
}

// ---- runner ----------------------------------------------------------------------------------

export async function run(): Promise<BenchReport> {
  const environmentAtStart = environment()
  const relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  const ctx: Ctx = { origin: relay.url, rtc: loopbackOnly(wrtc as unknown as PeerWrtc) }
  const cases: BenchCase[] = []
  const sections: Record<string, unknown> = {}
  const section = async (name: string, fn: () => Promise<Record<string, unknown>>) => {
    if (!PARTS.has(name.split('/')[0]!)) return
    const loadBefore = load()
    const t = now()
    log(`${name} ... (load ${loadBefore.join(' ')})`)
    try {
      sections[name] = { ...(await fn()), loadBefore, loadAfter: load(), durationS: round((now() - t) / 1000) }
    } catch (err) {
      // Report what could not be measured rather than losing the other sections.
      log(`${name} failed: ${(err as Error).message}`)
      sections[name] = { error: (err as Error).message, loadBefore, loadAfter: load() }
      cases.push({ name, unit: 'failed', samples: 0, median: NaN, p95: NaN, min: NaN, max: NaN, mean: NaN, extra: { note: (err as Error).message.slice(0, 120) } })
    }
  }
  try {
    await section('m2e', () => mouthToEar(ctx, cases))
    await section('first-audio', () => firstAudio(ctx, cases))
    for (const n of SIZES) await section(`hand/${n}`, () => handConvergence(ctx.origin, n, HAND_REPS, cases))
    await section('cpu', () => speakerCost(ctx, cases))
  } finally {
    await relay.close()
  }
  return {
    name: 'mesh',
    environment: environmentAtStart,
    settings: {
      loopbackOnly: true,
      remoteCandidates: { kept: ctx.rtc.kept, droppedNonLoopback: ctx.rtc.dropped },
      opus: VOICE_OPUS,
      frameMs: 10,
      jitterBuffer: 'libwebrtc NetEq defaults (@roamhq/wrtc 0.10)',
      playout: '@roamhq/wrtc RTCAudioSink, 10 ms pull; headless mixer on a 10 ms setInterval (onHeard)',
      clickPeriodMs: CLICK_PERIOD_MS,
      chirps: '20 ms Hann-windowed linear chirps at 0.5 FS, in turn 1->4, 4->1, 0.5->2.5, 2.5->0.5 kHz',
      limits: DEFAULT_LIMITS,
    },
    floorMs: {
      text:
        'WebRTC-in to WebRTC-out floor (same convention as the measurement: a frame starts when handed over): ' +
        '10 ms (a 20 ms Opus packet leaves once its second 10 ms frame is in) + about 20 ms NetEq minimum (one packet ' +
        'at zero jitter) + 6.5 ms Opus look-ahead + 0-10 ms phase of the 10 ms playout pull = about 40 ms. ' +
        'Playout follows RTP timestamps, so every click sees the same delay; it rises above the floor when NetEq raises ' +
        'its target after late packets (a loaded machine). Counting the first frame as captured (a microphone) adds 10 ms; ' +
        'real capture and output devices add their own buffers.',
      sendWaitForSecondFrame: 10,
      netEqMinimum: 20,
      opusLookahead: 6.5,
      playoutPull: [0, 10],
      total: 40,
    },
    sections,
    loadAtEnd: load(),
    cases,
  }
}
