/**
 * Drift-free frame pacing, as pure arithmetic: how many frames are due at time `now` given
 * when the stream started, and when the next one is due. The caller owns the timer.
 *
 * Frame k is due at `start + k * frameMs`; due counts are computed from the start time, never by
 * adding up timer intervals, so late timer wake-ups cause a short catch-up burst, not a slowly
 * growing lag. After a long stall (process paused, busy cores) sending the whole backlog would
 * flood the receiver's jitter buffer, so at most `maxBurst` frames are sent and the rest are
 * skipped (reported so the caller can keep generators phase-continuous).
 */

export interface PacePlan {
  /** Frames to send now. */
  send: number
  /** Frames that are too late to be worth sending: drop (but advance generators past them). */
  skip: number
  /** Absolute time at which the next frame is due. */
  nextDueMs: number
}

export function planFrames(startMs: number, nowMs: number, frameMs: number, framesDone: number, maxBurst = 10): PacePlan {
  const due = Math.floor((nowMs - startMs) / frameMs) + 1 // frame 0 is due at start
  const behind = Math.max(0, due - framesDone)
  const send = Math.min(behind, maxBurst)
  const skip = behind - send
  return { send, skip, nextDueMs: startMs + (framesDone + behind) * frameMs }
}
