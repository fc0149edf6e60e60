/**
 * What a RelayPath (relay-path.ts) has the relay forward from us: the local track while this
 * participant is a speaker, else nothing. Requests go one at a time, in order, each against
 * the connection in use when its turn comes. A refused publish (the relay's copy of the log
 * does not show us on stage yet) or a relay gone meanwhile is not retried here: the path's
 * next state change or plan asks again.
 */
import type { RelayPathClient } from './relay-standby.ts'

export type Local = { track: MediaStreamTrack; stream: MediaStream }

export class RelayPublishing {
  #sending: Local | null = null
  #want: Local | null = null
  #queue: Promise<void> = Promise.resolve()

  constructor(
    /** The connection to publish on now: null while the path is not ready. */
    private readonly current: () => RelayPathClient | null,
    /** Told when what the relay forwards from us changed. */
    private readonly onSending: (sending: boolean) => void,
  ) {}

  /** Whether the relay accepted our local track and forwards it. */
  get sending(): boolean {
    return this.#sending !== null
  }

  /** What to publish while ready: the local track when speaking, else null. */
  want(local: Local | null): void {
    this.#want = local
    this.update()
  }

  /** Publishes or unpublishes, in turn, so the relay forwards what is wanted. */
  update(): void {
    this.#queue = this.#queue.then(async () => {
      const client = this.current()
      if (!client || this.#sending === this.#want) return
      if (this.#sending) {
        client.unpublish()
        this.#sending = null
        this.onSending(false)
      }
      if (!this.#want) return
      const want = this.#want
      try {
        await client.publish(want.track, want.stream)
        this.#sending = want
        this.onSending(true)
      } catch {
        // Refused or gone: see the module comment.
      }
    })
  }

  /** The relay stopped forwarding us (it said `unpublished`). */
  unpublished(): void {
    this.#sending = null
    this.onSending(false)
  }

  /** The connection is closed: nothing is forwarded any more (not reported: the path's state says it). */
  closed(): void {
    this.#sending = null
  }
}
