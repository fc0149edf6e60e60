/**
 * The room doc's star sync with each connection of a relay room (src/net/sync.ts over the
 * connection's link, through the SyncGuard, awareness forwarded as a hub), and what a
 * connection admitted without proof is held back from (docs/relay.md, "Membership before the
 * first epoch"): an empty relay room admits anyone, having no epoch to check against, so
 * until such a connection proves membership it may send updates (gated and stored as usual:
 * that is how the relay learns the log) but receives nothing of the room: no step 2, update or
 * presence (sync-guard.ts), no list of publishers, and its subscription waits (no media
 * offers). `serve` then gives it the normal sync and subscribes it.
 *
 * Invariants: at most one attachment and one waiting subscription per peer; `detach` and
 * `destroy` leave neither behind.
 */
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import { attachSync, encodeAwareness, type SyncAttachment, type SyncStats, type UpdateGate } from '../../src/net/sync.ts'
import type { Link } from '../../src/net/link.ts'
import type { RefuseReason, RelayMessage } from '../../src/net/relay-protocol.ts'
import type { GuardedPeer, SyncGuard } from './sync-guard.ts'

/** A connection as its sync sees it (room.ts's RoomPeer is one; not imported from there, which imports this). */
export interface SyncPeer extends GuardedPeer {
  send(msg: RelayMessage): void
}

/** What a subscription came to (room.ts's Verdict). */
export type SubscribeVerdict = { ok: true } | { ok: false; reason: RefuseReason; message: string }

export interface RoomSyncsOptions {
  doc: Y.Doc
  awareness: Awareness
  guard: SyncGuard
  stats: SyncStats
  acceptUpdate: UpdateGate
  /** Who the room forwards now (a held peer was not told). */
  publishers: () => string[]
}

export class RoomSyncs<P extends SyncPeer> {
  readonly #o: RoomSyncsOptions
  readonly #syncs = new Map<P, SyncAttachment>()
  /** Held peers that asked to subscribe (live: false, standby: true), subscribed by `serve`. */
  readonly #subscribing = new Map<P, boolean>()

  constructor(opts: RoomSyncsOptions) {
    this.#o = opts
  }

  /** Starts (or restarts) the sync with `peer` over `link`; `held`: it proved nothing yet. */
  attach(peer: P, link: Link, held: boolean): void {
    this.#syncs.get(peer)?.()
    const { doc, awareness, guard, stats, acceptUpdate } = this.#o
    this.#syncs.set(peer, attachSync(doc, awareness, guard.wrap(peer, link, held), { origin: link, forwardAwareness: true, stats, acceptUpdate }))
  }

  /** Stops the sync with `peer` (and forgets a subscription it was waiting for). */
  detach(peer: P): void {
    this.#syncs.get(peer)?.()
    this.#syncs.delete(peer)
    this.#subscribing.delete(peer)
    this.#o.guard.release(peer)
  }

  /** A held peer's subscription: kept until it proved membership. */
  subscribeLater(peer: P, standby: boolean): SubscribeVerdict {
    this.#subscribing.set(peer, standby)
    return { ok: true }
  }

  unsubscribe(peer: P): void {
    this.#subscribing.delete(peer)
  }

  /**
   * `peer` proved membership: its sync is answered, with every presence known, it is told who
   * the room forwards, and the subscription it asked for is made (it was told `subscribed`: a
   * refusal now is sent as one).
   */
  serve(peer: P, subscribe: (peer: P, standby: boolean) => SubscribeVerdict): void {
    const { awareness, guard } = this.#o
    const ids = [...awareness.getStates().keys()]
    guard.serve(peer, ids.length > 0 ? encodeAwareness(awareness, ids) : null)
    peer.send({ type: 'publishers', ids: this.#o.publishers() })
    const standby = this.#subscribing.get(peer)
    this.#subscribing.delete(peer)
    const r = standby === undefined ? null : subscribe(peer, standby)
    if (r && !r.ok) peer.send({ type: 'refused', op: 'subscribe', reason: r.reason, message: r.message })
  }

  destroy(): void {
    for (const detach of this.#syncs.values()) detach()
    this.#syncs.clear()
    this.#subscribing.clear()
  }
}
