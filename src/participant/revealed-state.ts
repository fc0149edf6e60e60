/**
 * The room state as a member reads it (docs/room-rules.md §9): the replica's
 * state, whose free text stays sealed, with its title, topic and names opened
 * with the epoch secrets this member holds. Revealed once per replica state
 * (texts opened before are cached by their sealed bytes), and again when a
 * secret arrives.
 */
import { diffStates, type RoomDiff, type RoomReplica, type RoomState } from '../room/index.ts'
import { revealText, type RevealCache, type SecretOf } from '../room/reveal.ts'

export class RevealedState {
  readonly #replica: RoomReplica
  readonly #secrets: SecretOf
  readonly #opened: RevealCache = new WeakMap()
  #last: { from: RoomState; state: RoomState } | null = null

  constructor(replica: RoomReplica, secrets: SecretOf) {
    this.#replica = replica
    this.#secrets = secrets
  }

  get state(): RoomState {
    const from = this.#replica.state
    if (this.#last?.from !== from) this.#last = { from, state: revealText(from, this.#secrets, this.#opened) }
    return this.#last.state
  }

  /** A secret arrived: reveal again; what changed (text that opened now), or null when nothing did. */
  refresh(): { state: RoomState; diff: RoomDiff } | null {
    const prev = this.state
    this.#last = null
    const state = this.state
    const diff = diffStates(prev, state)
    for (const [k, p] of state.profiles) if (prev.profiles.get(k)?.name !== p.name && !diff.profiles.includes(k)) diff.profiles.push(k)
    return diff.meta || diff.profiles.length > 0 ? { state, diff } : null
  }
}
