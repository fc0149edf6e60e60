/**
 * A small metrics registry for the relay, rendered as Prometheus text (exposition format 0.0.4)
 * on `/metrics`. One registry per relay instance (passed in, never a module singleton).
 *
 *   const m = createMetrics()
 *   m.describe('stoop_signal_rejected_total', 'Signalling frames rejected, by reason')
 *   m.counter('stoop_signal_rejected_total', { reason: 'bad-json' }).inc()
 *   m.gauge('stoop_signal_connections').set(3)
 *   m.render()
 *
 * Invariants: a name is either a counter or a gauge, never both; counters only go up;
 * label sets are keyed by their sorted key=value pairs, so label order does not matter;
 * `render()` output is sorted and therefore stable.
 */

export type Labels = Record<string, string>
export type MetricType = 'counter' | 'gauge'

export interface Counter {
  inc(n?: number): void
  readonly value: number
}
export interface Gauge {
  set(v: number): void
  inc(n?: number): void
  dec(n?: number): void
  readonly value: number
}

export interface Metrics {
  /** Returns the counter for `name` and `labels`, creating it at 0. */
  counter(name: string, labels?: Labels): Counter
  gauge(name: string, labels?: Labels): Gauge
  /** Sets the `# HELP` text of a metric. */
  describe(name: string, help: string): void
  /** Current value, or 0 if never touched (for tests and health checks). */
  value(name: string, labels?: Labels): number
  render(): string
}

export class MetricsError extends Error {
  constructor(
    readonly code: 'bad-metric-name' | 'bad-label-name' | 'metric-type-clash' | 'counter-decrease',
    message: string,
  ) {
    super(message)
    this.name = 'MetricsError'
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

interface Family {
  type: MetricType
  help: string | undefined
  series: Map<string, { labels: string; value: number }>
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort()
  for (const k of keys) if (!LABEL.test(k) || k.startsWith('__')) throw new MetricsError('bad-label-name', `bad label name: ${k}`)
  return keys.map((k) => `${k}="${escapeLabel(String(labels[k]))}"`).join(',')
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

export function createMetrics(): Metrics {
  const families = new Map<string, Family>()
  const helps = new Map<string, string>()

  function series(name: string, type: MetricType, labels: Labels) {
    if (!NAME.test(name)) throw new MetricsError('bad-metric-name', `bad metric name: ${name}`)
    let fam = families.get(name)
    if (!fam) {
      fam = { type, help: helps.get(name), series: new Map() }
      families.set(name, fam)
    } else if (fam.type !== type) {
      throw new MetricsError('metric-type-clash', `${name} is a ${fam.type}, not a ${type}`)
    }
    const key = labelKey(labels)
    let s = fam.series.get(key)
    if (!s) {
      s = { labels: key, value: 0 }
      fam.series.set(key, s)
    }
    return s
  }

  return {
    counter(name, labels = {}) {
      const s = series(name, 'counter', labels)
      return {
        inc(n = 1) {
          if (n < 0) throw new MetricsError('counter-decrease', `counter ${name} cannot decrease`)
          s.value += n
        },
        get value() {
          return s.value
        },
      }
    },
    gauge(name, labels = {}) {
      const s = series(name, 'gauge', labels)
      return {
        set(v) {
          s.value = v
        },
        inc(n = 1) {
          s.value += n
        },
        dec(n = 1) {
          s.value -= n
        },
        get value() {
          return s.value
        },
      }
    },
    describe(name, help) {
      helps.set(name, help)
      const fam = families.get(name)
      if (fam) fam.help = help
    },
    value(name, labels = {}) {
      return families.get(name)?.series.get(labelKey(labels))?.value ?? 0
    },
    render() {
      const out: string[] = []
      for (const name of [...families.keys()].sort()) {
        const fam = families.get(name)!
        if (fam.help !== undefined) out.push(`# HELP ${name} ${fam.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
        out.push(`# TYPE ${name} ${fam.type}`)
        for (const key of [...fam.series.keys()].sort()) {
          const s = fam.series.get(key)!
          out.push(`${name}${s.labels ? `{${s.labels}}` : ''} ${formatValue(s.value)}`)
        }
      }
      return out.length ? out.join('\n') + '\n' : ''
    },
  }
}

/** Content-Type for `render()` output. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
