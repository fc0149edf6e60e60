/**
 * Bridges values that change outside Svelte into reactivity, the way
 * `svelte/reactivity`'s MediaQuery does: `createSubscriber` plus a `.current`
 * getter. Reading `.current` inside an effect or template tracks it; reading
 * it anywhere else just returns the value (so these classes test in Node).
 */
import { createSubscriber } from 'svelte/reactivity'
import type { Watchable } from '../deps.ts'

export interface Readable<T> {
  readonly current: T
}

/** A settable value owned by a plain .ts class. */
export class Cell<T> implements Readable<T> {
  #value: T
  #listeners = new Set<() => void>()
  #subscribe = createSubscriber((update) => {
    this.#listeners.add(update)
    return () => this.#listeners.delete(update)
  })

  constructor(value: T) {
    this.#value = value
  }

  get current(): T {
    this.#subscribe()
    return this.#value
  }

  /** Reads without tracking. */
  peek(): T {
    return this.#value
  }

  set(value: T): void {
    if (Object.is(value, this.#value)) return
    this.#value = value
    for (const listener of [...this.#listeners]) listener()
  }
}

/** Reactive view of a `Watchable` (e.g. the online status). */
export function watch<T>(source: Watchable<T>): Readable<T> {
  const subscribe = createSubscriber((update) => source.subscribe(update))
  return {
    get current() {
      subscribe()
      return source.get()
    },
  }
}
