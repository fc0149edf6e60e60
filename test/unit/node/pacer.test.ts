import { describe, expect, it } from 'vitest'
import { pace } from '../../../src/node/pacer.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'

describe('pace', () => {
  it('runs a step every 10 ms from the start time, and nothing after stop', () => {
    const clock = fakeTimers(1000)
    const steps: boolean[] = []
    const pacer = pace({ now: clock.now, setTimeout: clock.timers.setTimeout, clearTimeout: clock.timers.clearTimeout, maxBurst: 3 }, (skip) => (steps.push(skip), true))
    expect(steps).toEqual([false]) // the first is due at once
    clock.advance(30)
    expect(steps).toEqual([false, false, false, false])
    expect(pacer.steps).toBe(4)
    pacer.stop()
    clock.advance(100)
    expect(steps).toHaveLength(4)
    expect(clock.pending()).toBe(0)
  })

  it('after a stall sends at most maxBurst steps and runs the backlog as skipped ones', () => {
    let now = 0
    let fire: (() => void) | null = null
    const steps: boolean[] = []
    const pacer = pace({ now: () => now, setTimeout: (fn) => ((fire = fn), 1), clearTimeout: () => (fire = null), maxBurst: 3 }, (skip) => (steps.push(skip), true))
    now = 95 // ten steps are due (0..90 ms done once: step 0 ran at start)
    fire!()
    expect(steps.filter((s) => !s)).toHaveLength(1 + 3)
    expect(steps.filter((s) => s)).toHaveLength(6)
    expect(pacer.skipped).toBe(6)
    pacer.stop()
  })

  it('stops when a step answers false', () => {
    const clock = fakeTimers(0)
    let n = 0
    const pacer = pace({ now: clock.now, setTimeout: clock.timers.setTimeout, clearTimeout: clock.timers.clearTimeout }, () => ++n < 3)
    clock.advance(100)
    expect(n).toBe(3)
    expect(pacer.steps).toBe(3)
    expect(clock.pending()).toBe(0)
  })
})
