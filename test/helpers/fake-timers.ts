/**
 * A hand-driven clock for unit tests of code that takes `Timers`
 * (src/base/timers.ts): nothing fires until `advance`, which runs what falls
 * due in time order, moving the clock to each timer's time as it fires.
 */
import type { Timers } from '../../src/base/timers.ts'

export interface FakeTimers {
  timers: Timers
  now(): number
  /** Timers set and not yet fired or cleared. */
  pending(): number
  /** Runs what falls due within `ms`; `between` (e.g. letting promises settle) after each timer. */
  advance(ms: number): void
  advanceAsync(ms: number, between: () => Promise<void>): Promise<void>
}

export function fakeTimers(start = 0): FakeTimers {
  let now = start
  let id = 0
  const q = new Map<number, { at: number; fn: () => void }>()
  const timers: Timers = {
    setTimeout: (fn, ms) => (q.set(++id, { at: now + ms, fn }), id),
    clearTimeout: (h) => void q.delete(h as number),
  }
  /** The next timer due by `end`, taken off the queue with the clock moved to it. */
  const takeDue = (end: number): (() => void) | null => {
    const next = [...q.entries()].sort((a, b) => a[1].at - b[1].at)[0]
    if (!next || next[1].at > end) return null
    q.delete(next[0])
    now = next[1].at
    return next[1].fn
  }
  return {
    timers,
    now: () => now,
    pending: () => q.size,
    advance(ms) {
      const end = now + ms
      for (let fn = takeDue(end); fn; fn = takeDue(end)) fn()
      now = end
    },
    async advanceAsync(ms, between) {
      const end = now + ms
      for (let fn = takeDue(end); fn; fn = takeDue(end)) {
        fn()
        await between()
      }
      now = end
    },
  }
}
