/**
 * Reactions in a browser session: sending one (rate-limited, published in presence and
 * cleared again once it has been shown) and the reactions to show on people's tiles,
 * read from everyone's presence through the rules of src/participant/reactions.ts.
 * Calls `onchange` whenever what is shown changes, including when a reaction's time is up.
 */
import type { PresentPeer, Presence } from '../participant/presence.ts'
import { isReaction, REACTION_SHOW_MS, ReactionFeed, ReactionLimiter, type ShownReaction } from '../participant/reactions.ts'

export interface ReactionsOptions {
  selfId: string
  /** Everyone else's opened presence (RoomClient.presence.peers). */
  peers: () => Iterable<PresentPeer>
  /** Keys present now: a reaction counts only from a key that is here. */
  present: () => ReadonlySet<string>
  publish: (p: Presence) => void
  onchange: () => void
  now?: () => number
}

export class SessionReactions {
  readonly #o: ReactionsOptions
  readonly #now: () => number
  readonly feed = new ReactionFeed()
  readonly #limiter = new ReactionLimiter()
  #expiry: ReturnType<typeof setTimeout> | null = null
  #clear: ReturnType<typeof setTimeout> | null = null
  #closed = false

  constructor(opts: ReactionsOptions) {
    this.#o = opts
    this.#now = opts.now ?? Date.now
  }

  /** Sends `emoji`; false when it is not one of the set or comes within a second of the last. */
  send(emoji: string): boolean {
    if (this.#closed || !isReaction(emoji)) return false
    const now = this.#now()
    if (!this.#limiter.allow('self', now)) return false
    const field = { emoji, at: now }
    this.#o.publish({ reaction: field })
    this.feed.receive(this.#o.selfId, field, now)
    // Cleared once shown, so presence re-sent later (and a late joiner) does not carry it.
    if (this.#clear !== null) clearTimeout(this.#clear)
    this.#clear = setTimeout(() => {
      this.#clear = null
      this.#o.publish({ reaction: null })
    }, REACTION_SHOW_MS)
    this.#changed()
    return true
  }

  /** Reads everyone's presence again (call when it changed). */
  refresh(): void {
    if (this.#closed) return
    const now = this.#now()
    const present = this.#o.present()
    let changed = false
    for (const { key, presence } of this.#o.peers()) {
      if (key === this.#o.selfId || !present.has(key)) continue
      if (this.feed.receive(key, presence.reaction, now)) changed = true
    }
    if (changed) this.#changed()
  }

  /** Reactions to show now, by person. */
  shown(): Map<string, ShownReaction> {
    return this.feed.shown(this.#now())
  }

  close(): void {
    this.#closed = true
    if (this.#expiry !== null) clearTimeout(this.#expiry)
    if (this.#clear !== null) clearTimeout(this.#clear)
  }

  /** Something new is shown: tell the session, and again when the next one is over. */
  #changed(): void {
    this.#o.onchange()
    this.#schedule()
  }

  #schedule(): void {
    if (this.#expiry !== null) clearTimeout(this.#expiry)
    this.#expiry = null
    const next = this.feed.nextExpiry()
    if (next === null || this.#closed) return
    this.#expiry = setTimeout(() => {
      this.#expiry = null
      this.feed.shown(this.#now())
      this.#o.onchange()
      this.#schedule()
    }, Math.max(0, next - this.#now()) + 10)
  }
}
