/**
 * A minimal typed event emitter (works in the browser and Node). Listener errors are not caught
 * here: a throwing listener is a bug in the caller and should surface.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap<E> = { [K in keyof E]: (...args: any[]) => void }

export class TypedEmitter<E extends EventMap<E>> {
  #listeners = new Map<keyof E, Set<E[keyof E]>>()

  on<K extends keyof E>(event: K, fn: E[K]): () => void {
    let set = this.#listeners.get(event)
    if (!set) this.#listeners.set(event, (set = new Set()))
    set.add(fn)
    return () => this.off(event, fn)
  }

  once<K extends keyof E>(event: K, fn: E[K]): () => void {
    const wrapped = ((...args: Parameters<E[K]>) => {
      this.off(event, wrapped)
      fn(...args)
    }) as E[K]
    return this.on(event, wrapped)
  }

  off<K extends keyof E>(event: K, fn: E[K]): void {
    this.#listeners.get(event)?.delete(fn)
  }

  listenerCount(event: keyof E): number {
    return this.#listeners.get(event)?.size ?? 0
  }

  protected emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.#listeners.get(event)
    if (!set) return
    for (const fn of [...set]) (fn as (...a: Parameters<E[K]>) => void)(...args)
  }

  protected removeAllListeners(): void {
    this.#listeners.clear()
  }
}
