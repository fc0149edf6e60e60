/**
 * The relay's STUN server (RFC 5389 Binding only): a client behind a NAT asks
 * "what address do you see me at?" and gets its server-reflexive address back
 * in XOR-MAPPED-ADDRESS, so two peers on two home networks can punch through
 * to each other. Clients use their own relay for this instead of a
 * third-party STUN server, which would learn who talks to whom.
 *
 * Invariants:
 * - Only Binding requests are answered (success, or 420 for a request naming
 *   comprehension-required attributes we do not know, as RFC 5389 §7.3.1 asks);
 *   every other datagram is dropped and counted by reason, never thrown on.
 * - A request carrying FINGERPRINT must match it; every answer carries one.
 * - Answers are at most ~2x a request's size and capped per second
 *   (`maxPerSecond`), so the port is a poor reflector for spoofed floods.
 * - No credentials, no allocations: this is not TURN (docs/relay.md says when
 *   a network needs TURN and how to add coturn).
 */
import { createSocket, type Socket } from 'node:dgram'
import { isIPv4, isIPv6 } from 'node:net'
import { crc32 } from 'node:zlib'
import { CodedError } from '../src/base/errors.ts'
import type { Logger } from './log.ts'
import type { Counter, Metrics } from './metrics.ts'

export const MAGIC_COOKIE = 0x2112a442
export const BINDING_REQUEST = 0x0001
export const BINDING_SUCCESS = 0x0101
export const BINDING_ERROR = 0x0111
export const ATTR = { XOR_MAPPED_ADDRESS: 0x0020, ERROR_CODE: 0x0009, UNKNOWN_ATTRIBUTES: 0x000a, FINGERPRINT: 0x8028 } as const
/** Attributes a Binding request may carry that we understand (USERNAME, MESSAGE-INTEGRITY, SOFTWARE, FINGERPRINT...). */
const KNOWN_REQUIRED = new Set([0x0006, 0x0008, 0x0014, 0x0015])
const FINGERPRINT_XOR = 0x5354554e
const HEADER = 20
/** Large enough for any Binding request a client sends; larger datagrams are not ours. */
const MAX_REQUEST = 548

export const STUN_DROP_REASONS = ['short', 'not-stun', 'length', 'attribute', 'fingerprint', 'not-request', 'method', 'rate', 'source'] as const
export type StunDropReason = (typeof STUN_DROP_REASONS)[number]

export interface BindingRequest {
  transactionId: Uint8Array
  /** Comprehension-required attribute types we do not understand (answer with 420). */
  unknown: number[]
}

export type ParsedStun = { ok: true; request: BindingRequest } | { ok: false; reason: StunDropReason }

/** Reads one datagram as a Binding request; anything else is a reason to drop it. */
export function parseBindingRequest(buf: Uint8Array): ParsedStun {
  if (buf.length < HEADER) return { ok: false, reason: 'short' }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const type = view.getUint16(0)
  const length = view.getUint16(2)
  if ((type & 0xc000) !== 0 || view.getUint32(4) !== MAGIC_COOKIE) return { ok: false, reason: 'not-stun' }
  if (length % 4 !== 0 || HEADER + length !== buf.length || buf.length > MAX_REQUEST) return { ok: false, reason: 'length' }
  // Class bits are 0x0110 of the type; method is the rest.
  if ((type & 0x0110) !== 0) return { ok: false, reason: 'not-request' }
  if ((type & ~0x0110) !== BINDING_REQUEST) return { ok: false, reason: 'method' }
  const unknown: number[] = []
  let at = HEADER
  while (at < buf.length) {
    if (at + 4 > buf.length) return { ok: false, reason: 'attribute' }
    const attr = view.getUint16(at)
    const len = view.getUint16(at + 2)
    const end = at + 4 + len
    if (end > buf.length) return { ok: false, reason: 'attribute' }
    if (attr === ATTR.FINGERPRINT) {
      // FINGERPRINT is last, 4 bytes, over everything before it.
      if (len !== 4 || end !== buf.length) return { ok: false, reason: 'attribute' }
      if (view.getUint32(at + 4) !== fingerprintOf(buf.subarray(0, at))) return { ok: false, reason: 'fingerprint' }
    } else if (attr < 0x8000 && !KNOWN_REQUIRED.has(attr)) {
      unknown.push(attr)
    }
    at = end + ((4 - (len % 4)) % 4)
  }
  if (at !== buf.length) return { ok: false, reason: 'attribute' }
  return { ok: true, request: { transactionId: buf.slice(8, 20), unknown } }
}

