/**
 * The relay process: one HTTP server that serves the PWA and the relay API.
 * Parts (signalling, SFU rooms, swarm) attach to it; this file only composes them.
 *
 * `close()` is the graceful shutdown (SIGTERM): stop accepting, tell relay
 * clients to move (`bye`), flush room docs to `data`, close signalling.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { send, staticFiles } from './http.ts'
import type { Logger } from './log.ts'
import { createMetrics, METRICS_CONTENT_TYPE, type Metrics } from './metrics.ts'
import { attachSignalling } from './signalling.ts'
import { attachRelayRooms, type RelayRooms, type RelayRoomsOptions } from './rooms/endpoint.ts'
import { Cascade } from './cascade/cascade.ts'
import { startStunServer, type StunServer } from './stun.ts'
import { ShardPool } from './sfu/shard-pool.ts'
import { shardedForwarders } from './sfu/sharded-forwarder.ts'
import type { BootstrapNode } from '../src/node/dht.ts'
import { generateIdentity, type Identity } from '../src/identity/index.ts'

export interface RelayOptions {
  port: number
  host: string
  /** Folder with the built PWA. */
  dist?: string
  log: Logger
  /** Persist room docs here (`--data DIR`). Without it they live in memory only. */
  data?: string
  /** Limits and media settings of the SFU endpoint (`/relay`). */
  rooms?: Omit<RelayRoomsOptions, 'log' | 'metrics' | 'dataDir' | 'onRoomOpened' | 'onRoomClosed'>
  /**
   * Find the other relays serving the same rooms on hyperswarm and cascade
   * with them (relay/cascade/). Never the public DHT: bootstrap is required.
   */
  swarm?: { bootstrap: BootstrapNode[]; host?: string }
  /** The relay's own key (cascade links authenticate with it). Default: a fresh one per start. */
  identity?: Identity
  /** This relay's public base URL (http(s)://host[:port]); default: the bound address. */
  publicUrl?: string
  /** Answer STUN Binding requests on this UDP port (relay/stun.ts); host defaults to `host`. Default: none. */
  stun?: { port: number; host?: string }
  /**
   * Forwarding threads (`--workers N`). 1 (default): every room's RTP is forwarded in this
   * thread. N > 1: N worker threads share every room's listeners and speakers, the room state
   * stays here (relay/sfu/shard-pool.ts; docs/relay.md, "Every core").
   */
  workers?: number
}

export interface Relay {
  /** Counters and gauges of every part, served on /metrics. */
  readonly metrics: Metrics
  /** The SFU endpoint (`/relay`): rooms, doc replicas, forwarding. */
  readonly rooms: RelayRooms
  readonly server: Server
  /** http://host:port as actually bound (port 0 picks a free one). */
  readonly url: string
  /** Relay discovery and cascade links, with `swarm`. */
  readonly cascade: Cascade | null
  /** The UDP port STUN is answered on, with `stun`. */
  readonly stunPort: number | null
  /** The forwarding shards, with `workers` > 1 (per-shard counters; `terminate(i)` stops one as a crash would). */
  readonly shards: ShardPool | null
  close(): Promise<void>
}

const DEFAULT_DIST = fileURLToPath(new URL('../dist', import.meta.url))

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const files = staticFiles(opts.dist ?? DEFAULT_DIST)
  const metrics = createMetrics()
  // Bound first: a port in use then fails the start before anything else runs.
  const stun: StunServer | null = opts.stun ? await startStunServer({ port: opts.stun.port, host: opts.stun.host ?? opts.host, metrics, log: opts.log }) : null
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/healthz') return send(res, 200, JSON.stringify({ ok: true }), 'application/json')
    if (path === '/metrics') {
      rooms.collect()
      shards?.collect()
      return send(res, 200, metrics.render(), METRICS_CONTENT_TYPE)
    }
    files(req, res).catch((err: unknown) => {
      opts.log.error('static file failed', { err: String(err) })
      if (!res.headersSent) send(res, 500, 'internal error')
      else res.destroy()
    })
  })
  const signalling = attachSignalling(server, { path: '/signal', log: opts.log, metrics })
  let cascade: Cascade | null = null
  // A relay that cascades names its key to members, who vouch for it (relay/rooms/vouch.ts).
  const identity = opts.swarm ? (opts.identity ?? (await generateIdentity())) : null
  const shards = await startShards(opts, metrics, stun)
  const rooms = attachRelayRooms(server, {
    ...opts.rooms,
    ...(shards ? { forwarder: shardedForwarders(shards) } : {}),
    ...(identity ? { identity } : {}),
    log: opts.log,
    metrics,
    ...(opts.data ? { dataDir: opts.data } : {}),
    onRoomOpened: (room) => cascade?.roomOpened(room),
    onRoomClosed: (room) => cascade?.roomClosed(room),
  })
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(opts.port, opts.host, () => ok())
  }).catch(async (err: unknown) => {
    await stun?.close()
    await shards?.close()
    throw err
  })
  const { port } = server.address() as AddressInfo
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? 'localhost' : opts.host
  const url = `http://${host}:${port}`
  opts.log.info('relay listening', { url })
  if (opts.swarm && identity) {
    const base = (opts.publicUrl ?? url).replace(/\/+$/, '')
    cascade = new Cascade({
      bootstrap: opts.swarm.bootstrap,
      ...(opts.swarm.host ? { host: opts.swarm.host } : {}),
      url: base.replace(/^http/, 'ws') + '/relay',
      identity,
      log: opts.log,
      metrics,
      ...(opts.rooms?.peerConfig ? { peerConfig: opts.rooms.peerConfig } : {}),
      ...(opts.rooms?.sdpFilter ? { sdpFilter: opts.rooms.sdpFilter } : {}),
    })
  }
  return {
    server,
    url,
    metrics,
    rooms,
    get cascade() {
      return cascade
    },
    stunPort: stun?.port ?? null,
    shards,
    close: async () => {
      // Clients first (bye: they move to another relay now), then the swarm (its
      // destroy waits for the DHT).
      await rooms.close('shutdown')
      await shards?.close()
      await cascade?.close()
      await signalling.close()
      await stun?.close()
      await new Promise<void>((ok) => {
        server.closeAllConnections()
        server.close(() => ok())
      })
    },
  }
}

/** The forwarding shards when `workers` > 1 (the STUN server already bound is closed if they fail to start). */
async function startShards(opts: RelayOptions, metrics: Metrics, stun: StunServer | null): Promise<ShardPool | null> {
  if ((opts.workers ?? 1) <= 1) return null
  const peerConfig = opts.rooms?.peerConfig
  try {
    return await ShardPool.start({ workers: opts.workers!, log: opts.log, metrics, ...(peerConfig ? { peerConfig } : {}) })
  } catch (err) {
    await stun?.close()
    throw err
  }
}
