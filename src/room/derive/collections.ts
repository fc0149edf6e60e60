/**
 * The total orders every "earliest wins" choice uses, and the small map
 * helpers built on them. Shared by the state derivation and the entry index.
 */

/** Plain code-unit order of strings (ids, keys): the same on every replica. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Total order used for every "earliest wins" choice. */
export function byTimeThenId(a: { time: number; id: string }, b: { time: number; id: string }): number {
  return a.time - b.time || compareStrings(a.id, b.id)
}

/** Entries of a string-keyed map, sorted by key. */
export function sortedEntries<V>(map: ReadonlyMap<string, V>): [string, V][] {
  return [...map].sort((a, b) => compareStrings(a[0], b[0]))
}

/** A copy of a string-keyed map whose iteration order is by key. */
export function sortedMap<V>(map: ReadonlyMap<string, V>): Map<string, V> {
  return new Map(sortedEntries(map))
}

/** Appends to the list under `key`, creating it. */
export function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}
