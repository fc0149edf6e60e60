/**
 * The room log synced with a relay and nothing else: one relay socket
 * (hello, signed challenge, welcome) carrying the Yjs sync, no media, no
 * presence. A scripted member (`stoop mod`) uses it so the relay serving the
 * room holds its moderation entries at once (the relay enforces bans from the
 * log it holds) and so it can read the log when no member is online.
 *
 * Failures are not fatal: a relay that cannot be reached or refuses us leaves
 * `failure` set and the room is reached over the mesh alone.
 *
 * Membership (docs/room-rules.md §8): it proves the epoch `keeper` holds; a relay
 * in a newer epoch answers with the handoff, and once the keeper opens its box
 * there the socket is opened again with the new proof.
 */
import WebSocket from 'ws'
import type * as Y from 'yjs'
import { fromBase64url, type Identity } from '../identity/index.ts'
import type { EpochKeeper } from '../participant/epoch-keeper.ts'
import { deriveDiscoveryKey } from '../room/index.ts'
import { UpdateVerifier } from '../room/verify-update.ts'
import { RelaySocket, type RelayError, type RelayWebSocketClass } from '../net/relay-socket.ts'
import { attachSync } from '../net/sync.ts'

export interface RelaySyncOptions {
  url: string
  roomId: string
  doc: Y.Doc
  identity: Identity
  /** Default: `ws`. */
  WebSocket?: RelayWebSocketClass
  keeper?: EpochKeeper
}

export class RelaySync {
  #socket: RelaySocket
  #synced = false
  #failure: RelayError | null = null

  readonly #offEpoch: () => void
  readonly #opts: RelaySyncOptions
  /** The epoch the current socket proved. */
  #proved: string | null = null
  #closed = false

  constructor(opts: RelaySyncOptions) {
    this.#opts = opts
    this.#socket = this.#connect(opts)
    this.#offEpoch = opts.keeper?.on('epoch', () => this.#retry()) ?? (() => undefined)
  }

  /** Refused for an older epoch and the keeper has moved on since (either may come first): again. */
  #retry(): void {
    const keeper = this.#opts.keeper
    if (this.#closed || !keeper || this.#failure?.reason !== 'epoch-replaced' || keeper.current.id === this.#proved) return
    this.#failure = null
    this.#synced = false
    this.#socket = this.#connect(this.#opts)
  }

  #connect(opts: RelaySyncOptions): RelaySocket {
    const socket = new RelaySocket({ WebSocket: opts.WebSocket ?? (WebSocket as unknown as RelayWebSocketClass) })
    const keeper = opts.keeper
    this.#proved = keeper?.current.id ?? null
    const failed = (err: RelayError | null): void => {
      if (socket !== this.#socket) return
      this.#failure ??= err
      this.#retry()
    }
    socket.on('close', failed)
    if (keeper) {
      socket.on('message', (msg) => {
        if (msg.type === 'handoff') void keeper.handoff(msg.entries.map(fromBase64url).filter((b) => b !== null))
      })
    }
    socket.connect(opts.url, deriveDiscoveryKey(opts.roomId), opts.identity, { syncOnly: true, ...(keeper ? { member: () => keeper.current.member } : {}) }).then(
      () => {
        // Entries are verified before they are stored (the relay is not trusted).
        const verifier = new UpdateVerifier({ doc: opts.doc, roomId: opts.roomId, refuseNothingNew: false })
        socket.on('close', () => verifier.destroy())
        attachSync(opts.doc, null, socket.link, { acceptUpdate: async (u) => (await verifier.verify(u)).ok, onSynced: () => (this.#synced = true) })
      },
      (err: RelayError) => failed(err),
    )
    return socket
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
    this.#closed = true
    this.#offEpoch()
    this.#socket.destroy()
  }
}
