/**
 * Keeps the screen on while this person is on stage (Screen Wake Lock API): a speaker
 * whose phone locks mid-sentence loses the microphone on several platforms. Listeners
 * need no lock: their audio plays on with the screen off where the platform allows.
 *
 * The browser releases a wake lock whenever the page is hidden; it is taken again when
 * the page is visible and still wanted. Feature-detected: without `navigator.wakeLock`
 * nothing happens; a refused request (battery saver, permissions policy) is counted in
 * `failures`, never thrown.
 */

export interface WakeLockEnv {
  /** `navigator.wakeLock`, or undefined where the browser has none. */
  wakeLock: WakeLock | undefined
  /** The page's document (visibility and its event). */
  document: Pick<Document, 'visibilityState' | 'addEventListener' | 'removeEventListener'>
}

export class StageWakeLock {
  readonly #env: WakeLockEnv
  #wanted = false
  #sentinel: WakeLockSentinel | null = null
  #requesting = false
  #closed = false
  readonly #onVisible = (): void => this.#apply()
  /** Requests the browser refused (debug). */
  failures = 0

  constructor(env: WakeLockEnv) {
    this.#env = env
    if (env.wakeLock) env.document.addEventListener('visibilitychange', this.#onVisible)
  }

  /** Whether the screen is held on now. */
  get held(): boolean {
    return this.#sentinel !== null && !this.#sentinel.released
  }

  /** On stage (true) or not: takes or releases the lock. Cheap when nothing changed. */
  set(wanted: boolean): void {
    if (this.#closed || wanted === this.#wanted) return
    this.#wanted = wanted
    this.#apply()
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#wanted = false
    this.#env.document.removeEventListener('visibilitychange', this.#onVisible)
    this.#release()
  }

  #apply(): void {
    if (!this.#wanted) {
      this.#release()
      return
    }
    const wl = this.#env.wakeLock
    if (!wl || this.held || this.#requesting || this.#env.document.visibilityState !== 'visible') return
    this.#requesting = true
    wl.request('screen').then(
      (sentinel) => {
        this.#requesting = false
        if (!this.#wanted || this.#closed) {
          sentinel.release().catch(() => this.failures++)
          return
        }
        this.#sentinel = sentinel
        // Released by the browser when the page is hidden; taken again when visible.
        sentinel.addEventListener('release', () => {
          if (this.#sentinel === sentinel) this.#sentinel = null
        })
      },
      () => {
        this.#requesting = false
        this.failures++
      },
    )
  }

  #release(): void {
    const s = this.#sentinel
    this.#sentinel = null
    if (s && !s.released) s.release().catch(() => this.failures++)
  }
}

/** The page's wake lock pieces, where it has them. */
export function browserWakeLock(nav: Navigator = navigator, doc: Document = document): WakeLockEnv {
  return { wakeLock: 'wakeLock' in nav ? nav.wakeLock : undefined, document: doc }
}
