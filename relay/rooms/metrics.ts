/**
 * The relay rooms' metrics (all prefixed `stoop_relay_`), on the shared
 * registry served at /metrics.
 *
 * Counters moved as things happen: rejected publishes and messages by reason,
 * revoked publishers, doc writes. Totals owned by the forwarders (packets,
 * bytes, drops) and gauges (rooms, peers by role, streams) are brought up to
 * date by `collect()`, which /metrics calls before rendering; forwarder totals
 * of rooms already closed are kept so counters never go back.
 *
 * Event-loop lag comes from `perf_hooks.monitorEventLoopDelay` (20 ms
 * resolution; the histogram holds whole timer intervals, so the resolution is
 * subtracted): p50, p99 and max since the previous scrape, in seconds.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { ForwarderStats } from '../sfu/forwarder.ts'
import type { Metrics } from '../metrics.ts'
import type { Role } from '../../src/room/index.ts'

const LOOP_RESOLUTION_MS = 20

export const ROLES: readonly (Role | 'unauthenticated')[] = ['owner', 'moderator', 'speaker', 'listener', 'banned', 'unauthenticated']

export interface RoomsSnapshot {
  rooms: number
  connections: number
  peersByRole: Record<string, number>
  publishers: number
  subscribers: number
  /** Subscribers held on standby (failover reserves). */
  standby: number
  /** Totals of every forwarder that ever ran (live ones plus closed ones). */
  forwarders: ForwarderStats
  /** Entry bytes of every loaded room doc. */
  docBytes?: number
  /** What `--data` holds, when set (null until its first scan finished). */
  store?: { rooms: number; bytes: number } | null
}

export function emptyForwarderStats(): ForwarderStats {
  return { publishers: 0, subscribers: 0, standby: 0, streams: 0, packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, dropped: { notConnected: 0, sendFailed: 0 }, errors: 0 }
}

export function addForwarderStats(into: ForwarderStats, s: ForwarderStats): void {
  into.publishers += s.publishers
  into.subscribers += s.subscribers
  into.standby += s.standby
  into.streams += s.streams
  into.packetsIn += s.packetsIn
  into.bytesIn += s.bytesIn
  into.packetsOut += s.packetsOut
  into.bytesOut += s.bytesOut
  into.dropped.notConnected += s.dropped.notConnected
  into.dropped.sendFailed += s.dropped.sendFailed
  into.errors += s.errors
}

export function describeRelayMetrics(m: Metrics): void {
  m.describe('stoop_relay_rooms', 'Rooms loaded on this relay')
  m.describe('stoop_relay_connections', 'Open relay WebSocket connections (authenticated or not)')
  m.describe('stoop_relay_peers', 'Connected participants by their role in the room state the relay holds')
  m.describe('stoop_relay_publishers', 'Speakers whose audio the relay forwards')
  m.describe('stoop_relay_subscribers', 'Listening connections (standby ones included)')
  m.describe('stoop_relay_standby_subscribers', 'Listening connections held ready for a client\'s failover: negotiated, nothing forwarded until they activate')
  m.describe('stoop_relay_streams', 'Forwarded streams (subscriber, publisher pairs)')
  m.describe('stoop_relay_packets_total', 'RTP packets received from publishers (in) and sent to subscribers (out)')
  m.describe('stoop_relay_bytes_total', 'RTP payload bytes received (in) and sent (out)')
  m.describe('stoop_relay_dropped_total', 'Packets or messages not delivered, by reason')
  m.describe('stoop_relay_rejected_publish_total', 'Publish requests refused, by reason (not-speaker: a listener tried to publish; banned: a banned key did)')
  m.describe('stoop_relay_revoked_publish_total', 'Publishers the relay stopped forwarding because they lost their seat')
  m.describe('stoop_relay_rejected_total', 'Relay frames, connections or room updates rejected, by reason')
  m.describe('stoop_relay_messages_total', 'Valid control messages received, by type')
  m.describe('stoop_relay_connections_total', 'Relay connections authenticated')
  m.describe('stoop_relay_doc_writes_total', 'Room doc writes to --data, by result (quota: refused, the store is full)')
  m.describe('stoop_relay_doc_bytes', 'Entry bytes held by the loaded room docs (bounded by --max-total-doc-mb)')
  m.describe('stoop_relay_store_bytes', 'Bytes of the room docs stored in --data')
  m.describe('stoop_relay_store_rooms', 'Room docs stored in --data')
  m.describe('stoop_relay_store_evicted_total', 'Stored room docs deleted, by reason (expired: unused past --room-expiry-days; quota: to make room under --store-quota-mb)')
  m.describe('stoop_relay_rooms_evicted_total', 'Idle rooms unloaded early to make way for a new room at --max-rooms')
  m.describe('stoop_relay_forwarder_errors_total', 'Async failures inside the forwarders (offers)')
  m.describe('stoop_relay_event_loop_lag_seconds', 'Event-loop delay since the previous scrape (perf_hooks), by quantile')
}

