/**
 * Bench: relay CPU and memory for fanning one speaker out to N listeners,
 * (a) @roamhq/wrtc track forwarding (the relay adds the received remote track to
 *     each listener's connection: libwebrtc decodes and re-encodes per listener)
 * (b) the werift RTP forwarder (relay/sfu/forwarder.ts: same Opus packets out).
 *
 * Three processes per scenario, all on 127.0.0.1:
 *   orchestrator (this module's `run()`)  --IPC--  relay child   (measured alone)
 *                                         --IPC--  clients child (speaker + N listeners, @roamhq/wrtc)
 * The orchestrator carries the offers/answers between the children and strips
 * every ICE candidate that is not 127.0.0.1.
 *
 * Relay CPU is process.cpuUsage() of the relay child sampled each second of the
 * measuring window (percent of one core); loss is from the listeners'
 * inbound-rtp stats over the same window.
 *
 * Run alone: `npx tsx test/bench/relay-forwarding.ts` (env BENCH_NS=5,10 and
 * BENCH_MEASURE_S=10 change the sizes and window; BENCH_CPU_PROF=<dir> profiles
 * the relay children), or through test/bench/run.ts.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import wrtc from '@roamhq/wrtc'
import { Forwarder } from '../../relay/sfu/forwarder.ts'
import { attachSink, createToneSource, type AudioSourceHandle } from '../../src/node/audio-io.ts'
import { detectTones, hasTone } from '../../src/audio/goertzel.ts'
import { SAMPLE_RATE } from '../../src/audio/tone.ts'
import { cpuMeter } from './relay-common.ts'

type Mode = 'wrtc' | 'werift'

export interface ScenarioResult {
  mode: Mode
  listeners: number
  /** Relay CPU, percent of one core, over 1 s samples. */
  relayCpu: { median: number; p95: number; mean: number }
  /** Relay CPU per forwarded listener stream (mean / N). */
  cpuPerStream: number
  /** Relay CPU with no peers, before the scenario started. */
  relayIdleCpu: number
  /** Relay resident memory at the end of the window, and its growth over the idle relay. */
  rssMb: number
  rssGrowthMb: number
  heapUsedMb: number
  /** Relay packets per second in (from the speaker) and out (to all listeners). */
  relayPacketsInPerS: number
  relayPacketsOutPerS: number
  /** Packets per second received by each listener: median, min. */
  listenerPacketsPerS: { median: number; min: number }
  /** Receiver packet loss over the window, percent, across listeners. */
  lossPct: { median: number; p95: number; max: number }
  /** Clients child CPU (speaker + listeners), percent of one core; context for a loaded box. */
  clientsCpu: number
  /** The first and last listener decode 440 Hz (and not 1000 Hz). */
  toneOk: boolean
}

export interface RelayForwardingReport {
  name: 'relay-forwarding'
  host: { cpus: number; node: string }
  warmupS: number
  measureS: number
  scenarios: ScenarioResult[]
  /** wrtc / werift for each N. */
  ratios: { listeners: number; cpu: number; rss: number }[]
}

// ---- messages between the processes --------------------------------------------------------

type ToRelay =
  | { t: 'pub-offer'; sdp: string }
  | { t: 'add-listeners'; n: number }
  | { t: 'sub-answer'; id: string; sdp: string }
  | { t: 'mark' }
  | { t: 'report' }
  | { t: 'exit' }
type FromRelay =
  | { t: 'ready'; idleCpu: number; rss: number }
  | { t: 'pub-answer'; sdp: string }
  | { t: 'sub-offer'; id: string; sdp: string }
  | { t: 'report'; cpu: number[]; rss: number; heapUsed: number; packetsIn: number; packetsOut: number; seconds: number }
  | { t: 'error'; message: string }
type ToClients =
  | { t: 'start'; n: number }
  | { t: 'pub-answer'; sdp: string }
  | { t: 'sub-offer'; id: string; sdp: string }
  | { t: 'mark' }
  | { t: 'report' }
  | { t: 'exit' }
type FromClients =
  | { t: 'ready' }
  | { t: 'pub-offer'; sdp: string }
  | { t: 'sub-answer'; id: string; sdp: string }
  | { t: 'connected' }
  | { t: 'report'; received: number[]; lost: number[]; seconds: number; cpu: number; toneOk: boolean }
  | { t: 'error'; message: string }

const LOOPBACK_WERIFT = { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }

/** Keeps only 127.0.0.1 UDP candidates. */
function loopbackOnly(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || (/ 127\.0\.0\.1 \d+ typ host/.test(l) && / udp /i.test(l)))
    .join('\r\n')
}

