/**
 * The forwarder's direct output: one outgoing stream of a subscriber's werift
 * connection, written without werift's per-packet send path. werift keeps ICE,
 * DTLS, SRTP keys, negotiation and RTCP; this writes the RTP packets.
 *
 * Why: werift's `RTCRtpSender.sendRtp` costs (per packet, per listener) a fresh
 * header object and extension list, a per-packet NTP time, a Node cipher built
 * from the key, three copies, and five chained promises down to `dgram.send`.
 * Here a packet is one allocation and three native calls (keystream, send and,
 * for AES-CM, the two hashes): a header template per stream with sequence
 * number, timestamp and marker patched, SRTP through a {@link SrtpEncryptor}
 * keyed once, and `send` on the nominated pair's UDP socket without a callback.
 *
 * Kept equal to werift's path: the header bytes (sender SSRC and payload type,
 * the sdes:mid extension), the SRTP bytes, the rollover counter (werift's own
 * per-SSRC state object is advanced, so both paths can interleave), the sender
 * figures its RTCP sender reports carry (packet and octet counts, last RTP and
 * NTP timestamps) and the transport and pair counters getStats reads.
 * Left out: the retransmission history (audio is negotiated without NACK) and
 * sender-side bandwidth estimation (no transport-cc is negotiated).
 *
 * {@link DirectOutput.send} returns false whenever the case is not the plain
 * one (RED, an extension other than sdes:mid, CSRCs, a TURN or TCP pair, a host
 * name, a profile or a werift internal it does not know); the caller then uses
 * werift's `sendRtp`, so the fast path never changes what is sent, only its cost.
 */
import { isIP } from 'node:net'
import type { Socket } from 'node:dgram'
import { ProtectionProfileAeadAes128Gcm, ProtectionProfileAes128CmHmacSha1_80, type RTCRtpSender } from 'werift'
import { SrtpEncryptor, type SrtpProfile } from './srtp.ts'

const SDES_MID = 'urn:ietf:params:rtp-hdrext:sdes:mid'

/** The werift internals used here (werift 0.24); anything missing means "fall back". */
interface SrtpState {
  rolloverCounter: number
}
interface WeriftSrtpContext {
  profile: number
  srtpSessionKey: Buffer
  srtpSessionSalt: Buffer
  srtpSessionAuthTag: Buffer
  getSrtpSsrcState(ssrc: number): SrtpState
  updateRolloverCount(seq: number, s: SrtpState): void
}
interface WeriftPair {
  protocol: { type?: string; transport?: { type?: string; closed?: boolean; socket?: Socket } }
  remoteAddr: [string, number]
  packetsSent: number
  bytesSent: number
}
interface WeriftDtls {
  state: string
  srtp?: { localContext?: WeriftSrtpContext }
  iceTransport?: { connection?: { nominated?: WeriftPair; canSendApplicationData(): boolean } }
  bytesSent: number
  packetsSent: number
}
interface WeriftSender {
  ssrc: number
  mid?: string
  codec?: { payloadType: number }
  headerExtensions: { uri: string; id: number }[]
  redRedundantPayloadType?: number
  seqOffset: number
  timestampOffset: number
  sequenceNumber?: number
  timestamp?: number
  ntpTimestamp: bigint
  rtpTimestamp: number
  octetCount: number
  packetCount: number
  headerBytesSent: number
  rtcpRunning: boolean
  runRtcp(): Promise<void>
  dtlsTransport?: WeriftDtls
}

/** What one outgoing packet carries from its source (already rebased). */
export interface OutPacket {
  marker: boolean
  seq: number
  ts: number
  payload: Uint8Array
  /** NTP time of sending (64-bit), for the sender's RTCP reports; one per source packet. */
  ntp: bigint
}

/** Per-connection state that stays valid while DTLS, SRTP session and pair are the same. */
interface Route {
  context: WeriftSrtpContext
  encryptor: SrtpEncryptor
  pair: WeriftPair
  socket: Socket
  host: string
  port: number
}

/**
 * The SRTP and UDP side of one subscriber connection (bundled: every stream on it
 * shares DTLS, keys and pair), kept while werift's session and nominated pair stay
 * the same.
 */
export class DirectRoute {
  private cached: Route | null = null

  /** The route for `dtls` now, or null if it is not a plain UDP pair with a known profile. */
  current(dtls: WeriftDtls): Route | null {
    const context = dtls.srtp?.localContext
    const connection = dtls.iceTransport?.connection
    const pair = connection?.nominated
    if (!context || !pair || !connection.canSendApplicationData()) return null
    const r = this.cached
    if (r && r.context === context && r.pair === pair) return r.pair.protocol.transport?.closed ? null : r
    this.cached = null
    const transport = pair.protocol.transport
    const profile = srtpProfile(context.profile)
    const [host, port] = pair.remoteAddr
    if (pair.protocol.type !== 'stun' || transport?.type !== 'udp' || !transport.socket || transport.closed) return null
    if (!profile || !isIP(host)) return null
    const encryptor = new SrtpEncryptor({ profile, key: context.srtpSessionKey, salt: context.srtpSessionSalt, authKey: context.srtpSessionAuthTag })
    this.cached = { context, encryptor, pair, socket: transport.socket, host, port }
    return this.cached
  }
}