export class RelayMetricsCollector {
  readonly #m: Metrics
  readonly #loop: IntervalHistogram

  constructor(m: Metrics) {
    this.#m = m
    describeRelayMetrics(m)
    this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
    this.#loop.enable()
  }

  collect(s: RoomsSnapshot): void {
    const m = this.#m
    m.gauge('stoop_relay_rooms').set(s.rooms)
    m.gauge('stoop_relay_connections').set(s.connections)
    for (const role of ROLES) m.gauge('stoop_relay_peers', { role }).set(s.peersByRole[role] ?? 0)
    m.gauge('stoop_relay_publishers').set(s.publishers)
    m.gauge('stoop_relay_subscribers').set(s.subscribers)
    m.gauge('stoop_relay_standby_subscribers').set(s.standby)
    m.gauge('stoop_relay_streams').set(s.forwarders.streams)
    if (s.docBytes !== undefined) m.gauge('stoop_relay_doc_bytes').set(s.docBytes)
    if (s.store) {
      m.gauge('stoop_relay_store_bytes').set(s.store.bytes)
      m.gauge('stoop_relay_store_rooms').set(s.store.rooms)
    }
    const f = s.forwarders
    this.#catchUp('stoop_relay_packets_total', { direction: 'in' }, f.packetsIn)
    this.#catchUp('stoop_relay_packets_total', { direction: 'out' }, f.packetsOut)
    this.#catchUp('stoop_relay_bytes_total', { direction: 'in' }, f.bytesIn)
    this.#catchUp('stoop_relay_bytes_total', { direction: 'out' }, f.bytesOut)
    this.#catchUp('stoop_relay_dropped_total', { reason: 'not-connected' }, f.dropped.notConnected)
    this.#catchUp('stoop_relay_dropped_total', { reason: 'send-failed' }, f.dropped.sendFailed)
    this.#catchUp('stoop_relay_forwarder_errors_total', {}, f.errors)
    const h = this.#loop
    // The histogram records whole timer intervals; the lag is what exceeds the resolution.
    const sec = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e9 - LOOP_RESOLUTION_MS / 1000) : 0)
    m.gauge('stoop_relay_event_loop_lag_seconds', { quantile: '0.5' }).set(sec(h.percentile(50)))
    m.gauge('stoop_relay_event_loop_lag_seconds', { quantile: '0.99' }).set(sec(h.percentile(99)))
    m.gauge('stoop_relay_event_loop_lag_seconds', { quantile: '1' }).set(sec(h.max))
    h.reset()
  }

  close(): void {
    this.#loop.disable()
  }

  /** Moves a counter up to `total` (forwarder totals only grow). */
  #catchUp(name: string, labels: Record<string, string>, total: number): void {
    const c = this.#m.counter(name, labels)
    if (total > c.value) c.inc(total - c.value)
  }
}
