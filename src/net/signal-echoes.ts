/**
 * The sealed payloads a SignalClient published lately. The signalling server fans a
 * publish out to its sender too; remembering our own lets the client skip that echo
 * instead of counting it as a payload that did not open. Bounded: the oldest goes first.
 */
export class OwnPublishes {
  readonly #sent = new Set<string>()

  constructor(private readonly capacity: number) {}

  add(sealed: string): void {
    this.#sent.add(sealed)
    if (this.#sent.size > this.capacity) {
      const oldest = this.#sent.values().next().value
      if (oldest !== undefined) this.#sent.delete(oldest)
    }
  }

  /** True when `data` is one of ours; it is forgotten then (an echo comes once). */
  take(data: string): boolean {
    return this.#sent.delete(data)
  }

  clear(): void {
    this.#sent.clear()
  }
}
