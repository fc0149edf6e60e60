/**
 * RelayLink: the room's Yjs sync over a relay socket's binary frames (a {@link Link}),
 * kept apart from relay-socket.ts, which owns the socket and hands this link its frames.
 * It notes when this side's sync step 2 has gone out (`pushed`, `whenPushed`), so a
 * publish request can be ordered after this client's room log has reached the relay.
 */
import { BaseLink } from './link.ts'
import { MAX_RELAY_SYNC_BYTES } from './relay-protocol.ts'
import { MSG_SYNC_STEP1, MSG_SYNC_STEP2 } from './sync-protocol.ts'

/** Room sync over the relay socket's binary frames. */
export class RelayLink extends BaseLink {
  /** Frames dropped (socket not open, over the cap). */
  dropped = 0
  #pushedResolve!: () => void
  #startedSync = false
  #pushed = false
  /** Resolves when a sync step 2 (this side's log) has gone out. */
  readonly whenPushed = new Promise<void>((ok) => (this.#pushedResolve = ok))

  constructor(
    private readonly out: (data: Uint8Array) => boolean,
    private readonly onTeardown: () => void,
  ) {
    super()
  }

  /** This side sent a sync step 1 (someone attached sync to the link). */
  get startedSync(): boolean {
    return this.#startedSync
  }

  get pushed(): boolean {
    return this.#pushed
  }

  protected _send(data: Uint8Array): void {
    if (data.byteLength > MAX_RELAY_SYNC_BYTES || !this.out(data)) {
      this.dropped++
      return
    }
    if (data[0] === MSG_SYNC_STEP1) this.#startedSync = true
    if (data[0] === MSG_SYNC_STEP2 && !this.#pushed) {
      this.#pushed = true
      this.#pushedResolve()
    }
  }

  receive(data: Uint8Array): void {
    this._receive(data)
  }

  protected _teardown(): void {
    this.onTeardown()
  }
}
