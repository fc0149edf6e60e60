/**
 * A real-time 10 ms clock on a drift-free schedule (src/audio/schedule.ts): step k is due at
 * start + k·10 ms, computed from the start time, so timer lateness never accumulates. After a
 * stall, at most `maxBurst` steps run at once; the rest run as skipped steps (`skip` true: keep
 * generators and jitter buffers moving, deliver nothing), so a stall costs audio, not latency.
 *
 * A step returning false ends the clock. The clock, timers and burst bound are options.
 */
import { planFrames } from '../audio/schedule.ts'

export interface PacingOptions {
  /** Monotonic clock in ms. Default performance.now. */
  now?: () => number
  setTimeout?: (fn: () => void, ms: number) => unknown
  clearTimeout?: (handle: unknown) => void
  /** Most steps run at once when catching up. Default 10 (100 ms). */
  maxBurst?: number
}

export interface Pacer {
  readonly steps: number
  readonly skipped: number
  /** Stops the clock. Idempotent. */
  stop(): void
}

export const STEP_MS = 10

/** Starts the clock; the first step runs now. */
export function pace(opts: PacingOptions, step: (skip: boolean) => boolean, stepMs = STEP_MS): Pacer {
  const now = opts.now ?? (() => performance.now())
  const setT = opts.setTimeout ?? ((fn, ms) => setTimeout(fn, ms))
  const clearT = opts.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>))
  const start = now()
  let done = 0
  let skipped = 0
  let timer: unknown = null
  let stopped = false
  const stop = (): void => {
    if (stopped) return
    stopped = true
    if (timer !== null) clearT(timer)
    timer = null
  }
  const tick = (): void => {
    timer = null
    if (stopped) return
    const plan = planFrames(start, now(), stepMs, done, opts.maxBurst ?? 10)
    for (let i = 0; i < plan.skip + plan.send; i++) {
      const skip = i < plan.skip
      done++
      if (skip) skipped++
      if (!step(skip)) return stop()
      if (stopped) return
    }
    timer = setT(tick, Math.max(0, plan.nextDueMs - now()))
  }
  tick()
  return {
    get steps() {
      return done
    },
    get skipped() {
      return skipped
    },
    stop,
  }
}
