/**
 * Connection-loss policy for one peer connection: a small state machine over connectionState
 * changes, with timers passed in.
 *
 * - 'failed': restart ICE now.
 * - 'disconnected': restart only if it is not 'connected' again within the grace period
 *   (brief Wi-Fi hiccups recover on their own and a restart would only add signalling).
 * - After restart attempt n, wait `backoff(n)` for 'connected' before attempt n + 1.
 * - After `maxRestarts` attempts without recovery: give up (once).
 * - 'connected' cancels everything pending and resets the attempt count.
 * The policy decides *when*; the caller's hooks do the work (offer with iceRestart, destroy).
 */

import type { Timers } from '../base/timers.ts'
import { backoff } from '../base/retry.ts'

export interface ReconnectOptions {
  timers: Timers
  graceMs: number
  maxRestarts: number
  /** Wait after restart attempt `n` (1-based) before the next one. */
  backoff: (attempt: number) => number
}

export interface ReconnectHooks {
  restart(attempt: number): void
  recovered(): void
  giveUp(): void
}

/** 1 s, 2 s, 4 s, 8 s, then 16 s per attempt. */
export const defaultBackoff = backoff({ initialMs: 1000, maxMs: 16_000, factor: 2, jitter: 0 })

export class ReconnectPolicy {
  #opts: ReconnectOptions
  #hooks: ReconnectHooks
  #attempt = 0
  #graceTimer: unknown = null
  #retryTimer: unknown = null
  #state: RTCPeerConnectionState | null = null
  #done = false

  constructor(opts: ReconnectOptions, hooks: ReconnectHooks) {
    this.#opts = opts
    this.#hooks = hooks
  }

  /** Restart attempts since the last 'connected'. */
  get attempt(): number {
    return this.#attempt
  }

  /** Feeds the current connectionState; repeated states are ignored. */
  update(state: RTCPeerConnectionState): void {
    if (this.#done || state === this.#state) return
    this.#state = state
    if (state === 'connected') {
      this.#clear()
      if (this.#attempt > 0) {
        this.#attempt = 0
        this.#hooks.recovered()
      }
    } else if (state === 'disconnected') {
      if (this.#graceTimer === null && this.#retryTimer === null) {
        this.#graceTimer = this.#opts.timers.setTimeout(() => {
          this.#graceTimer = null
          if (this.#state !== 'connected') this.#next()
        }, this.#opts.graceMs)
      }
    } else if (state === 'failed') {
      if (this.#graceTimer !== null) this.#opts.timers.clearTimeout(this.#graceTimer)
      this.#graceTimer = null
      if (this.#retryTimer === null) this.#next()
    }
  }

  /** Stops for good and clears every timer. Idempotent. */
  dispose(): void {
    this.#done = true
    this.#clear()
  }

  #next(): void {
    if (this.#done) return
    if (this.#attempt >= this.#opts.maxRestarts) {
      this.dispose()
      this.#hooks.giveUp()
      return
    }
    const attempt = ++this.#attempt
    this.#hooks.restart(attempt)
    if (this.#done) return // a hook may have ended us
    this.#retryTimer = this.#opts.timers.setTimeout(() => {
      this.#retryTimer = null
      if (this.#state !== 'connected') this.#next()
    }, this.#opts.backoff(attempt))
  }

  #clear(): void {
    for (const t of [this.#graceTimer, this.#retryTimer]) if (t !== null) this.#opts.timers.clearTimeout(t)
    this.#graceTimer = this.#retryTimer = null
  }
}
