/**
 * What an Opus packet's first bytes say about it (RFC 6716 §3.1), without decoding: how many
 * 48 kHz samples it holds. The jitter buffer plays packets by RTP timestamp and needs each one's
 * length to tell a lost packet (a gap) from a long one.
 *
 * Pure; bytes from the network never throw: an impossible packet reads as null.
 */

/** Largest Opus packet (RFC 6716 §3.4: at most 120 ms, frames of at most 1275 bytes). */
export const MAX_OPUS_PACKET = 1275 * 3 + 7

/** Samples at 48 kHz of one frame of each TOC configuration (config = toc >> 3). */
function frameSamples(config: number): number {
  if (config < 12) return [480, 960, 1920, 2880][config & 3]! // SILK: 10, 20, 40, 60 ms
  if (config < 16) return config & 1 ? 960 : 480 // hybrid: 10, 20 ms
  return [120, 240, 480, 960][config & 3]! // CELT: 2.5, 5, 10, 20 ms
}

/** Samples (48 kHz) in `packet`, or null when it is not a valid Opus packet. */
export function opusPacketSamples(packet: Uint8Array): number | null {
  if (packet.length === 0 || packet.length > MAX_OPUS_PACKET) return null
  const toc = packet[0]!
  const per = frameSamples(toc >> 3)
  let frames: number
  switch (toc & 3) {
    case 0:
      frames = 1
      break
    case 1:
    case 2:
      frames = 2
      break
    default: {
      if (packet.length < 2) return null
      frames = packet[1]! & 0x3f
      if (frames === 0) return null
    }
  }
  const samples = frames * per
  return samples > 5760 ? null : samples // RFC 6716: no packet longer than 120 ms
}
