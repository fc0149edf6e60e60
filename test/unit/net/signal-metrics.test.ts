import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../../relay/log.ts'
import { createMetrics } from '../../../relay/metrics.ts'
import { startRelay } from '../../../relay/server.ts'

/**
 * Parses Prometheus text exposition (format 0.0.4) strictly: every line is a `# HELP` or
 * `# TYPE` comment or a `name{labels} value [timestamp]` sample; a family's TYPE comes once,
 * before its samples, which are contiguous (no other TYPE between them); no series repeats. Throws on the first bad line.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: { name: string; labels: string; value: number }[] } {
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
  const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"'
  const VALUE = '(?:NaN|[+-]Inf|[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?)'
  const SAMPLE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)?\\})? (${VALUE})(?: -?\\d+)?$`)
  const HELP = new RegExp(`^# HELP (${NAME}) (?:[^\\\\\\n]|\\\\[\\\\n])*$`)
  const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`)
  if (!text.endsWith('\n')) throw new Error('output does not end with a newline')
  const types = new Map<string, string>()
  const samples: { name: string; labels: string; value: number }[] = []
  const seen = new Set<string>()
  let family: string | undefined
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const bad = (why: string) => new Error(`line ${i + 1} ${why}: ${JSON.stringify(line)}`)
    let m: RegExpExecArray | null
    if ((m = HELP.exec(line))) continue
    if ((m = TYPE.exec(line))) {
      if (types.has(m[1]!)) throw bad('repeats a TYPE')
      types.set(m[1]!, m[2]!)
      family = m[1]!
      continue
    }
    if (!(m = SAMPLE.exec(line))) throw bad('is neither a comment nor a sample')
    const [, name, labels = '', value] = m
    const base = types.has(name!) ? name! : name!.replace(/_(sum|count|bucket)$/, '')
    if (base !== family) throw bad(`is not in its family's block (${family ?? 'none'})`)
    if (seen.has(`${name}{${labels}}`)) throw bad('repeats a series')
    seen.add(`${name}{${labels}}`)
    samples.push({ name: name!, labels, value: value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value) })
  }
  return { types, samples }
}

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

  it('the exposition parser refuses malformed lines', () => {
    expect(() => parseExposition('x_total 1\n')).toThrow(/family/)
    expect(() => parseExposition('# TYPE x_total counter\nx_total{a=b} 1\n')).toThrow(/neither/)
    expect(() => parseExposition('# TYPE x_total counter\nx_total one\n')).toThrow(/neither/)
    expect(() => parseExposition('# TYPE x_total counter\nx_total 1\nx_total 2\n')).toThrow(/repeats a series/)
    expect(() => parseExposition('# TYPE x_total counter\nx_total 1')).toThrow(/newline/)
    expect(parseExposition('# HELP x_total a \\\\ b\n# TYPE x_total counter\nx_total{a="q\\"\\n"} +Inf\n').samples).toEqual([
      { name: 'x_total', labels: 'a="q\\"\\n"', value: Infinity },
    ])
  })

  it("a relay's /metrics parses as Prometheus text, line by line", async () => {
    const relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
    try {
      const res = await fetch(relay.url + '/metrics')
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
      const { types, samples } = parseExposition(await res.text())
      expect(types.get('stoop_signal_rejected_total')).toBe('counter')
      expect(types.get('stoop_relay_peers')).toBe('gauge')
      expect(types.get('stoop_relay_event_loop_lag_seconds')).toBe('gauge')
      expect(samples.filter((s) => s.name === 'stoop_relay_event_loop_lag_seconds').map((s) => s.labels)).toEqual(['quantile="0.5"', 'quantile="0.99"', 'quantile="1"'])
      for (const s of samples) expect(Number.isNaN(s.value), `${s.name}{${s.labels}}`).toBe(false)
    } finally {
      await relay.close()
    }
  })
})
