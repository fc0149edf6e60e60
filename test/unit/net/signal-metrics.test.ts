import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../../relay/metrics.ts'

describe('relay metrics registry (used by signalling)', () => {
  it('renders counters and gauges in Prometheus text format, sorted', () => {
    const m = createMetrics()
    m.describe('stoop_signal_rejected_total', 'Rejected frames')
    m.counter('stoop_signal_rejected_total', { reason: 'bad-json' }).inc()
    m.counter('stoop_signal_rejected_total', { reason: 'bad-json' }).inc(2)
    m.counter('stoop_signal_rejected_total', { reason: 'a"b\\c\nd' }).inc()
    m.gauge('stoop_signal_connections').set(3)
    expect(m.render()).toBe(
      [
        '# TYPE stoop_signal_connections gauge',
        'stoop_signal_connections 3',
        '# HELP stoop_signal_rejected_total Rejected frames',
        '# TYPE stoop_signal_rejected_total counter',
        'stoop_signal_rejected_total{reason="a\\"b\\\\c\\nd"} 1',
        'stoop_signal_rejected_total{reason="bad-json"} 3',
        '',
      ].join('\n'),
    )
    expect(m.value('stoop_signal_rejected_total', { reason: 'bad-json' })).toBe(3)
    expect(m.value('nope')).toBe(0)
  })

  it('keys label sets independently of order', () => {
    const m = createMetrics()
    m.counter('x_total', { a: '1', b: '2' }).inc()
    m.counter('x_total', { b: '2', a: '1' }).inc()
    expect(m.value('x_total', { a: '1', b: '2' })).toBe(2)
  })

  it('throws with stable codes on misuse', () => {
    const m = createMetrics()
    m.counter('x_total').inc()
    expect(() => m.gauge('x_total')).toThrow(expect.objectContaining({ code: 'metric-type-clash' }))
    expect(() => m.counter('bad name')).toThrow(expect.objectContaining({ code: 'bad-metric-name' }))
    expect(() => m.counter('y_total', { 'bad-label': 'v' })).toThrow(expect.objectContaining({ code: 'bad-label-name' }))
    expect(() => m.counter('x_total').inc(-1)).toThrow(expect.objectContaining({ code: 'counter-decrease' }))
  })
})
