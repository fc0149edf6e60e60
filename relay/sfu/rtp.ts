/**
 * The RTP rewriting the forwarder does: a fresh header per outgoing stream, the
 * payload bytes shared and never touched.
 *
 * Why a copy per subscriber: werift's `RTCRtpSender.sendRtp` rewrites the
 * header it is given in place (SSRC, payload type, header extensions) and keeps
 * the packet object in its NACK history. Handing one object to several senders
 * would let one subscriber's rewrite leak into another's stream.
 *
 * Header extensions are dropped: their ids are negotiated per connection, so
 * the publisher's ids mean nothing on a subscriber's connection. The sender adds
 * the extensions it negotiated itself (sdes:mid).
 *
 * Sequence numbers and timestamps pass through unchanged on a fresh outgoing
 * stream. When an outgoing stream is reused for another publisher, a
 * {@link Rebase} shifts them so the receiver sees one continuous stream.
 */
import { RtpHeader, RtpPacket } from 'werift'

/** Offsets added (mod 2^16 / 2^32) to a publisher's sequence numbers and timestamps. */
export interface Rebase {
  seq: number
  ts: number
}

export const NO_REBASE: Rebase = { seq: 0, ts: 0 }

/** A copy of `src` for one subscriber: same payload Buffer (not copied), fresh header. */
export function forwardedPacket(src: RtpPacket, rebase: Rebase = NO_REBASE): RtpPacket {
  const h = src.header
  const header = new RtpHeader({
    marker: h.marker,
    payloadType: h.payloadType,
    sequenceNumber: (h.sequenceNumber + rebase.seq) & 0xffff,
    timestamp: (h.timestamp + rebase.ts) >>> 0,
    ssrc: h.ssrc,
    csrc: [...h.csrc],
    csrcLength: h.csrcLength,
    extensions: [],
  })
  return new RtpPacket(header, src.payload)
}

/**
 * Offsets that make `next` (the first packet of a new source) follow `last`
 * (the last packet sent on the stream) by one sequence number and by the wall
 * time elapsed, in RTP clock units.
 */
export function rebaseAfter(
  last: { seq: number; ts: number },
  next: { seq: number; ts: number },
  elapsedMs: number,
  clockRate: number,
): Rebase {
  const gap = Math.max(1, Math.round((elapsedMs * clockRate) / 1000))
  return {
    seq: (last.seq + 1 - next.seq) & 0xffff,
    ts: (last.ts + gap - next.ts) >>> 0,
  }
}
