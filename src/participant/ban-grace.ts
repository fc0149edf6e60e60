/**
 * The ban's grace (RoomClient): a peer that becomes banned leaves the plan at once (no audio
 * either way), but its connection is kept for BAN_GRACE_MS so the ban itself still reaches it
 * over sync: dropped at once, the update could die in flight, and in a room of two nobody else
 * would ever tell it. A participant that is banned itself keeps nobody in grace.
 *
 * Invariants: one timer per peer in grace; a lifted ban ends the grace and forgets that it was
 * over; `destroy()` clears every timer.
 */
import type { Timers } from '../base/timers.ts'
import type { RoomState } from '../room/index.ts'

/** How long a newly banned peer's connection is kept so the ban reaches it. */
export const BAN_GRACE_MS = 2_000

export class BanGrace {
  /** Newly banned peers still connected, so the ban reaches them: id -> its drop timer. */
  readonly #grace = new Map<string, unknown>()
  /** Banned peers whose grace is over (reset if the ban is lifted). */
  readonly #over = new Set<string>()

  constructor(
    private readonly timers: Timers,
    /** A grace ended: re-plan without that peer. */
    private readonly onOver: () => void,
  ) {}

  /** Banned peers still kept connected. */
  get peers(): string[] {
    return [...this.#grace.keys()]
  }

  /** Starts the grace of peers banned while connected; ends it for those no longer banned. */
  update(state: RoomState, selfId: string, connected: readonly string[]): void {
    for (const [id, timer] of this.#grace) {
      if (state.banned.has(id)) continue
      this.timers.clearTimeout(timer)
      this.#grace.delete(id)
    }
    for (const id of this.#over) if (!state.banned.has(id)) this.#over.delete(id)
    if (state.banned.has(selfId)) return
    for (const id of connected) {
      if (!state.banned.has(id) || this.#grace.has(id) || this.#over.has(id)) continue
      const timer = this.timers.setTimeout(() => {
        this.#grace.delete(id)
        this.#over.add(id)
        this.onOver()
      }, BAN_GRACE_MS)
      this.#grace.set(id, timer)
    }
  }

  destroy(): void {
    for (const t of this.#grace.values()) this.timers.clearTimeout(t)
    this.#grace.clear()
  }
}
