/**
 * A jitter buffer for one received Opus stream: packets go in as they arrive (any order, any
 * delay), and `next()` hands out what to play next, one packet's worth at a time, in RTP
 * timestamp order: the packet itself, the lost one rebuilt from the in-band FEC of the packet
 * after it, or concealment. Pure: no clock and no codec; the caller pulls at its playout pace and
 * decodes.
 *
 * Invariants:
 * - Playout starts once `targetMs` of audio is buffered after the last hole longer than
 *   `maxConcealMs` (what precedes such a hole is stale: a comfort-noise packet before a pause).
 * - Timestamps are unwrapped to 53-bit numbers, so the 32-bit wrap is invisible. A jump of more
 *   than `resetAfterMs` either way is a new source: the buffer starts over (`resets`).
 * - Each timestamp is played at most once: a packet for audio already played or concealed is
 *   `late`, a second copy is a `duplicate`; both are dropped.
 * - A gap of exactly one packet before a buffered one is rebuilt from that packet's FEC data;
 *   any other gap is concealed, one packet length at a time. After `maxConcealMs` of concealment
 *   with nothing buffered the stream is paused (DTX, a muted or gone sender): `next()` gives null
 *   (play silence) until `targetMs` is buffered again.
 * - The delay adapts: each late packet raises the target by one packet length (up to
 *   `maxTargetMs`), paid by one extra concealed packet that does not advance the playout point
 *   (so the packets behind the late one are in time again); a buffer deeper than target plus two
 *   packets for half a second of playout drops its oldest packet (`drained`); ten seconds without a
 *   late packet lower the target by one packet length, down to `targetMs`.
 * - At most `maxPackets` are held; beyond that the oldest is dropped (`overflow`).
 */

export interface JitterOptions {
  /** Delay buffered before playout starts, ms. Default 40. */
  targetMs?: number
  /** Highest the target grows to after late packets, ms. Default 200. */
  maxTargetMs?: number
  /** Concealment with an empty buffer after which the stream counts as paused, ms. Default 100. */
  maxConcealMs?: number
  /** Most packets held. Default 64. */
  maxPackets?: number
  /** A timestamp jump larger than this means a new source, ms. Default 10 000. */
  resetAfterMs?: number
  /** RTP clock rate. Default 48 000 (Opus). */
  clockRate?: number
}

export interface JitterPacket {
  timestamp: number
  payload: Uint8Array
  /** Duration in RTP clock units (from the Opus TOC). */
  samples: number
}

export type PlayoutUnit =
  | { kind: 'packet'; payload: Uint8Array; samples: number }
  /** Decode the FEC data in `payload` (the packet after the lost one) for `samples`. */
  | { kind: 'fec'; payload: Uint8Array; samples: number }
  | { kind: 'conceal'; samples: number }

export type PushResult = 'queued' | 'late' | 'duplicate'

export interface JitterStats {
  queued: number
  played: number
  fec: number
  /** Packet lengths concealed (losses, underruns, growing the delay). */
  concealed: number
  late: number
  duplicate: number
  overflow: number
  drained: number
  stale: number
  resets: number
  /** Current target delay, ms. */
  targetMs: number
}

interface Held {
  ts: number
  payload: Uint8Array
  samples: number
}

const DRAIN_AFTER_PULLS = 25
const DECAY_AFTER_PULLS = 500
const WRAP = 2 ** 32

export class JitterBuffer {
  readonly #rate: number
  readonly #minTarget: number
  readonly #maxTarget: number
  readonly #maxConceal: number
  readonly #maxPackets: number
  readonly #resetAfter: number
  readonly #held: Held[] = []
  #target: number
  /** Highest unwrapped timestamp seen; null before the first packet. */
  #top: number | null = null
  /** Next timestamp to play; null while buffering. */
  #playTs: number | null = null
  /** Audio before this was played or given up on; packets below it are late. */
  #floor = -Infinity
  #unit = 960
  #concealRun = 0
  #grow = 0
  #deepPulls = 0
  #calmPulls = 0
  readonly #stats: Omit<JitterStats, 'targetMs'> = { queued: 0, played: 0, fec: 0, concealed: 0, late: 0, duplicate: 0, overflow: 0, drained: 0, stale: 0, resets: 0 }

