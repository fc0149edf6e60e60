/**
 * RTP forwarder (the relay's SFU fan-out), built on werift.
 *
 * - Each publisher has one werift RTCPeerConnection; the publisher offers one
 *   sending audio section (Opus) and the forwarder answers recvonly.
 * - Each subscriber has one werift RTCPeerConnection; the forwarder always
 *   offers (one sendonly audio transceiver per subscribed publisher) and the
 *   subscriber answers. Renegotiations are serialised per subscriber: at most
 *   one offer is outstanding; changes made meanwhile are folded into the next
 *   (subscriber.ts).
 * - Every RTP packet a publisher sends is written to each of its subscribers'
 *   senders. Only the header is rewritten (SSRC and payload type of the
 *   subscriber's sender, header extensions of that connection); marker and
 *   payload bytes always pass through unchanged, so the relay never needs the
 *   plaintext audio (end-to-end encrypted payloads forward as is). Sequence
 *   numbers and timestamps pass through too, except on a reused transceiver,
 *   where they are shifted by a constant (see rtp.ts).
 * - The packets are written by rtp-out.ts (a header template per stream, SRTP
 *   with the keys set once, one UDP send, no promise); werift's sendRtp only
 *   for what that path does not cover. docs/relay.md, "Forwarding cost".
 * - Unsubscribing parks the transceiver (inactive); the subscriber's next
 *   subscription reuses it, so m-sections do not grow with stage churn.
 * - On a subscriber's connection the MediaStream id of a forwarded track is the
 *   publisher's id, so clients map tracks to speakers from `ontrack` (which
 *   fires again, same track, new stream id, when a parked transceiver is reused).
 *
 * Policy (who may publish, who hears whom) lives in the caller. Signalling is
 * plain `{type, sdp}` objects; the caller carries them (WebSocket, tests).
 * ICE is non-trickle: descriptions carry their candidates.
 */
import { RTCPeerConnection, useOPUS, useSdesMid, type RTCPeerConnectionConfig, type RtpPacket } from 'werift'
import { SfuError, SfuErrorCode } from './errors.ts'
import { ntpTime, type OutPacket } from './rtp-out.ts'
import { Subscriber, writeSlot, type OutputSlot } from './subscriber.ts'

export interface SessionDescription {
  type: 'offer' | 'answer'
  sdp: string
}

export interface ForwarderOptions {
  /**
   * A subscriber's connection needs (re)negotiation: deliver `offer` to that
   * subscriber and hand its answer to {@link Forwarder.acceptAnswer}.
   */
  onOffer: (subscriberId: string, offer: SessionDescription) => void
  /** Connection state changes of every peer connection ('connected', 'failed', ...). */
  onPeerState?: (id: string, role: 'publisher' | 'subscriber', state: string) => void
  /** An async failure inside the forwarder that is not the caller's misuse. */
  onError?: (err: Error) => void
  /** Clock in ms (for rebasing timestamps when a parked slot is reused). Default `Date.now`. */
  now?: () => number
  /**
   * werift configuration merged over the defaults (Opus only, max-bundle, no
   * STUN/TURN). ICE addresses and port ranges go here.
   */
  peerConfig?: RTCPeerConnectionConfig
  /** Every packet a local publisher's connection brings (a sharded forwarder posts them to its other shards). */
  onRtp?: (publisherId: string, rtp: RtpPacket) => void
}

/** Why a packet was not forwarded to a subscriber. */
export type DropReason = 'notConnected' | 'sendFailed'

/** Largest SDP accepted from a peer. */
export const MAX_SDP_BYTES = 64 * 1024

export interface ForwarderStats {
  publishers: number
  subscribers: number
  /** Subscribers on standby (connected, nothing forwarded). */
  standby: number
  /** Forwarded streams: (subscriber, publisher) pairs, standby subscribers excluded. */
  streams: number
  packetsIn: number
  bytesIn: number
  packetsOut: number
  bytesOut: number
  dropped: Record<DropReason, number>
  /** Async failures (offers, answers) reported through `onError`. */
  errors: number
}

