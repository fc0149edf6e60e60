/**
 * Keeps the object an item had in the previous list while nothing in it changed. The session
 * builds a whole new snapshot (new Person objects) whenever anything in the room changes, such
 * as one reaction or one speaking level; handing a keyed `each` the same object for an unchanged
 * item lets Svelte skip that item's effects, so a room of 50 re-renders one tile per reaction,
 * not 50 (bench: `npm run bench -- chat`, reactions/50).
 *
 * Equal means the same own keys with equal values, a value that is a plain object compared the
 * same way one level down (a person's `reaction`).
 */
export class StableList<T extends object> {
  #prev = new Map<string, T>()

  constructor(private readonly keyOf: (item: T) => string) {}

  /** `items`, each replaced by its previous object when equal to it. */
  keep(items: readonly T[]): T[] {
    const next = new Map<string, T>()
    const out = items.map((item) => {
      const key = this.keyOf(item)
      const old = this.#prev.get(key)
      const kept = old !== undefined && sameFields(old, item, 1) ? old : item
      next.set(key, kept)
      return kept
    })
    this.#prev = next
    return out
  }
}

function sameFields(a: object, b: object, depth: number): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  const ra = a as Record<string, unknown>
  const rb = b as Record<string, unknown>
  return ka.every((k) => {
    const x = ra[k]
    const y = rb[k]
    if (x === y) return true
    return depth > 0 && isPlain(x) && isPlain(y) && sameFields(x, y, depth - 1)
  })
}

function isPlain(v: unknown): v is object {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype
}