function send(msg: unknown): void {
  process.send!(msg)
}

async function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return
  await new Promise<void>((ok) => {
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') ok()
    })
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))


// ---- relay child ---------------------------------------------------------------------------

interface RelayImpl {
  publish(sdp: string): Promise<string>
  addListener(id: string): Promise<void>
  answer(id: string, sdp: string): Promise<void>
  packets(): Promise<{ in: number; out: number }>
  close(): Promise<void>
}

function weriftRelay(): RelayImpl {
  const fwd = new Forwarder({
    peerConfig: LOOPBACK_WERIFT,
    onOffer: (id, offer) => send({ t: 'sub-offer', id, sdp: offer.sdp }),
    onError: (err) => send({ t: 'error', message: String(err) }),
  })
  return {
    publish: async (sdp) => (await fwd.addPublisher('speaker', { type: 'offer', sdp })).sdp,
    async addListener(id) {
      fwd.addSubscriber(id)
      fwd.subscribe(id, 'speaker')
    },
    answer: (id, sdp) => fwd.acceptAnswer(id, { type: 'answer', sdp }),
    async packets() {
      const s = fwd.stats()
      return { in: s.packetsIn, out: s.packetsOut }
    },
    close: () => fwd.close(),
  }
}

async function sumStats(pcs: RTCPeerConnection[], type: string, field: 'packetsReceived' | 'packetsSent'): Promise<number> {
  let n = 0
  for (const pc of pcs) {
    const report = await pc.getStats()
    report.forEach((s: Record<string, unknown>) => {
      if (s.type === type && (s.kind ?? s.mediaType) === 'audio') n += Number(s[field] ?? 0)
    })
  }
  return n
}

function wrtcRelay(): RelayImpl {
  const pub = new wrtc.RTCPeerConnection({ iceServers: [] })
  const subs = new Map<string, RTCPeerConnection>()
  let track: MediaStreamTrack | undefined
  pub.ontrack = (ev) => {
    track = ev.track
  }
  return {
    async publish(sdp) {
      await pub.setRemoteDescription({ type: 'offer', sdp })
      await pub.setLocalDescription(await pub.createAnswer())
      await gathered(pub)
      return pub.localDescription!.sdp
    },
    async addListener(id) {
      if (!track) throw new Error('no remote track yet')
      const pc = new wrtc.RTCPeerConnection({ iceServers: [] })
      subs.set(id, pc)
      pc.addTrack(track, new wrtc.MediaStream([track]))
      await pc.setLocalDescription(await pc.createOffer())
      await gathered(pc)
      send({ t: 'sub-offer', id, sdp: pc.localDescription!.sdp })
    },
    answer: (id, sdp) => subs.get(id)!.setRemoteDescription({ type: 'answer', sdp }),
    async packets() {
      return {
        in: await sumStats([pub], 'inbound-rtp', 'packetsReceived'),
        out: await sumStats([...subs.values()], 'outbound-rtp', 'packetsSent'),
      }
    },
    async close() {
      for (const pc of subs.values()) pc.close()
      pub.close()
    },
  }
}

async function relayMain(mode: Mode): Promise<void> {
  // Idle baseline: the relay process with its modules loaded and nothing to do.
  await sleep(1000)
  const idle = cpuMeter()
  await sleep(2000)
  const idleCpu = idle()
  const impl = mode === 'werift' ? weriftRelay() : wrtcRelay()
  const fail = (err: unknown) => send({ t: 'error', message: String((err as Error)?.stack ?? err) })
  send({ t: 'ready', idleCpu, rss: process.memoryUsage().rss })
  let meter: (() => number) | undefined
  let samples: number[] = []
  let timer: ReturnType<typeof setInterval> | undefined
  let base = { in: 0, out: 0, at: 0 }
  process.on('message', (m: ToRelay) => {
    switch (m.t) {
      case 'pub-offer':
        impl.publish(m.sdp).then((sdp) => send({ t: 'pub-answer', sdp }), fail)
        break
      case 'add-listeners':
        for (let i = 0; i < m.n; i++) impl.addListener(`l${i}`).catch(fail)
        break
      case 'sub-answer':
        impl.answer(m.id, m.sdp).catch(fail)
        break
      case 'mark':
        samples = []
        meter = cpuMeter()
        timer = setInterval(() => samples.push(meter!()), 1000)
        impl.packets().then((p) => (base = { ...p, at: performance.now() }), fail)
        break
      case 'report':
        clearInterval(timer)
        impl.packets().then((p) => {
          const mem = process.memoryUsage()
          send({
            t: 'report',
            cpu: samples,
            rss: mem.rss,
            heapUsed: mem.heapUsed,
            packetsIn: p.in - base.in,
            packetsOut: p.out - base.out,
            seconds: (performance.now() - base.at) / 1000,
          })
        }, fail)
        break
      case 'exit':
        impl.close().finally(() => process.exit(0))
        break
    }
  })
}

