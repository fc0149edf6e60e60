/**
 * JoinMode: what a joiner knows of the room's mode before its own view of who is
 * present is complete, so it joins straight into that mode (docs/relay.md, "Joining
 * a room on its relay").
 *
 * With a relay, the joiner asks it first (RelayPath.ask): while the question is
 * open (ASK_RELAY_MS at most) `roomMode` is 'asking' and the topology plans no mesh,
 * since a mesh built now would be torn down by a yes. A yes makes it 'relay' for
 * ROOM_MODE_HOLD_MS: the joiner plans the relay even while the presence it has heard
 * of so far is below mesh size (hellos arrive one by one, and a room on its relay
 * stays there down to `meshSize - hysteresis`); after that its own view decides, with
 * the hysteresis of a member already on the relay. A no, no answer in time, or a
 * relay that cannot be reached: nothing is known (null) and the presence decides.
 *
 * Invariants: `onChange` is called on every change of `roomMode`, never after
 * `destroy()`; both timers are cleared by `destroy()`, which is idempotent.
 */
import type { Timers } from '../base/timers.ts'
import type { RelayPath } from './relay-path.ts'

/** How long a joiner waits for its relay's answer before it plans a mesh anyway. */
export const ASK_RELAY_MS = 1000
/** How long the relay's "the room is on me" outweighs a joiner's partial view of who is present. */
export const ROOM_MODE_HOLD_MS = 3000

export type RoomModeHint = 'asking' | 'relay' | null

export class JoinMode {
  #mode: RoomModeHint = null
  #timer: unknown = null
  #off: (() => void) | null = null
  #destroyed = false

  constructor(
    relay: Pick<RelayPath, 'available' | 'ask' | 'on'> | null,
    private readonly timers: Timers,
    private readonly onChange: () => void,
  ) {
    if (!relay?.available) return
    this.#off = relay.on('answer', (yes) => this.#answer(yes))
    this.#mode = 'asking'
    this.#timer = timers.setTimeout(() => this.#set(null), ASK_RELAY_MS)
    relay.ask()
  }

  get roomMode(): RoomModeHint {
    return this.#mode
  }

  /** A late yes still counts: a joiner planning a mesh nobody answers (the room is on its relay) learns why. */
  #answer(yes: boolean): void {
    if (yes) this.#set('relay', ROOM_MODE_HOLD_MS)
    else if (this.#mode === 'asking') this.#set(null)
  }

  /** Changes the mode (for `holdMs`, then back to null) and tells the owner. */
  #set(mode: RoomModeHint, holdMs?: number): void {
    if (this.#destroyed) return
    this.timers.clearTimeout(this.#timer)
    this.#timer = holdMs === undefined ? null : this.timers.setTimeout(() => this.#set(null), holdMs)
    const changed = mode !== this.#mode
    this.#mode = mode
    if (changed) this.onChange()
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.timers.clearTimeout(this.#timer)
    this.#off?.()
  }
}