/** The Binding success answer: where the request came from, XORed as RFC 5389 §15.2 says. */
export function encodeBindingSuccess(transactionId: Uint8Array, from: string, port: number): Uint8Array {
  // A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d; they asked over IPv4.
  const address = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(from)?.[1] ?? from
  const v6 = !isIPv4(address)
  const addr = v6 ? ipv6Bytes(address) : ipv4Bytes(address)
  const value = new Uint8Array(4 + addr.length)
  const dv = new DataView(value.buffer)
  dv.setUint8(1, v6 ? 0x02 : 0x01)
  dv.setUint16(2, port ^ (MAGIC_COOKIE >>> 16))
  const mask = new Uint8Array(16)
  new DataView(mask.buffer).setUint32(0, MAGIC_COOKIE)
  mask.set(transactionId, 4)
  for (let i = 0; i < addr.length; i++) value[4 + i] = addr[i]! ^ mask[i]!
  return encodeMessage(BINDING_SUCCESS, transactionId, [[ATTR.XOR_MAPPED_ADDRESS, value]])
}

/** 420 Unknown Attribute, listing the attributes we did not understand. */
export function encodeUnknownAttributes(transactionId: Uint8Array, unknown: readonly number[]): Uint8Array {
  const reason = new TextEncoder().encode('Unknown Attribute')
  const err = new Uint8Array(4 + reason.length)
  err[2] = 4
  err[3] = 20
  err.set(reason, 4)
  const list = new Uint8Array(unknown.length * 2)
  unknown.forEach((a, i) => new DataView(list.buffer).setUint16(i * 2, a))
  return encodeMessage(BINDING_ERROR, transactionId, [
    [ATTR.ERROR_CODE, err],
    [ATTR.UNKNOWN_ATTRIBUTES, list],
  ])
}

/** A Binding request (for tests and probes), with FINGERPRINT. */
export function encodeBindingRequest(transactionId: Uint8Array): Uint8Array {
  return encodeMessage(BINDING_REQUEST, transactionId, [])
}

/** Reads XOR-MAPPED-ADDRESS from a Binding success answer; null for anything else. */
export function decodeBindingSuccess(buf: Uint8Array): { transactionId: Uint8Array; address: string; port: number } | null {
  if (buf.length < HEADER) return null
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  if (view.getUint16(0) !== BINDING_SUCCESS || view.getUint32(4) !== MAGIC_COOKIE || HEADER + view.getUint16(2) !== buf.length) return null
  const transactionId = buf.slice(8, 20)
  for (let at = HEADER; at + 4 <= buf.length; ) {
    const attr = view.getUint16(at)
    const len = view.getUint16(at + 2)
    if (at + 4 + len > buf.length) return null
    if (attr === ATTR.XOR_MAPPED_ADDRESS && (len === 8 || len === 20)) {
      const mask = new Uint8Array(16)
      new DataView(mask.buffer).setUint32(0, MAGIC_COOKIE)
      mask.set(transactionId, 4)
      const raw = buf.subarray(at + 8, at + 4 + len).map((b, i) => b ^ mask[i]!)
      const port = view.getUint16(at + 6) ^ (MAGIC_COOKIE >>> 16)
      const address = len === 8 ? [...raw].join('.') : [...Array(8).keys()].map((i) => ((raw[2 * i]! << 8) | raw[2 * i + 1]!).toString(16)).join(':')
      return { transactionId, address, port }
    }
    at += 4 + len + ((4 - (len % 4)) % 4)
  }
  return null
}

