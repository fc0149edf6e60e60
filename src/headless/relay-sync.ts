/**
 * The room log synced with a relay and nothing else: one relay socket
 * (hello, signed challenge, welcome) carrying the Yjs sync, no media, no
 * presence. A scripted member (`stoop mod`) uses it so the relay serving the
 * room holds its moderation entries at once (the relay enforces bans from the
 * log it holds) and so it can read the log when no member is online.
 *
 * Failures are not fatal: a relay that cannot be reached or refuses us leaves
 * `failure` set and the room is reached over the mesh alone.
 */
import WebSocket from 'ws'
import type * as Y from 'yjs'
import type { Identity } from '../identity/index.ts'
import { checkRemoteUpdate, deriveDiscoveryKey } from '../room/index.ts'
import { RelaySocket, type RelayError, type RelayWebSocketClass } from '../net/relay-socket.ts'
import { attachSync } from '../net/sync.ts'

export interface RelaySyncOptions {
  url: string
  roomId: string
  doc: Y.Doc
  identity: Identity
  /** Default: `ws`. */
  WebSocket?: RelayWebSocketClass
}

export class RelaySync {
  #socket: RelaySocket
  #synced = false
  #failure: RelayError | null = null

  constructor(opts: RelaySyncOptions) {
    const socket = (this.#socket = new RelaySocket({ WebSocket: opts.WebSocket ?? (WebSocket as unknown as RelayWebSocketClass) }))
    socket.on('close', (err) => (this.#failure ??= err))
    socket.connect(opts.url, deriveDiscoveryKey(opts.roomId), opts.identity).then(
      () => {
        attachSync(opts.doc, null, socket.link, { acceptUpdate: (u) => checkRemoteUpdate(u).ok, onSynced: () => (this.#synced = true) })
      },
      (err: RelayError) => (this.#failure ??= err),
    )
  }

  /** The relay's log has been applied (its sync step 2 arrived). */
  get synced(): boolean {
    return this.#synced && this.open
  }

  /** Connected and welcomed, not closed since. */
  get open(): boolean {
    return this.#failure === null && !this.#socket.destroyed
  }

  /** Why the relay is not used (unreachable, refused, closed), once it is not. */
  get failure(): RelayError | null {
    return this.#failure
  }

  /** Nothing of ours is left unsent on the socket: the relay has what we wrote (TCP delivers it in order). */
  get drained(): boolean {
    return this.#socket.bufferedAmount === 0
  }

  close(): void {
    this.#socket.destroy()
  }
}