interface Publisher {
  id: string
  /** null for a remote publisher (its RTP arrives through {@link Forwarder.injectRtp}). */
  pc: RTCPeerConnection | null
  outputs: Set<OutputSlot>
}

/** msid tokens are restricted; keep ids to a plain, bounded alphabet. */
const ID_RE = /^[A-Za-z0-9_.:-]{1,128}$/

export const DEFAULT_PEER_CONFIG: RTCPeerConnectionConfig = {
  codecs: {
    audio: [useOPUS({ payloadType: 111, parameters: 'minptime=10;useinbandfec=1' })],
    video: [],
  },
  headerExtensions: { audio: [useSdesMid()], video: [] },
  bundlePolicy: 'max-bundle',
  // werift's own default is a public Google STUN server; the relay has a public
  // address or sits behind one configured explicitly.
  iceServers: [],
}

export class Forwarder {
  private readonly opts: ForwarderOptions
  private readonly config: RTCPeerConnectionConfig
  private readonly publishers = new Map<string, Publisher>()
  private readonly subscribers = new Map<string, Subscriber>()
  private closed = false
  private readonly now: () => number
  private readonly counters = {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    packetsDirect: 0,
    bytesOut: 0,
    dropped: { notConnected: 0, sendFailed: 0 } as Record<DropReason, number>,
    errors: 0,
  }
  private readonly sendFailed = (): void => {
    this.counters.dropped.sendFailed++
  }

  constructor(opts: ForwarderOptions) {
    this.opts = opts
    this.now = opts.now ?? Date.now
    this.config = { ...DEFAULT_PEER_CONFIG, ...opts.peerConfig }
  }