function encodeMessage(type: number, transactionId: Uint8Array, attrs: ReadonlyArray<readonly [number, Uint8Array]>): Uint8Array {
  const padded = (n: number) => n + ((4 - (n % 4)) % 4)
  const bodyLength = attrs.reduce((n, [, v]) => n + 4 + padded(v.length), 0) + 8
  const out = new Uint8Array(HEADER + bodyLength)
  const dv = new DataView(out.buffer)
  dv.setUint16(0, type)
  dv.setUint16(2, bodyLength)
  dv.setUint32(4, MAGIC_COOKIE)
  out.set(transactionId.subarray(0, 12), 8)
  let at = HEADER
  for (const [attr, value] of attrs) {
    dv.setUint16(at, attr)
    dv.setUint16(at + 2, value.length)
    out.set(value, at + 4)
    at += 4 + padded(value.length)
  }
  dv.setUint16(at, ATTR.FINGERPRINT)
  dv.setUint16(at + 2, 4)
  dv.setUint32(at + 4, fingerprintOf(out.subarray(0, at)))
  return out
}

/** CRC-32 of the message up to the FINGERPRINT attribute, XOR 0x5354554e (RFC 5389 §15.5). */
function fingerprintOf(bytes: Uint8Array): number {
  return (crc32(bytes) ^ FINGERPRINT_XOR) >>> 0
}

function ipv4Bytes(address: string): Uint8Array {
  return Uint8Array.from(address.split('.').map(Number))
}

function ipv6Bytes(address: string): Uint8Array {
  const text = address.replace(/%.*$/, '') // a zone id is local to the host
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  const out = new Uint8Array(16)
  groups.forEach((g, i) => new DataView(out.buffer).setUint16(i * 2, parseInt(g, 16)))
  return out
}

export interface StunServerOptions {
  port: number
  host: string
  metrics: Metrics
  log: Logger
  /** Answers per second at most (a token bucket; burst the same). Default 2000. */
  maxPerSecond?: number
  now?: () => number
}

export interface StunServer {
  /** The UDP port actually bound (port 0 picks a free one). */
  readonly port: number
  close(): Promise<void>
}

/** Binds the UDP socket and answers Binding requests on it (metrics `stoop_relay_stun_*`). */
export async function startStunServer(opts: StunServerOptions): Promise<StunServer> {
  const { metrics } = opts
  metrics.describe('stoop_relay_stun_requests_total', 'STUN Binding requests answered')
  metrics.describe('stoop_relay_stun_dropped_total', 'STUN datagrams dropped, by reason')
  const answered = metrics.counter('stoop_relay_stun_requests_total')
  const dropped = {} as Record<StunDropReason, Counter>
  for (const r of STUN_DROP_REASONS) dropped[r] = metrics.counter('stoop_relay_stun_dropped_total', { reason: r })
  const now = opts.now ?? Date.now
  const rate = opts.maxPerSecond ?? 2000
  let tokens = rate
  let refilled = now()
  const socket: Socket = createSocket({ type: isIPv6(opts.host) ? 'udp6' : 'udp4', reuseAddr: false })
  socket.on('message', (msg, rinfo) => {
    const parsed = parseBindingRequest(msg)
    if (!parsed.ok) return dropped[parsed.reason].inc()
    if (rinfo.port === 0) return dropped.source.inc()
    const t = now()
    tokens = Math.min(rate, tokens + ((t - refilled) * rate) / 1000)
    refilled = t
    if (tokens < 1) return dropped.rate.inc()
    tokens -= 1
    const { transactionId, unknown } = parsed.request
    const answer = unknown.length ? encodeUnknownAttributes(transactionId, unknown) : encodeBindingSuccess(transactionId, rinfo.address, rinfo.port)
    answered.inc()
    socket.send(answer, rinfo.port, rinfo.address, (err) => {
      if (err) opts.log.debug('stun send failed', { err: err.message })
    })
  })
  await new Promise<void>((ok, fail) => {
    const failed = (err: Error): void => {
      socket.close()
      fail(new CodedError('stun-bind-failed', `cannot answer STUN on UDP ${opts.host}:${opts.port}: ${err.message} (stoop relay --stun-port N picks another port, 0 turns STUN off)`, { cause: err }))
    }
    socket.once('error', failed)
    socket.bind(opts.port, opts.host, () => {
      socket.off('error', failed)
      ok()
    })
  })
  // After bind, socket errors (e.g. ICMP-triggered) are logged: the server keeps answering.
  socket.on('error', (err) => opts.log.warn('stun socket error', { err: err.message }))
  const port = socket.address().port
  opts.log.info('stun listening', { host: opts.host, port })
  let closed: Promise<void> | null = null
  return {
    port,
    close: () => (closed ??= new Promise<void>((done) => socket.close(() => done()))),
  }
}