// ---- clients child -------------------------------------------------------------------------

async function clientsMain(): Promise<void> {
  let speaker: RTCPeerConnection | undefined
  let source: AudioSourceHandle | undefined
  const listeners = new Map<string, RTCPeerConnection>()
  const sinks: (() => void)[] = []
  const recent = new Map<string, Int16Array>()
  const fail = (err: unknown) => send({ t: 'error', message: String((err as Error)?.stack ?? err) })
  let n = 0
  let base = new Map<string, { received: number; lost: number }>()
  let meter: (() => number) | undefined
  let markedAt = 0

  const inbound = async (pc: RTCPeerConnection) => {
    let received = 0
    let lost = 0
    const report = await pc.getStats()
    report.forEach((s: Record<string, unknown>) => {
      if (s.type === 'inbound-rtp') {
        received += Number(s.packetsReceived ?? 0)
        lost += Number(s.packetsLost ?? 0)
      }
    })
    return { received, lost }
  }
  const allInbound = async () => {
    const out = new Map<string, { received: number; lost: number }>()
    for (const [id, pc] of listeners) out.set(id, await inbound(pc))
    return out
  }
  const toneOk = (id: string) => {
    const block = recent.get(id)
    if (!block) return false
    const [a440, a1000] = detectTones(block, SAMPLE_RATE, [440, 1000])
    return hasTone(a440!) && !hasTone(a1000!, { minRatio: 0.05 })
  }
  const watched = () => ['l0', `l${n - 1}`]
  const checkConnected = async () => {
    while (
      [...listeners.values()].filter((pc) => pc.connectionState === 'connected').length < n ||
      !watched().every(toneOk)
    ) {
      await sleep(100)
    }
    send({ t: 'connected' })
  }

  process.on('message', (m: ToClients) => {
    switch (m.t) {
      case 'start': {
        n = m.n
        speaker = new wrtc.RTCPeerConnection({ iceServers: [] })
        source = createToneSource(wrtc, { freq: 440 })
        speaker.addTrack(source.track, source.stream)
        const pc = speaker
        ;(async () => {
          await pc.setLocalDescription(await pc.createOffer())
          await gathered(pc)
          send({ t: 'pub-offer', sdp: pc.localDescription!.sdp })
        })().catch(fail)
        break
      }
      case 'pub-answer':
        speaker!.setRemoteDescription({ type: 'answer', sdp: m.sdp }).then(() => checkConnected(), fail)
        break
      case 'sub-offer': {
        let pc = listeners.get(m.id)
        if (!pc) {
          const id = m.id
          const created = new wrtc.RTCPeerConnection({ iceServers: [] })
          pc = created
          listeners.set(id, created)
          if (watched().includes(id)) {
            created.ontrack = (ev) => {
              sinks.push(
                attachSink(wrtc, ev.track, (frame) => {
                  const prev = recent.get(id) ?? new Int16Array(0)
                  const joined = new Int16Array(prev.length + frame.length)
                  joined.set(prev)
                  joined.set(frame, prev.length)
                  recent.set(id, joined.subarray(Math.max(0, joined.length - SAMPLE_RATE / 5)))
                }),
              )
            }
          }
        }
        const lpc = pc
        ;(async () => {
          await lpc.setRemoteDescription({ type: 'offer', sdp: m.sdp })
          await lpc.setLocalDescription(await lpc.createAnswer())
          await gathered(lpc)
          send({ t: 'sub-answer', id: m.id, sdp: lpc.localDescription!.sdp })
        })().catch(fail)
        break
      }
      case 'mark':
        meter = cpuMeter()
        markedAt = performance.now()
        allInbound().then((b) => (base = b), fail)
        break
      case 'report': {
        const cpu = meter!()
        const seconds = (performance.now() - markedAt) / 1000
        allInbound().then((now) => {
          const received: number[] = []
          const lost: number[] = []
          for (const [id, s] of now) {
            const b = base.get(id) ?? { received: 0, lost: 0 }
            received.push(s.received - b.received)
            lost.push(s.lost - b.lost)
          }
          send({ t: 'report', received, lost, seconds, cpu, toneOk: watched().every(toneOk) })
        }, fail)
        break
      }
      case 'exit':
        for (const stop of sinks) stop()
        source?.stop()
        for (const pc of listeners.values()) pc.close()
        speaker?.close()
        setTimeout(() => process.exit(0), 100)
        break
    }
  })
  send({ t: 'ready' })
}

