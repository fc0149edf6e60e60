/**
 * A browser session joining its room (session.ts): once the room exists locally (stored, sent
 * by a member, or seeded from the link's genesis), the link's pass is redeemed and this
 * device's name is signed into the room, once. `ready()` waits for a room this device knows
 * nothing of to arrive (arrival.ts) and resolves once joined.
 *
 * Invariants: joins run one after another, never twice once joined, and not after the session
 * was left. A join that fails (banned, ended, a pass that cannot be redeemed) leaves the person
 * a listener and is counted, not thrown.
 */
import type { RoomClient } from '../participant/room-client.ts'
import { awaitArrival, type ArrivalOptions } from './arrival.ts'

export interface SessionJoinOptions {
  client: RoomClient
  /** How long `ready()` waits for an unknown room to arrive, and why it gave up. */
  arrival: ArrivalOptions
  /** The name to sign into the room's profile (read when joining). */
  name: () => string
  /** The session was left: nothing more to join. */
  left: () => boolean
  count: (what: string) => void
}

export class SessionJoin {
  readonly #o: SessionJoinOptions
  #joining: Promise<void> = Promise.resolve()
  #joined = false

  constructor(opts: SessionJoinOptions) {
    this.#o = opts
  }

  get joined(): boolean {
    return this.#joined
  }

  /** Resolves once the room exists locally and this device has claimed what its link grants. */
  async ready(): Promise<void> {
    await this.join()
    if (!this.#o.client.state.exists) await awaitArrival(this.#o.client, this.#o.arrival)
    await this.join()
  }

  /** Seeds the doc from the link and redeems its pass, once the room exists (serialised). */
  join(): Promise<void> {
    this.#joining = this.#joining.then(async () => {
      const { client, count } = this.#o
      if (this.#joined || this.#o.left()) return
      try {
        // RoomClient.join() reads `exists` without waiting for verification: let the stored log settle first.
        await client.replica.whenSettled()
        await client.join()
      } catch (err) {
        // Banned or ended rooms show as such; a pass that cannot be redeemed leaves us a listener.
        count(`join:${(err as { code?: string }).code ?? 'error'}`)
      }
      const state = client.state
      if (!state.exists) return
      this.#joined = true
      const name = this.#o.name()
      const mine = state.profiles.get(client.selfId)
      if (name && mine?.name !== name && !state.ended && !state.banned.has(client.selfId)) {
        await client.actor.setProfile({ name }).catch(() => count('profile-write'))
      }
    })
    return this.#joining
  }
}
