/**
 * The relay bench's relay child (`--role=relay`, forked by relay-children.ts): a real
 * relay (startRelay) on 127.0.0.1, alone in its process so that its CPU, memory and
 * event loop are what is measured. `--workers=N` forwards on N worker threads;
 * `--swarm=<bootstrap JSON>` finds the other relays of a room on that DHT (a hyperdht
 * testnet on 127.0.0.1, relay-cascade.ts) and cascades with them. It answers `mark` /
 * `report` with one measurement window (CPU per 1 s, per thread, memory after a full
 * GC, packets) and `room-info` with what it knows of a room (its cascade links).
 */
import { writeFileSync } from 'node:fs'
import { writeHeapSnapshot } from 'node:v8'
import { startRelay, type Relay } from '../../relay/server.ts'
import { threadCpuMs } from '../../relay/sfu/shard-protocol.ts'
import { createLogger, silentLogger, type Level } from '../../relay/log.ts'
import { cpuMeter, LOOPBACK, loopbackOnly, round, send, sleep } from './relay-common.ts'
import type { RelayRoomInfo, RelayThreads, ToChild } from './relay-children.ts'

/** CPU ms of the main thread and of each shard now (after fresh shard reports). */
async function threadCpu(relay: Relay): Promise<{ main: number | null; shards: Array<number | null> }> {
  await relay.shards?.refresh()
  return { main: threadCpuMs(), shards: relay.shards?.shards().map((s) => s.cpuMs) ?? [] }
}