// ---- orchestrator --------------------------------------------------------------------------

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo)
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d

interface Child<In, Out> {
  proc: ChildProcess
  send(m: In): void
  next<T extends Out>(pred: (m: Out) => m is T, timeoutMs: number): Promise<T>
  on(fn: (m: Out) => void): void
  exited: Promise<void>
}

function spawnChild<In, Out extends { t: string }>(args: string[], extraExecArgv: string[] = []): Child<In, Out> {
  const proc = fork(fileURLToPath(import.meta.url), args, {
    execArgv: ['--import', import.meta.resolve('tsx'), ...extraExecArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const handlers: ((m: Out) => void)[] = []
  proc.on('message', (m: Out) => {
    if (m.t === 'error') console.error(`[${args.join(' ')}]`, (m as unknown as { message: string }).message)
    for (const h of [...handlers]) h(m)
  })
  const exited = new Promise<void>((ok) => proc.once('exit', () => ok()))
  return {
    proc,
    send: (m) => {
      if (proc.connected) proc.send(m as object)
    },
    on: (fn) => handlers.push(fn),
    next: (pred, timeoutMs) =>
      new Promise((ok, fail) => {
        const timer = setTimeout(() => {
          handlers.splice(handlers.indexOf(h), 1)
          fail(new Error(`timeout waiting for a message from ${args.join(' ')}`))
        }, timeoutMs)
        const h = (m: Out) => {
          if (!pred(m)) return
          clearTimeout(timer)
          handlers.splice(handlers.indexOf(h), 1)
          ok(m)
        }
        handlers.push(h)
      }),
    exited,
  }
}

async function stopChild(c: Child<unknown, { t: string }>): Promise<void> {
  c.send({ t: 'exit' })
  const killed = sleep(5000).then(() => {
    if (c.proc.exitCode === null && c.proc.pid) process.kill(c.proc.pid, 'SIGKILL')
  })
  await Promise.race([c.exited, killed])
  await c.exited
}

async function scenario(mode: Mode, n: number, warmupS: number, measureS: number): Promise<ScenarioResult> {
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each relay child there.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []
  const relay = spawnChild<ToRelay, FromRelay>(['--role=relay', `--mode=${mode}`], prof)
  const clients = spawnChild<ToClients, FromClients>(['--role=clients'])
  try {
    const [ready] = await Promise.all([
      relay.next((m): m is Extract<FromRelay, { t: 'ready' }> => m.t === 'ready', 30_000),
      clients.next((m): m is Extract<FromClients, { t: 'ready' }> => m.t === 'ready', 30_000),
    ])
    relay.on((m) => {
      if (m.t === 'pub-answer') clients.send({ t: 'pub-answer', sdp: loopbackOnly(m.sdp) })
      if (m.t === 'sub-offer') clients.send({ t: 'sub-offer', id: m.id, sdp: loopbackOnly(m.sdp) })
    })
    clients.on((m) => {
      if (m.t === 'pub-offer') {
        relay.send({ t: 'pub-offer', sdp: loopbackOnly(m.sdp) })
      }
      if (m.t === 'sub-answer') relay.send({ t: 'sub-answer', id: m.id, sdp: loopbackOnly(m.sdp) })
    })
    const answered = relay.next((m): m is Extract<FromRelay, { t: 'pub-answer' }> => m.t === 'pub-answer', 30_000)
    clients.send({ t: 'start', n })
    await answered
    relay.send({ t: 'add-listeners', n })
    await clients.next((m): m is Extract<FromClients, { t: 'connected' }> => m.t === 'connected', 60_000)
    await sleep(warmupS * 1000)
    relay.send({ t: 'mark' })
    clients.send({ t: 'mark' })
    await sleep(measureS * 1000 + 200)
    const rReport = relay.next((m): m is Extract<FromRelay, { t: 'report' }> => m.t === 'report', 30_000)
    const cReport = clients.next((m): m is Extract<FromClients, { t: 'report' }> => m.t === 'report', 30_000)
    relay.send({ t: 'report' })
    clients.send({ t: 'report' })
    const [r, c] = await Promise.all([rReport, cReport])
    const cpuMean = mean(r.cpu)
    const perListenerRate = c.received.map((x) => x / c.seconds)
    const loss = c.received.map((rec, i) => {
      const lost = Math.max(0, c.lost[i]!)
      return rec + lost > 0 ? (100 * lost) / (rec + lost) : 100
    })
    return {
      mode,
      listeners: n,
      relayCpu: { median: round(quantile(r.cpu, 0.5)), p95: round(quantile(r.cpu, 0.95)), mean: round(cpuMean) },
      cpuPerStream: round(cpuMean / n, 3),
      relayIdleCpu: round(ready.idleCpu),
      rssMb: round(r.rss / 2 ** 20, 1),
      rssGrowthMb: round((r.rss - ready.rss) / 2 ** 20, 1),
      heapUsedMb: round(r.heapUsed / 2 ** 20, 1),
      relayPacketsInPerS: round(r.packetsIn / r.seconds, 1),
      relayPacketsOutPerS: round(r.packetsOut / r.seconds, 1),
      listenerPacketsPerS: { median: round(quantile(perListenerRate, 0.5), 1), min: round(Math.min(...perListenerRate), 1) },
      lossPct: { median: round(quantile(loss, 0.5)), p95: round(quantile(loss, 0.95)), max: round(Math.max(...loss)) },
      clientsCpu: round(c.cpu),
      toneOk: c.toneOk,
    }
  } finally {
    await Promise.all([stopChild(relay), stopChild(clients)])
  }
}

function table(rows: ScenarioResult[]): string {
  const head = ['mode', 'N', 'cpu% med', 'cpu% p95', 'cpu%/stream', 'idle%', 'rss MB', '+rss MB', 'pkt/s in', 'pkt/s out', 'rx pkt/s med', 'loss% med', 'loss% p95', 'clients cpu%', 'tone']
  const body = rows.map((r) => [
    r.mode,
    r.listeners,
    r.relayCpu.median,
    r.relayCpu.p95,
    r.cpuPerStream,
    r.relayIdleCpu,
    r.rssMb,
    r.rssGrowthMb,
    r.relayPacketsInPerS,
    r.relayPacketsOutPerS,
    r.listenerPacketsPerS.median,
    r.lossPct.median,
    r.lossPct.p95,
    r.clientsCpu,
    r.toneOk ? 'ok' : 'MISSING',
  ].map(String))
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ')
  return [line(head), ...body.map(line)].join('\n')
}

/** Runs every scenario (both modes for each N, one after the other) and prints a table. */
export async function run(
  opts: { listeners?: number[]; warmupS?: number; measureS?: number } = {},
): Promise<RelayForwardingReport> {
  const ns = opts.listeners ?? (process.env.BENCH_NS ? process.env.BENCH_NS.split(',').map(Number) : [5, 10, 20, 40])
  const warmupS = opts.warmupS ?? 3
  const measureS = opts.measureS ?? Number(process.env.BENCH_MEASURE_S ?? 10)
  const scenarios: ScenarioResult[] = []
  for (const n of ns) {
    for (const mode of ['wrtc', 'werift'] as const) {
      const r = await scenario(mode, n, warmupS, measureS)
      console.error(`relay-forwarding: ${mode} N=${n} cpu ${r.relayCpu.median}% loss ${r.lossPct.median}%`)
      scenarios.push(r)
    }
  }
  const ratios = ns.map((n) => {
    const a = scenarios.find((s) => s.mode === 'wrtc' && s.listeners === n)!
    const b = scenarios.find((s) => s.mode === 'werift' && s.listeners === n)!
    return { listeners: n, cpu: round(a.relayCpu.mean / b.relayCpu.mean), rss: round(a.rssGrowthMb / Math.max(0.1, b.rssGrowthMb)) }
  })
  console.log(table(scenarios))
  console.log('\nwrtc / werift: ' + ratios.map((r) => `N=${r.listeners}: cpu x${r.cpu}, rss growth x${r.rss}`).join('; '))
  return { name: 'relay-forwarding', host: { cpus: (await import('node:os')).cpus().length, node: process.version }, warmupS, measureS, scenarios, ratios }
}

// ---- entry ---------------------------------------------------------------------------------

const role = process.argv.find((a) => a.startsWith('--role='))?.slice(7)
if (role === 'relay') {
  const mode = process.argv.find((a) => a.startsWith('--mode='))?.slice(7) as Mode
  relayMain(mode).catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
} else if (role === 'clients') {
  clientsMain().catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (report) => console.log(JSON.stringify(report, null, 2)),
    (err: unknown) => {
      console.error(err)
      process.exitCode = 1
    },
  )
}
