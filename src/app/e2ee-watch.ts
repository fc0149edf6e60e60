/**
 * Fail closed when Chromium stops passing a receiver's frames through its transform.
 *
 * Seen with a werift peer on the mesh (test/e2e/werift-e2ee.test.ts): after an offer collision
 * that the page resolved by rollback, Chromium passes no frame of the receiver through its
 * transformer and decodes the SFrame ciphertext as Opus, which plays as full-scale noise.
 * src/net/peer.ts now avoids the redundant offers that caused those collisions; a real collision
 * (both sides adding a track at once) can still cause it, and this guard stays for that. The page cannot re-attach a transform (Chromium
 * ignores one set after the first negotiation), but it can notice: packets keep arriving at the
 * receiver (getStats) while the worker sees no frame of that receiver's transform. Such a track
 * is silenced (`enabled = false`) and counted, and enabled again if frames come back.
 *
 * Two checks in a row must agree, so the worker's stats arriving up to a second late cannot make
 * a new stream look bypassed.
 */

/** What one check saw of a receiver: packets received in total, frames its transform saw in total. */
export interface ReceiverSample {
  packets: number
  frames: number
}

/** Packets a receiver must get between two checks for "no frames" to mean something (0.5 s of audio). */
export const BYPASS_MIN_PACKETS = 25

/** Packets arrived and no frame reached the transform between two samples. */
export function bypassedBetween(prev: ReceiverSample, now: ReceiverSample): boolean {
  return now.packets - prev.packets >= BYPASS_MIN_PACKETS && now.frames === prev.frames
}

interface Watched {
  receiver: RTCRtpReceiver
  track: MediaStreamTrack
  samples: ReceiverSample[]
  silenced: boolean
}

export class BypassWatch {
  readonly #watched = new Map<number, Watched>()
  readonly #frames: (id: number) => number
  #silencedTotal = 0
  #busy = false

  /** `frames(id)`: frames the worker has seen on receiving transform `id` so far. */
  constructor(frames: (id: number) => number) {
    this.#frames = frames
  }

  watch(id: number, receiver: RTCRtpReceiver, track: MediaStreamTrack): void {
    this.#watched.set(id, { receiver, track, samples: [], silenced: false })
  }

  /** Receivers found bypassing their transform so far (each counted once per silencing). */
  get silenced(): number {
    return this.#silencedTotal
  }

  /** One check of every watched receiver; call it every couple of seconds. */
  async check(): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      for (const [id, w] of this.#watched) {
        if (w.track.readyState === 'ended') {
          this.#watched.delete(id)
          continue
        }
        const sample = { packets: await packetsReceived(w.receiver), frames: this.#frames(id) }
        w.samples = [...w.samples, sample].slice(-3)
        const [a, b, c] = w.samples
        const prev = w.samples.at(-2)
        if (a && b && c && bypassedBetween(a, b) && bypassedBetween(b, c)) {
          if (!w.silenced) this.#silencedTotal++
          w.silenced = true
          w.track.enabled = false
        } else if (w.silenced && prev && sample.frames > prev.frames) {
          w.silenced = false
          w.track.enabled = true
        }
      }
    } finally {
      this.#busy = false
    }
  }
}

async function packetsReceived(receiver: RTCRtpReceiver): Promise<number> {
  let n = 0
  try {
    const report = await receiver.getStats()
    report.forEach((s: { type?: string; packetsReceived?: number }) => {
      if (s.type === 'inbound-rtp' && typeof s.packetsReceived === 'number') n += s.packetsReceived
    })
  } catch {
    // A receiver of a closed connection has no stats: nothing arrives, nothing to silence.
  }
  return n
}
