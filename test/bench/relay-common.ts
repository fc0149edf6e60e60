/**
 * What the relay bench's processes share (relay.ts and its children in
 * relay-child-*.ts): the synthetic speakers' shape (3 speakers, 80-byte payloads
 * every 20 ms), the werift client configuration on 127.0.0.1, and small helpers.
 * QUICK and knob(): BENCH_RELAY_QUICK=1 shrinks every part's default sizes for a dev
 * run of a few minutes; a BENCH_RELAY_* variable set by name still wins.
 */
import { useOPUS, useSdesMid, type RTCPeerConnection, type RTCPeerConnectionConfig } from 'werift'
import WebSocket from 'ws'
import { fromBase64url } from '../../src/identity/index.ts'
import { membershipKey, type MembershipKey } from '../../src/room/index.ts'
import type { RelayWebSocketClass } from '../../src/net/relay-socket.ts'

/** BENCH_RELAY_QUICK=1: a dev run (small steps, short windows, few joins); its numbers are not results. */
export const QUICK = process.env.BENCH_RELAY_QUICK === '1'

/** The number in BENCH_RELAY_<name> if set, else `full` (or `quick` on a quick run). */
export function knob(name: string, full: number, quick = full): number {
  const v = process.env[`BENCH_RELAY_${name}`]
  return v === undefined || v === '' ? (QUICK ? quick : full) : Number(v)
}

export const SPEAKERS = 3
export const PAYLOAD_BYTES = 80
export const PACKET_MS = 20
export const LOOPBACK = { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }
export const CLIENT_CONFIG: Partial<RTCPeerConnectionConfig> = {
  codecs: { audio: [useOPUS({ payloadType: 111 })], video: [] },
  headerExtensions: { audio: [useSdesMid()], video: [] },
  iceServers: [],
  bundlePolicy: 'max-bundle',
  ...LOOPBACK,
}
export const WS = WebSocket as unknown as RelayWebSocketClass
export const wallNow = (): number => performance.timeOrigin + performance.now()
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
export const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d

export function loopbackOnly(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || (/ 127\.0\.0\.1 \d+ typ host/.test(l) && / udp /i.test(l)))
    .join('\r\n')
}

export function cpuMeter() {
  let last = process.cpuUsage()
  let at = performance.now()
  return () => {
    const now = performance.now()
    const d = process.cpuUsage(last)
    const pct = ((d.user + d.system) / 1000 / (now - at)) * 100
    last = process.cpuUsage()
    at = now
    return pct
  }
}

/** Whether `pc` reaches 'connected' within `ms` (false once it fails). */
export async function connected(pc: RTCPeerConnection, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (pc.connectionState !== 'connected') {
    if (pc.connectionState === 'failed' || Date.now() > end) return false
    await sleep(50)
  }
  return true
}

export function send(msg: object): void {
  process.send!(msg)
}

/** The membership key of a room's epoch from its secret (base64url, as createRoom returns it). */
export function memberKey(secret: string): MembershipKey {
  const bytes = fromBase64url(secret)
  if (!bytes) throw new Error('bad room secret')
  return membershipKey(bytes)
}