  constructor(opts: JitterOptions = {}) {
    this.#rate = opts.clockRate ?? 48_000
    const units = (ms: number) => Math.round((ms * this.#rate) / 1000)
    this.#minTarget = this.#target = units(opts.targetMs ?? 40)
    this.#maxTarget = Math.max(this.#minTarget, units(opts.maxTargetMs ?? 200))
    this.#maxConceal = units(opts.maxConcealMs ?? 100)
    this.#maxPackets = opts.maxPackets ?? 64
    this.#resetAfter = units(opts.resetAfterMs ?? 10_000)
  }

  get stats(): JitterStats {
    return { ...this.#stats, targetMs: (this.#target * 1000) / this.#rate }
  }

  /** Buffered audio ahead of the playout point, ms. */
  get depthMs(): number {
    const end = this.#end()
    const from = this.#playTs ?? this.#held[0]?.ts ?? end
    return (Math.max(0, end - from) * 1000) / this.#rate
  }

  push(p: JitterPacket): PushResult {
    const ts = this.#unwrap(p.timestamp)
    if (ts < this.#floor || (this.#playTs !== null && ts < this.#playTs)) {
      this.#stats.late++
      this.#onLate()
      return 'late'
    }
    let i = this.#held.length
    while (i > 0 && this.#held[i - 1]!.ts > ts) i--
    if (this.#held[i - 1]?.ts === ts) {
      this.#stats.duplicate++
      return 'duplicate'
    }
    this.#held.splice(i, 0, { ts, payload: p.payload, samples: p.samples })
    this.#stats.queued++
    if (this.#held.length > this.#maxPackets) {
      this.#dropOldest()
      this.#stats.overflow++
    }
    return 'queued'
  }

  /** What to play next, or null for silence (buffering, or the stream paused). */
  next(): PlayoutUnit | null {
    if (this.#playTs === null && !this.#start()) return null
    this.#adapt(this.#playTs!)
    const playTs = this.#playTs!
    // Packets starting inside audio already played (a longer packet before them) are late.
    while (this.#held.length > 0 && this.#held[0]!.ts < playTs) {
      this.#held.shift()
      this.#stats.late++
    }
    const head = this.#held[0]
    if (this.#grow > 0) {
      this.#grow -= this.#unit
      return this.#conceal(this.#unit, false)
    }
    if (head?.ts === playTs) {
      this.#held.shift()
      this.#advance(head.samples)
      this.#concealRun = 0
      this.#unit = head.samples
      this.#stats.played++
      return { kind: 'packet', payload: head.payload, samples: head.samples }
    }
    if (!head) {
      if (this.#concealRun >= this.#maxConceal) return this.#pause()
      return this.#conceal(this.#unit, true)
    }
    const gap = head.ts - playTs
    if (gap === head.samples && gap % 120 === 0) {
      this.#advance(gap)
      this.#concealRun = 0
      this.#stats.fec++
      return { kind: 'fec', payload: head.payload, samples: gap }
    }
    const step = Math.min(this.#unit, gap - (gap % 120))
    if (step === 0 || this.#concealRun >= this.#maxConceal) {
      this.#advance(gap) // an odd-sized or very long hole: go on from the next packet
      return this.next()
    }
    return this.#conceal(step, true)
  }

  #start(): boolean {
    const end = this.#end()
    const first = this.#held[0]
    if (!first || end - first.ts < this.#target) return false
    // Start after the last hole longer than a concealment run: what came before it (a
    // comfort-noise packet before a DTX pause, say) is stale.
    let from = 0
    for (let i = 1; i < this.#held.length; i++) {
      const prev = this.#held[i - 1]!
      if (this.#held[i]!.ts - (prev.ts + prev.samples) > this.#maxConceal) from = i
    }
    if (end - this.#held[from]!.ts < this.#target) return false
    this.#stats.stale += from
    this.#held.splice(0, from)
    this.#playTs = this.#held[0]!.ts
    this.#concealRun = 0
    this.#grow = 0
    return true
  }

  #pause(): null {
    this.#floor = this.#playTs!
    this.#playTs = null
    this.#concealRun = 0
    return null
  }

  #conceal(samples: number, advance: boolean): PlayoutUnit {
    if (advance) this.#advance(samples)
    this.#concealRun += samples
    this.#stats.concealed++
    return { kind: 'conceal', samples }
  }

  #advance(samples: number): void {
    this.#playTs! += samples
    this.#floor = this.#playTs!
  }

  /** Drain a buffer that stays too deep; let the target decay after a calm spell. */
  #adapt(playTs: number): void {
    const depth = this.#end() - playTs
    this.#deepPulls = depth > this.#target + 2 * this.#unit ? this.#deepPulls + 1 : 0
    if (this.#deepPulls >= DRAIN_AFTER_PULLS && this.#held[0]?.ts === playTs) {
      this.#deepPulls = 0
      this.#advance(this.#held.shift()!.samples)
      this.#stats.drained++
    }
    if (++this.#calmPulls >= DECAY_AFTER_PULLS && this.#target > this.#minTarget) {
      this.#calmPulls = 0
      this.#target = Math.max(this.#minTarget, this.#target - this.#unit)
    }
  }

  #onLate(): void {
    this.#calmPulls = 0
    if (this.#playTs === null || this.#target >= this.#maxTarget) return
    this.#target = Math.min(this.#maxTarget, this.#target + this.#unit)
    this.#grow += this.#unit
  }

  #dropOldest(): void {
    const old = this.#held.shift()!
    if (this.#playTs !== null && old.ts + old.samples > this.#playTs) this.#advance(old.ts + old.samples - this.#playTs)
  }

  #end(): number {
    const last = this.#held[this.#held.length - 1]
    return last ? last.ts + last.samples : (this.#playTs ?? 0)
  }

  #unwrap(ts32: number): number {
    if (this.#top === null) return (this.#top = ts32 >>> 0)
    let diff = ((ts32 >>> 0) - (this.#top % WRAP) + WRAP) % WRAP
    if (diff >= WRAP / 2) diff -= WRAP
    if (Math.abs(diff) > this.#resetAfter) {
      this.#reset()
      return (this.#top = ts32 >>> 0)
    }
    const ts = this.#top + diff
    if (ts > this.#top) this.#top = ts
    return ts
  }

  #reset(): void {
    this.#held.length = 0
    this.#playTs = null
    this.#floor = -Infinity
    this.#target = this.#minTarget
    this.#concealRun = this.#grow = this.#deepPulls = this.#calmPulls = 0
    this.#stats.resets++
  }
}