export async function relayMain(): Promise<void> {
  const workers = Number(process.argv.find((a) => a.startsWith('--workers='))?.slice(10) ?? 1)
  // --swarm=<bootstrap JSON>: cascade with the other relays of a room found on that DHT (a testnet on 127.0.0.1).
  const swarm = process.argv.find((a) => a.startsWith('--swarm='))?.slice(8)
  const relay: Relay = await startRelay({
    port: 0,
    host: '127.0.0.1',
    log: process.env.BENCH_RELAY_LOG ? createLogger(process.env.BENCH_RELAY_LOG as Level) : silentLogger,
    workers,
    ...(swarm ? { swarm: { bootstrap: JSON.parse(swarm) as Array<{ host: string; port: number }>, host: '127.0.0.1' } } : {}),
    rooms: {
      peerConfig: LOOPBACK,
      sdpFilter: loopbackOnly,
      maxListeners: 100_000,
      maxPeersPerRoom: 100_000,
      maxConnections: 100_000,
      // Every client of the bench dials from 127.0.0.1.
      maxConnectionsPerIp: 100_000,
    },
  })
  await sleep(1000)
  const idle = cpuMeter()
  await sleep(2000)
  const idleCpu = idle()
  ;(globalThis as { gc?: () => void }).gc?.()
  send({ t: 'ready', url: relay.url, idleCpu, rss: process.memoryUsage().rss })
  const m = relay.metrics
  const totals = () => {
    relay.rooms.collect()
    return {
      in: m.value('stoop_relay_packets_total', { direction: 'in' }),
      out: m.value('stoop_relay_packets_total', { direction: 'out' }),
      bytesOut: m.value('stoop_relay_bytes_total', { direction: 'out' }),
      dropped: m.value('stoop_relay_dropped_total', { reason: 'not-connected' }) + m.value('stoop_relay_dropped_total', { reason: 'send-failed' }),
    }
  }
  let samples: number[] = []
  let timer: NodeJS.Timeout | undefined
  // User and kernel CPU of the window: on loopback the kernel time of a send includes
  // delivering the datagram to the listener's socket and waking its process.
  let windowStart = { usage: process.cpuUsage(), at: performance.now() }
  let base = { ...totals(), at: performance.now() }
  let threadsAt = await threadCpu(relay)
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each measurement window (forwarding only, no start-up or joins).
  const profDir = process.env.BENCH_CPU_PROF
  const inspector = profDir ? new (await import('node:inspector')).Session() : null
  const post = (method: string, params?: object) =>
    new Promise<unknown>((ok, fail) => inspector!.post(method, params ?? {}, (err, res) => (err ? fail(err) : ok(res))))
  if (inspector) {
    inspector.connect()
    await post('Profiler.enable')
  }
  const onMessage = async (msg: ToChild): Promise<void> => {
    if (msg.t === 'mark') {
      if (inspector) void post('Profiler.start')
      samples = []
      threadsAt = await threadCpu(relay)
      windowStart = { usage: process.cpuUsage(), at: performance.now() }
      const meter = cpuMeter()
      timer = setInterval(() => samples.push(meter()), 1000)
      base = { ...totals(), at: performance.now() }
    } else if (msg.t === 'report') {
      clearInterval(timer)
      const used = process.cpuUsage(windowStart.usage)
      const windowMs = performance.now() - windowStart.at
      const threadsNow = await threadCpu(relay)
      const now = totals()
      const pct = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null ? null : round(((b - a) / windowMs) * 100))
      const shardPct = threadsNow.shards.map((s, i) => pct(threadsAt.shards[i], s))
      const mainPct = pct(threadsAt.main, threadsNow.main)
      const known = [mainPct, ...shardPct].filter((x): x is number => x !== null)
      const threads: RelayThreads = { workers, mainPct, shardPct, busiestPct: known.length ? Math.max(...known) : null }
      // Memory after a full collection (the child runs with --expose-gc, and so do its shards):
      // what the listeners hold, not how far the heap happened to grow since the last GC.
      ;(globalThis as { gc?: () => void }).gc?.()
      await relay.shards?.refresh({ gc: true })
      const shardHeap = relay.shards?.shards().reduce((a, s) => a + (s.heapUsed ?? 0), 0) ?? 0
      const mem = process.memoryUsage()
      if (inspector) {
        const file = `${profDir}/relay-${m.value('stoop_relay_streams')}-${Date.now()}.cpuprofile`
        post('Profiler.stop').then(
          (res) => writeFileSync(file, JSON.stringify((res as { profile: unknown }).profile)),
          (err: unknown) => send({ t: 'error', message: `profile: ${String(err)}` }),
        )
      }
      // BENCH_HEAP_SNAPSHOT=<dir>: a heap snapshot of the relay at each report (what a listener costs).
      if (process.env.BENCH_HEAP_SNAPSHOT) writeHeapSnapshot(`${process.env.BENCH_HEAP_SNAPSHOT}/relay-${m.value('stoop_relay_streams')}.heapsnapshot`)
      send({
        t: 'relay-report',
        cpu: samples,
        userPct: used.user / 10 / windowMs,
        sysPct: used.system / 10 / windowMs,
        rss: mem.rss,
        heapUsed: mem.heapUsed + shardHeap,
        heapTotal: mem.heapTotal,
        external: mem.external,
        packetsIn: now.in - base.in,
        packetsOut: now.out - base.out,
        bytesOut: now.bytesOut - base.bytesOut,
        dropped: now.dropped - base.dropped,
        seconds: (performance.now() - base.at) / 1000,
        lagP99Ms: m.value('stoop_relay_event_loop_lag_seconds', { quantile: '0.99' }) * 1000,
        lagMaxMs: m.value('stoop_relay_event_loop_lag_seconds', { quantile: '1' }) * 1000,
        streams: m.value('stoop_relay_streams'),
        threads,
      })
    } else if (msg.t === 'room-info') {
      const room = relay.rooms.room(msg.discovery)
      const info: RelayRoomInfo = {
        t: 'room-info',
        publishers: room?.publishers ?? [],
        remote: room?.remotePublishers ?? [],
        links: relay.cascade?.links(msg.discovery).map((l) => l.url) ?? [],
        subscribers: room?.forwarderStats?.subscribers ?? 0,
      }
      send(info)
    } else if (msg.t === 'exit') {
      await relay.close().finally(() => process.exit(0))
    }
  }
  process.on('message', (msg: ToChild) => void onMessage(msg).catch((err: unknown) => send({ t: 'error', message: String(err) })))
}

