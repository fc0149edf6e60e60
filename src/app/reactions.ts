/**
 * Reactions in a browser session: sending one (rate-limited, published in presence and
 * cleared again once it has been shown, or once it could reach everyone present:
 * reactionClearAt) and the reactions to show on people's tiles,
 * read from everyone's presence through the rules of src/participant/reactions.ts.
 * Calls `onchange` whenever what is shown changes, including when a reaction's time is up.
 */
import type { PresentPeer, Presence } from '../participant/presence.ts'
import { isReaction, reactionClearAt, ReactionFeed, ReactionLimiter, unreached, type ShownReaction } from '../participant/reactions.ts'

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
  /** The reaction we have out in presence: when it was sent, and when it is to be cleared. */
  #out: { sentAt: number; clearAt: number } | null = null
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
    this.#out = { sentAt: now, clearAt: -1 }
    this.#scheduleClear()
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
    // Someone's presence reaching us means their link is up: ours (with the reaction) went out on it.
    this.#scheduleClear()
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

  /**
   * Clears our reaction once shown, so presence re-sent later (and a late joiner) does not carry
   * it; later while someone present has no link to us yet (reactionClearAt).
   */
  #scheduleClear(): void {
    if (this.#out === null) return
    const heard = [...this.#o.peers()].map((p) => p.key)
    const clearAt = reactionClearAt(this.#out.sentAt, unreached(this.#o.selfId, this.#o.present(), heard))
    if (clearAt === this.#out.clearAt) return
    this.#out.clearAt = clearAt
    if (this.#clear !== null) clearTimeout(this.#clear)
    this.#clear = setTimeout(() => {
      this.#clear = null
      this.#out = null
      this.#o.publish({ reaction: null })
    }, Math.max(0, clearAt - this.#now()))
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
