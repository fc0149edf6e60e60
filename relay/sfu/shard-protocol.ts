/**
 * The messages of a sharded forwarder (`stoop relay --workers N`): between the
 * relay's main thread (shard-pool.ts, sharded-forwarder.ts) and its forwarding
 * shards (shard-worker.ts, one worker thread each), and between shards.
 *
 * - Main -> shard: operations on a room's forwarder in that shard (`op`, named
 *   by the room's forwarder id; `id` > 0 asks for a `reply`), packets of remote
 *   publishers (the cascade's), ports to other shards, stats requests.
 * - Shard -> main: replies, what the Forwarder reports (offers to deliver,
 *   connection states, async errors) and its counters every STATS_MS.
 * - Shard -> shard (MessagePort): the packets of the publishers a shard hosts,
 *   to every other shard where the room has listeners, batched per turn.
 *
 * Payload bytes are copied once into a buffer of their own (a Buffer may be a
 * view into a larger pool, and a clone copies the whole of it) and are never
 * read or changed: they may be SFrame ciphertext.
 */
import { readFileSync } from 'node:fs'
import type { MessagePort } from 'node:worker_threads'
import { RtpHeader, RtpPacket, type RTCPeerConnectionConfig } from 'werift'
import { SfuError, SfuErrorCode } from './errors.ts'
import type { ForwarderStats, SessionDescription } from './forwarder.ts'

/** How often a shard reports its counters unasked. */
export const STATS_MS = 1000

export type ShardOp =
  /** The room's forwarder in this shard, with the publishers it forwards from elsewhere. */
  | { op: 'open'; remotes: string[] }
  | { op: 'addPublisher'; pub: string; offer: SessionDescription }
  | { op: 'addRemotePublisher'; pub: string }
  | { op: 'removePublisher'; pub: string }
  | { op: 'addSubscriber'; sub: string; standby: boolean }
  | { op: 'setStandby'; sub: string; standby: boolean }
  | { op: 'subscribe'; sub: string; pub: string }
  | { op: 'unsubscribe'; sub: string; pub: string }
  | { op: 'acceptAnswer'; sub: string; answer: SessionDescription }
  | { op: 'removeSubscriber'; sub: string }
  /** The other shards where this room is open: its local publishers' packets go there. */
  | { op: 'fanout'; shards: number[] }
  /** Closes the room's forwarder here; the reply carries its final counters. */
  | { op: 'close' }

/**
 * One RTP packet on the wire between threads: forwarder id, publisher id,
 * marker (0/1), payload type, sequence number, timestamp, SSRC, payload, CSRCs.
 */
export type WirePacket = [fwd: number, pub: string, marker: number, pt: number, seq: number, ts: number, ssrc: number, payload: Uint8Array, csrc?: number[]]

export type ToShard =
  | { t: 'op'; fwd: number; id: number; body: ShardOp }
  | { t: 'rtp'; batch: WirePacket[] }
  | { t: 'port'; shard: number; port: MessagePort }
  /** Counters now; with `gc`, after a full collection (benches measure memory; needs --expose-gc). */
  | { t: 'stats'; id: number; gc?: boolean }

/** A room's counters in one shard: the Forwarder's, with the packets posted to it by others taken out of `packetsIn`. */
export interface RoomReport {
  fwd: number
  stats: ForwarderStats
  packetsDirect: number
}

export interface ShardReport {
  rooms: RoomReport[]
  /** Everything this shard forwarded since it started (closed rooms included); `in` counts posted packets too. */
  packetsIn: number
  packetsOut: number
  /** CPU time of the shard's thread (Linux), ms; null where unknown. */
  cpuMs: number | null
  /** Event-loop busy time since the shard started, ms. */
  busyMs: number
  /** The shard's V8 heap in use, bytes. */
  heapUsed: number
  /** Packets dropped on arrival, by reason (a room or publisher no longer there). */
  dropped: Record<string, number>
}

export interface WireError {
  code?: string
  message: string
}

export type FromShard =
  | { t: 'ready' }
  | { t: 'reply'; id: number; ok: true; value?: unknown }
  | { t: 'reply'; id: number; ok: false; error: WireError }
  | { t: 'offer'; fwd: number; sub: string; sdp: string }
  | { t: 'state'; fwd: number; id: string; role: 'publisher' | 'subscriber'; state: string }
  | { t: 'error'; fwd: number; message: string }
  | { t: 'stats'; id: number; report: ShardReport }

/** What a shard starts with (workerData). */
export interface ShardInit {
  shard: number
  peerConfig: Partial<RTCPeerConnectionConfig>
  /** Ports to the shards that were running when this one started, by shard index. */
  ports: Record<number, MessagePort>
}

export function toWire(fwd: number, pub: string, rtp: RtpPacket): WirePacket {
  const h = rtp.header
  const w: WirePacket = [fwd, pub, h.marker ? 1 : 0, h.payloadType, h.sequenceNumber, h.timestamp, h.ssrc, Uint8Array.prototype.slice.call(rtp.payload)]
  if (h.csrc.length > 0) w.push([...h.csrc])
  return w
}

export function fromWire(w: WirePacket): RtpPacket {
  const [, , marker, payloadType, sequenceNumber, timestamp, ssrc, payload, csrc = []] = w
  const header = new RtpHeader({ marker: marker === 1, payloadType, sequenceNumber, timestamp, ssrc, csrc, csrcLength: csrc.length })
  return new RtpPacket(header, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength))
}

export function toWireError(err: unknown): WireError {
  const e = err as { code?: unknown; message?: unknown } | null
  return { ...(typeof e?.code === 'string' ? { code: e.code } : {}), message: typeof e?.message === 'string' ? e.message : String(err) }
}

const SFU_CODES = new Set<string>(Object.values(SfuErrorCode))

/** The error a shard reported, as the in-thread Forwarder would have thrown it (room.ts tells SfuErrors apart). */
export function fromWireError(e: WireError): Error {
  return e.code && SFU_CODES.has(e.code) ? new SfuError(e.code as SfuErrorCode, e.message) : new Error(e.message)
}

/** CPU time (user + system) of the calling thread in ms, from /proc (Linux; USER_HZ is 100 there); null elsewhere. */
export function threadCpuMs(): number | null {
  let stat: string
  try {
    stat = readFileSync('/proc/thread-self/stat', 'utf8')
  } catch {
    return null // not Linux: the figure is optional
  }
  // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return Number.isFinite(ticks) ? ticks * 10 : null
}
