/** Small text formatting helpers shared by screens. */

export function relativeTime(then: number, now: number): string {
  const s = Math.round((now - then) / 1000)
  if (s < 45) return 'just now'
  const m = Math.round(s / 60)
  if (m < 60) return `${m} min ago`
  const h = Math.round(m / 60)
  if (h < 24) return `${h} h ago`
  const d = Math.round(h / 24)
  if (d < 14) return d === 1 ? 'yesterday' : `${d} days ago`
  return new Date(then).toLocaleDateString()
}

/** "Ana", "Ana and Bo", "Ana, Bo and 3 more". */
export function nameList(names: string[], max = 2): string {
  if (names.length === 0) return ''
  if (names.length === 1) return names[0]!
  if (names.length <= max) return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}
