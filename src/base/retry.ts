/**
 * The one retry policy: exponential backoff with a cap and optional jitter
 * (like hyperswarm's RetryTimer or LiveKit's ReconnectPolicy). Each user picks
 * its parameters: signalling reconnects with jitter (every client of a server
 * that restarts comes back at once), mesh and ICE restarts without (a pair
 * retries together on purpose).
 */
export interface RetryPolicy {
  /** Delay before the first retry. */
  initialMs: number
  maxMs: number
  factor: number
  /** 0..1: the share of each delay that is randomised away (0.5: between 50% and 100%). */
  jitter: number
}

/** Delay before the retry that follows `failures` failed attempts (0: the first retry). Pure. */
export function retryDelay(policy: RetryPolicy, failures: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.factor, Math.max(0, failures)))
  return Math.round(base * (1 - policy.jitter * random()))
}

/** A policy as the `(attempt) => ms` function options take (attempt 1 is the first retry). */
export function backoff(policy: RetryPolicy, random?: () => number): (attempt: number) => number {
  return (attempt) => retryDelay(policy, attempt - 1, random)
}