/** One outgoing stream (a sender on a subscriber connection) written directly. */
export class DirectOutput {
  private readonly sender: WeriftSender
  private readonly route: DirectRoute
  /** Header template: fixed 12 bytes and the sdes:mid extension; rebuilt when its inputs change. */
  private header: Buffer | null = null
  private headerFor = { ssrc: -1, pt: -1, mid: '', extId: -1 }
  private rocState: SrtpState | null = null
  private rocFor: { context: WeriftSrtpContext; ssrc: number } | null = null

  constructor(sender: RTCRtpSender, route: DirectRoute) {
    this.sender = sender as unknown as WeriftSender
    this.route = route
  }

  /** Sends `p` directly; false if this stream is not the plain case (the caller then uses werift). */
  send(p: OutPacket): boolean {
    const s = this.sender
    const dtls = s.dtlsTransport
    if (!dtls || dtls.state !== 'connected' || !s.codec || s.redRedundantPayloadType !== undefined) return false
    const route = this.route.current(dtls)
    const header = route && this.currentHeader()
    if (!route || !header) return false
    const seq = (p.seq + s.seqOffset) & 0xffff
    const ts = (p.ts + s.timestampOffset) >>> 0
    const hl = header.length
    const n = p.payload.length
    const out = Buffer.allocUnsafe(hl + n + route.encryptor.overhead)
    // A loop beats Buffer#copy's native call for 12-24 bytes.
    for (let i = 0; i < hl; i++) out[i] = header[i]!
    out[1] = (p.marker ? 0x80 : 0) | s.codec.payloadType
    out.writeUInt16BE(seq, 2)
    out.writeUInt32BE(ts, 4)
    const roc = this.rollover(route.context, s.ssrc, seq)
    route.encryptor.seal(out, hl, p.payload, s.ssrc, seq, roc)
    route.socket.send(out, route.port, route.host)
    // What werift's sendRtp would have recorded (RTCP SR, getStats).
    s.sequenceNumber = seq
    s.timestamp = ts
    s.rtpTimestamp = ts
    s.ntpTimestamp = p.ntp
    s.octetCount += n
    s.packetCount = (s.packetCount + 1) >>> 0
    s.headerBytesSent += hl
    dtls.bytesSent += out.length
    dtls.packetsSent++
    route.pair.packetsSent++
    route.pair.bytesSent += out.length
    if (!s.rtcpRunning) void s.runRtcp()
    return true
  }

  /** werift's rollover counter for (context, ssrc), advanced past `seq`. */
  private rollover(context: WeriftSrtpContext, ssrc: number, seq: number): number {
    if (!this.rocState || this.rocFor?.context !== context || this.rocFor.ssrc !== ssrc) {
      this.rocState = context.getSrtpSsrcState(ssrc)
      this.rocFor = { context, ssrc }
    }
    context.updateRolloverCount(seq, this.rocState)
    return this.rocState.rolloverCounter
  }

  private currentHeader(): Buffer | null {
    const s = this.sender
    const exts = s.headerExtensions
    const ext = exts.length === 1 && exts[0]!.uri === SDES_MID ? exts[0]! : null
    if (exts.length > 1 || (exts.length === 1 && !ext)) return null
    const mid = ext && s.mid ? s.mid : ''
    const extId = ext && mid ? ext.id : -1
    const f = this.headerFor
    if (this.header && f.ssrc === s.ssrc && f.pt === s.codec!.payloadType && f.mid === mid && f.extId === extId) return this.header
    this.header = buildHeader(s.ssrc, s.codec!.payloadType, mid, extId)
    this.headerFor = { ssrc: s.ssrc, pt: s.codec!.payloadType, mid, extId }
    return this.header
  }
}

/** RTP header with the one-byte sdes:mid extension when `extId` >= 0 (werift's layout), or null if it cannot be one. */
function buildHeader(ssrc: number, pt: number, mid: string, extId: number): Buffer | null {
  if (extId < 0) {
    const h = Buffer.alloc(12)
    h[0] = 0x80
    h[1] = pt & 0x7f
    h.writeUInt32BE(ssrc >>> 0, 8)
    return h
  }
  const midBytes = Buffer.from(mid)
  if (extId < 1 || extId > 14 || midBytes.length < 1 || midBytes.length > 16) return null
  const words = Math.ceil((1 + midBytes.length) / 4)
  const h = Buffer.alloc(12 + 4 + words * 4)
  h[0] = 0x90
  h[1] = pt & 0x7f
  h.writeUInt32BE(ssrc >>> 0, 8)
  h.writeUInt16BE(0xbede, 12)
  h.writeUInt16BE(words, 14)
  h[16] = (extId << 4) | (midBytes.length - 1)
  midBytes.copy(h, 17)
  return h
}

function srtpProfile(p: number): SrtpProfile | null {
  if (p === ProtectionProfileAeadAes128Gcm) return 'aead-aes-128-gcm'
  if (p === ProtectionProfileAes128CmHmacSha1_80) return 'aes-cm-hmac-sha1-80'
  return null
}

/** NTP time (seconds since 1900, 32.32 fixed point) from a Unix time in ms. */
export function ntpTime(unixMs: number): bigint {
  const ms = unixMs + 2_208_988_800_000
  const seconds = Math.floor(ms / 1000)
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * 2 ** 32)
  return (BigInt(seconds) << 32n) | BigInt(fraction)
}