  /**
   * Accepts a publisher's offer (one audio section, Opus) and returns the answer.
   * A remote publisher of the same id (a speaker that moved here from another
   * relay) is adopted: its subscribers' slots are kept, so nobody renegotiates.
   */
  async addPublisher(id: string, offer: SessionDescription): Promise<SessionDescription> {
    this.assertOpen()
    checkId(id)
    const existing = this.publishers.get(id)
    if (existing?.pc) throw new SfuError(SfuErrorCode.DUPLICATE_PEER, `publisher ${id}`)
    checkDescription(offer, 'offer')
    const audioSections = offer.sdp.split(/\r?\nm=/).slice(1)
    if (audioSections.length !== 1 || !audioSections[0]!.startsWith('audio ')) {
      throw new SfuError(SfuErrorCode.BAD_DESCRIPTION, 'expected exactly one audio section')
    }
    const pc = new RTCPeerConnection(this.config)
    const pub: Publisher = existing ?? { id, pc, outputs: new Set() }
    pub.pc = pc
    // A new source behind the same slots: sequence numbers and timestamps are rebased.
    for (const slot of pub.outputs) slot.rebase = null
    this.publishers.set(id, pub)
    this.watchState(pc, id, 'publisher')
    pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        this.forward(pub, rtp)
        this.opts.onRtp?.(id, rtp)
      })
    })
    try {
      await pc.setRemoteDescription(offer)
      const [transceiver, ...extra] = pc.getTransceivers()
      if (!transceiver || extra.length > 0 || transceiver.kind !== 'audio') {
        throw new SfuError(SfuErrorCode.BAD_DESCRIPTION, 'expected exactly one audio transceiver')
      }
      transceiver.setDirection('recvonly')
      await pc.setLocalDescription(await pc.createAnswer())
      const sdp = pc.localDescription!.sdp
      if (!/^a=rtpmap:\d+ opus\/48000/im.test(sdp)) throw new SfuError(SfuErrorCode.BAD_DESCRIPTION, 'offer has no Opus')
      return { type: 'answer', sdp }
    } catch (err) {
      if (existing) pub.pc = null
      else this.publishers.delete(id)
      await pc.close()
      if (err instanceof SfuError) throw err
      throw new SfuError(SfuErrorCode.BAD_DESCRIPTION, String(err), { cause: err })
    }
  }

  /**
   * Registers a publisher whose packets come from elsewhere (a cascade link to
   * another relay): no connection, the caller hands packets to {@link injectRtp}.
   */
  addRemotePublisher(id: string): void {
    this.assertOpen()
    checkId(id)
    if (this.publishers.has(id)) throw new SfuError(SfuErrorCode.DUPLICATE_PEER, `publisher ${id}`)
    this.publishers.set(id, { id, pc: null, outputs: new Set() })
  }

  /** Forwards one packet of remote publisher `id` (ignored if `id` is not a remote publisher). */
  injectRtp(id: string, rtp: RtpPacket): void {
    const pub = this.publishers.get(id)
    if (pub && !pub.pc && !this.closed) this.forward(pub, rtp)
  }

  /** Registers a subscriber. Its connection is offered on the first {@link subscribe}. */
  addSubscriber(id: string, opts: { standby?: boolean } = {}): void {
    this.assertOpen()
    checkId(id)
    if (this.subscribers.has(id)) throw new SfuError(SfuErrorCode.DUPLICATE_PEER, `subscriber ${id}`)
    const sub: Subscriber = new Subscriber(id, opts.standby === true, {
      connect: () => {
        const pc = new RTCPeerConnection(this.config)
        this.watchState(pc, id, 'subscriber')
        return pc
      },
      current: () => this.subscribers.get(id) === sub && !this.closed,
      offer: (sdp) => this.opts.onOffer(id, { type: 'offer', sdp }),
      fail: (err) => this.fail(err),
    })
    this.subscribers.set(id, sub)
  }

  /** Holds (`true`) or starts (`false`) forwarding to a subscriber; its connection stays as is. */
  setStandby(id: string, standby: boolean): void {
    this.assertOpen()
    this.getSubscriber(id).standby = standby
  }

  /** Starts forwarding `publisherId` to `subscriberId` (renegotiates; idempotent). */
  subscribe(subscriberId: string, publisherId: string): void {
    this.assertOpen()
    const sub = this.getSubscriber(subscriberId)
    const pub = this.publishers.get(publisherId)
    if (!pub) throw new SfuError(SfuErrorCode.UNKNOWN_PEER, `publisher ${publisherId}`)
    if (sub.slotOf(publisherId)) return
    pub.outputs.add(sub.open(publisherId))
    sub.negotiate()
  }

  /** Stops forwarding `publisherId` to `subscriberId` (renegotiates; idempotent). */
  unsubscribe(subscriberId: string, publisherId: string): void {
    this.assertOpen()
    const sub = this.getSubscriber(subscriberId)
    const slot = sub.slotOf(publisherId)
    if (!slot) return
    this.park(slot)
    sub.negotiate()
  }

  /** Applies a subscriber's answer to the outstanding offer. */
  async acceptAnswer(subscriberId: string, answer: SessionDescription): Promise<void> {
    this.assertOpen()
    const sub = this.getSubscriber(subscriberId)
    if (!sub.awaitingAnswer) throw new SfuError(SfuErrorCode.NO_PENDING_OFFER, `subscriber ${subscriberId}`)
    checkDescription(answer, 'answer')
    await sub.acceptAnswer({ type: 'answer', sdp: answer.sdp })
  }

  /** Removes a peer in both roles (publisher and subscriber) and closes its connections. */
  async removePeer(id: string): Promise<void> {
    await Promise.all([this.removePublisher(id), this.removeSubscriber(id)])
  }

  /**
   * Stops forwarding `id`'s audio and closes its publishing connection. Its
   * subscribers' slots are parked and renegotiated. Idempotent.
   */
  async removePublisher(id: string): Promise<void> {
    const pub = this.publishers.get(id)
    if (!pub) return
    this.publishers.delete(id)
    for (const slot of [...pub.outputs]) {
      this.park(slot)
      if (!this.closed) slot.subscriber.negotiate()
    }
    await pub.pc?.close()
  }

  /** Closes `id`'s subscribing connection. Idempotent. */
  async removeSubscriber(id: string): Promise<void> {
    const sub = this.subscribers.get(id)
    if (!sub) return
    this.subscribers.delete(id)
    for (const slot of sub.slots) this.park(slot)
    await sub.pc?.close()
  }

  hasPublisher(id: string): boolean {
    return this.publishers.has(id)
  }

  hasSubscriber(id: string): boolean {
    return this.subscribers.has(id)
  }

  /** Ids of the current publishers, in the order they were added. */
  publisherIds(): string[] {
    return [...this.publishers.keys()]
  }

  /** Ids of the current subscribers. */
  subscriberIds(): string[] {
    return [...this.subscribers.keys()]
  }

  stats(): ForwarderStats {
    let streams = 0
    for (const pub of this.publishers.values()) for (const slot of pub.outputs) if (!slot.subscriber.standby) streams++
    let standby = 0
    for (const sub of this.subscribers.values()) if (sub.standby) standby++
    const c = this.counters
    return {
      publishers: this.publishers.size,
      subscribers: this.subscribers.size,
      standby,
      streams,
      packetsIn: c.packetsIn,
      bytesIn: c.bytesIn,
      packetsOut: c.packetsOut,
      bytesOut: c.bytesOut,
      dropped: { ...c.dropped },
      errors: c.errors,
    }
  }

  /** Of the packets out, those written by the direct path (rtp-out.ts); the rest went through werift's sendRtp. */
  get packetsDirect(): number {
    return this.counters.packetsDirect
  }

  /** Closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const ids = new Set([...this.publishers.keys(), ...this.subscribers.keys()])
    await Promise.all([...ids].map((id) => this.removePeer(id)))
  }

  /**
   * The hot path: one publisher packet to every live slot. Per slot it allocates only the
   * outgoing buffer (rtp-out.ts); werift's sendRtp is the fallback for what that path
   * does not cover (subscriber.ts `writeSlot`).
   */
  private forward(pub: Publisher, rtp: RtpPacket): void {
    const c = this.counters
    const h = rtp.header
    const n = rtp.payload.length
    c.packetsIn++
    c.bytesIn += n
    const now = this.now()
    // One object per source packet, patched per slot (DirectOutput.send reads it synchronously).
    const p: OutPacket = { marker: h.marker, seq: 0, ts: 0, payload: rtp.payload, ntp: ntpTime(now) }
    const direct = h.csrc.length === 0
    for (const slot of pub.outputs) {
      if (slot.subscriber.standby) continue
      const wrote = writeSlot(slot, rtp, p, now, direct, this.sendFailed)
      if (wrote === 'notConnected') {
        c.dropped.notConnected++
        continue
      }
      if (wrote === 'direct') c.packetsDirect++
      c.packetsOut++
      c.bytesOut += n
    }
  }

  /** Stops forwarding into `slot` and marks its transceiver inactive (kept for reuse). */
  private park(slot: OutputSlot): void {
    if (slot.publisherId !== null) this.publishers.get(slot.publisherId)?.outputs.delete(slot)
    slot.publisherId = null
    slot.rebase = null
    slot.transceiver.setDirection('inactive')
  }

  private watchState(pc: RTCPeerConnection, id: string, role: 'publisher' | 'subscriber'): void {
    const cb = this.opts.onPeerState
    if (cb) pc.connectionStateChange.subscribe((state) => cb(id, role, state))
  }

  private getSubscriber(id: string): Subscriber {
    const sub = this.subscribers.get(id)
    if (!sub) throw new SfuError(SfuErrorCode.UNKNOWN_PEER, `subscriber ${id}`)
    return sub
  }

  private assertOpen(): void {
    if (this.closed) throw new SfuError(SfuErrorCode.CLOSED, 'forwarder closed')
  }

  private fail(err: Error): void {
    this.counters.errors++
    this.opts.onError?.(err)
  }
}

function checkDescription(d: SessionDescription, type: SessionDescription['type']): void {
  if (d?.type !== type || typeof d.sdp !== 'string' || d.sdp.length > MAX_SDP_BYTES) {
    throw new SfuError(SfuErrorCode.BAD_DESCRIPTION, `expected {type: "${type}", sdp} of at most ${MAX_SDP_BYTES} bytes`)
  }
}

export function checkId(id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id)) throw new SfuError(SfuErrorCode.BAD_ID, JSON.stringify(id))
}
