/**
 * The relays a RelayPath (relay-path.ts) may use, in order, and how it moves along them.
 *
 * Any relay of the list carries the whole room (cascaded relays forward each other's
 * speakers). When the relay in use fails, the path moves to the next one at once; only when
 * every relay failed in a row is the path `failed`: unavailable for a while, the topology falls
 * back to the mesh, and the relays are tried again later, from where the round started. The
 * wait grows with each failed round (RELAY_RETRY: about 1 s, then a quarter more each time up
 * to `maxMs`), so a relay that restarts (2-5 s) has its listeners back within about a second of
 * answering again, while one that stays down is tried every `maxMs`. A connection closed
 * because the same key connected again (`replaced`: the user in a second tab or device) waits
 * `maxMs`, so two sessions of one key do not take the relay from each other every second.
 *
 * The list may start empty and grow (relays found on hyperswarm); it never holds a URL twice.
 */
import { retryDelay, type RetryPolicy } from '../base/retry.ts'

/** The waits of a failed path before it tries again (maxMs: `retryMs`); jittered, so a restarted relay's listeners do not all return in one instant. */
export const RELAY_RETRY: Omit<RetryPolicy, 'maxMs'> = { initialMs: 1000, factor: 1.25, jitter: 0.5 }

export class RelayList {
  readonly #urls: string[]
  /** Index of the relay in use (or tried next). */
  #index = 0
  /** Relays that failed in a row since the last one that became ready. */
  #failures = 0
  /** Rounds (every relay of the list failed) in a row since the path was last ready. */
  #rounds = 0

  constructor(url: string | readonly string[]) {
    this.#urls = typeof url === 'string' ? [url] : [...new Set(url)]
  }

  get size(): number {
    return this.#urls.length
  }

  /** The relay in use (or tried next); null while none is known. */
  get url(): string | null {
    return this.#urls[this.#index] ?? null
  }

  /** Where a standby goes: the relay after the one in use. */
  get next(): { index: number; url: string } {
    const index = (this.#index + 1) % this.#urls.length
    return { index, url: this.#urls[index]! }
  }

  /** Appends the relays not known yet; returns how many relays there were before. */
  add(urls: readonly string[]): number {
    const had = this.#urls.length
    for (const u of urls) if (!this.#urls.includes(u)) this.#urls.push(u)
    return had
  }

  /** The relay in use became ready: the counts start over. */
  ready(): void {
    this.#failures = 0
    this.#rounds = 0
  }

  /** A standby at `index` took over. */
  moveTo(index: number): void {
    this.#index = index
  }

  /** The relay in use failed: moves to the next one; false when every relay has now failed in a row (a round). */
  failed(): boolean {
    this.#failures++
    this.#index = (this.#index + 1) % this.#urls.length
    if (this.#failures < this.#urls.length) return true
    this.#failures = 0
    return false
  }

  /** How long to wait after a failed round (see the module comment); each one not `replaced` lengthens the next. */
  retryWait(maxMs: number, replaced: boolean, random?: () => number): number {
    return replaced ? maxMs : retryDelay({ ...RELAY_RETRY, maxMs }, this.#rounds++, random)
  }
}
