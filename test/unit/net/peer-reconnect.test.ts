import { describe, expect, it } from 'vitest'
import { defaultBackoff, ReconnectPolicy } from '../../../src/net/peer-reconnect.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'

function setup(maxRestarts = 3) {
  const { timers, advance, pending } = fakeTimers()
  const log: string[] = []
  const policy = new ReconnectPolicy(
    { timers, graceMs: 1000, maxRestarts, backoff: (n) => n * 100 },
    { restart: (n) => log.push(`restart${n}`), recovered: () => log.push('recovered'), giveUp: () => log.push('giveUp') },
  )
  return { policy, log, advance, pending }
}

describe('ReconnectPolicy', () => {
  it('failed during the grace period restarts at once, without a second restart from the grace timer', () => {
    const { policy, log, advance, pending } = setup()
    policy.update('connected')
    policy.update('disconnected')
    advance(500)
    policy.update('failed')
    expect(log).toEqual(['restart1'])
    advance(50)
    expect(log).toEqual(['restart1'])
    policy.update('connected')
    expect(log).toEqual(['restart1', 'recovered'])
    expect(pending()).toBe(0)
    expect(policy.attempt).toBe(0)
  })

  it('backs off per attempt and gives up exactly once', () => {
    const { policy, log, advance, pending } = setup(2)
    policy.update('failed')
    policy.update('failed') // repeats are ignored
    advance(100)
    expect(log).toEqual(['restart1', 'restart2'])
    advance(199)
    expect(log).toHaveLength(2)
    advance(1)
    expect(log).toEqual(['restart1', 'restart2', 'giveUp'])
    policy.update('disconnected')
    advance(10_000)
    expect(log).toHaveLength(3)
    expect(pending()).toBe(0)
  })

  it('disconnected -> failed -> disconnected while a retry is pending does not double up', () => {
    const { policy, log, advance } = setup()
    policy.update('failed')
    policy.update('disconnected')
    advance(100)
    expect(log).toEqual(['restart1', 'restart2'])
  })

  it('dispose clears timers and silences the policy', () => {
    const { policy, log, advance, pending } = setup()
    policy.update('disconnected')
    policy.dispose()
    policy.dispose()
    expect(pending()).toBe(0)
    advance(5000)
    policy.update('failed')
    expect(log).toEqual([])
  })

  it('default backoff doubles from 1 s and caps at 16 s', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(defaultBackoff)).toEqual([1000, 2000, 4000, 8000, 16000, 16000, 16000])
  })
})
