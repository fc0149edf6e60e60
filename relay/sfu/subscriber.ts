/**
 * One subscriber of the forwarder (forwarder.ts), split out of it so the forwarder keeps the
 * publishers and the fan-out loop and this module keeps everything about one listening
 * connection: its werift RTCPeerConnection, its output slots (one sendonly transceiver per
 * publisher it hears, parked when it stops and reused for the next, so m-sections do not grow
 * with stage churn), its renegotiation (serialised: at most one offer outstanding; changes made
 * meanwhile are folded into the next), and how a publisher's packet is rewritten onto one of its
 * slots (`writeSlot`: SSRC, payload type and header extensions of that connection's sender,
 * sequence numbers and timestamps rebased when a slot changes publisher; payload untouched).
 */
import { MediaStream, type RTCPeerConnection, type RTCRtpTransceiver, type RtpPacket } from 'werift'
import { SfuError, SfuErrorCode } from './errors.ts'
import { forwardedPacket, NO_REBASE, rebaseAfter, type Rebase } from './rtp.ts'
import { DirectOutput, DirectRoute, type OutPacket } from './rtp-out.ts'
import { unrejectInactive } from './sdp.ts'

/**
 * One sendonly transceiver on a subscriber's connection. Unsubscribing parks it
 * (inactive); the next subscription reuses it, so m-sections do not pile up.
 */
export interface OutputSlot {
  subscriber: Subscriber
  transceiver: RTCRtpTransceiver
  /** null while parked. */
  publisherId: string | null
  /** Offsets for the current publisher; computed at its first packet. */
  rebase: Rebase | null
  /** Last packet sent on this slot, for rebasing the next publisher onto it (updated in place). */
  last: { seq: number; ts: number; at: number } | null
  /** The direct send path of this slot's sender (rtp-out.ts). */
  out: DirectOutput
}

export interface SubscriberHooks {
  /** A new connection for this subscriber (made at its first slot). */
  connect(): RTCPeerConnection
  /** An offer is ready; called only while `current()` holds. */
  offer(sdp: string): void
  /** Whether this subscriber is still the forwarder's (werift never settles a closed connection's description). */
  current(): boolean
  fail(err: Error): void
}

export class Subscriber {
  /**
   * A failover reserve: the connection is negotiated and kept up, but no packet is
   * forwarded until the subscriber activates (see docs/relay.md, "Failover").
   */
  standby: boolean
  pc: RTCPeerConnection | undefined
  readonly slots: OutputSlot[] = []
  /** SRTP and UDP state of the connection, shared by its slots' direct outputs. */
  readonly route = new DirectRoute()
  /** See `awaitingAnswer`. */
  #offering = false
  /** Slots changed since the outstanding offer was made. */
  #dirty = false
  readonly #hooks: SubscriberHooks

  constructor(
    readonly id: string,
    standby: boolean,
    hooks: SubscriberHooks,
  ) {
    this.standby = standby
    this.#hooks = hooks
  }

  /** An offer was sent and its answer has not been applied yet. */
  get awaitingAnswer(): boolean {
    return this.#offering && this.pc !== undefined
  }

  /** The slot forwarding `publisherId` (null: a parked slot), if any. */
  slotOf(publisherId: string | null): OutputSlot | undefined {
    return this.slots.find((s) => s.publisherId === publisherId)
  }

  /** A slot for `publisherId`: a parked one made sendonly again, else a new transceiver. The caller negotiates. */
  open(publisherId: string): OutputSlot {
    const streams = [new MediaStream({ id: publisherId })]
    let slot = this.slotOf(null)
    if (slot) {
      slot.transceiver.setDirection('sendonly')
      slot.transceiver.sender.setStreams(streams)
    } else {
      this.pc ??= this.#hooks.connect()
      const transceiver = this.pc.addTransceiver('audio', { direction: 'sendonly', streams })
      slot = { subscriber: this, transceiver, publisherId: null, rebase: null, last: null, out: new DirectOutput(transceiver.sender, this.route) }
      this.slots.push(slot)
    }
    slot.publisherId = publisherId
    slot.rebase = null
    return slot
  }

  /** Makes an offer now, or marks the subscriber dirty if one is outstanding. */
  negotiate(): void {
    if (this.#offering) {
      this.#dirty = true
      return
    }
    const pc = this.pc
    if (!pc) return
    this.#offering = true
    this.#dirty = false
    const run = async () => {
      const offer = await pc.createOffer()
      await pc.setLocalDescription(offer)
      // werift's setLocalDescription never settles once the connection is closed,
      // so a removed subscriber simply never gets here.
      if (this.#hooks.current()) this.#hooks.offer(unrejectInactive(pc.localDescription!.sdp))
    }
    run().catch((err: unknown) => {
      this.#offering = false
      this.#hooks.fail(new Error(`offer for subscriber ${this.id} failed`, { cause: err }))
    })
  }

  /** Applies the subscriber's answer to the outstanding offer (the forwarder checked there is one, and the description). */
  async acceptAnswer(answer: { type: 'answer'; sdp: string }): Promise<void> {
    try {
      await this.pc!.setRemoteDescription(answer)
    } catch (err) {
      throw new SfuError(SfuErrorCode.BAD_DESCRIPTION, String(err), { cause: err })
    }
    this.#offering = false
    if (this.#dirty) this.negotiate()
  }
}

/** What became of one packet on one slot (the forwarder counts it). */
export type SlotWrite = 'direct' | 'werift' | 'notConnected'

/**
 * The hot path for one slot: `rtp` rewritten onto `slot`'s sender. `p` is the forwarder's one
 * object per source packet, patched here (DirectOutput.send reads it synchronously); `direct`
 * says whether the direct path covers the packet (no CSRCs). werift's sendRtp is the fallback;
 * its failures are reported to `sendFailed`.
 */
export function writeSlot(slot: OutputSlot, rtp: RtpPacket, p: OutPacket, now: number, direct: boolean, sendFailed: () => void): SlotWrite {
  const sender = slot.transceiver.sender
  // werift's sendRtp silently returns before DTLS is up; count it here instead.
  if (sender.transport?.state !== 'connected' || !sender.codec) return 'notConnected'
  const h = rtp.header
  let rebase = slot.rebase
  if (!rebase) {
    const { last } = slot
    rebase = slot.rebase = last ? rebaseAfter(last, { seq: h.sequenceNumber, ts: h.timestamp }, now - last.at, sender.codec.clockRate) : NO_REBASE
  }
  p.seq = (h.sequenceNumber + rebase.seq) & 0xffff
  p.ts = (h.timestamp + rebase.ts) >>> 0
  if (slot.last) {
    slot.last.seq = p.seq
    slot.last.ts = p.ts
    slot.last.at = now
  } else slot.last = { seq: p.seq, ts: p.ts, at: now }
  if (direct && slot.out.send(p)) return 'direct'
  sender.sendRtp(forwardedPacket(rtp, rebase)).catch(sendFailed)
  return 'werift'
}
