/**
 * One open room as the screens see it: the session's snapshots as a reactive
 * `.current`, live-region announcements from snapshot diffs, the outcome of
 * the last action, and per-person volumes (kept locally; the session only
 * takes them).
 */
import type { RoomSession, RoomSnapshot } from '../../app/types.ts'
import { announcements, newReactions, reactionSentence } from './announce.ts'
import { Cell, type Readable } from './cell.ts'

export interface Announcement {
  /** Increments so repeating the same text still re-announces. */
  seq: number
  text: string
}

/** Reactions are announced at most this often. */
export const REACTION_SAY_MS = 2000

export class RoomView {
  readonly session: RoomSession
  readonly #snapshot: Cell<RoomSnapshot>
  readonly #announcement = new Cell<Announcement>({ seq: 0, text: '' })
  readonly #error = new Cell<string | undefined>(undefined)
  readonly #busy = new Cell<ReadonlySet<string>>(new Set())
  readonly #volumes = new Map<string, number>()
  /** Reactions waiting to be announced: at most one sentence per REACTION_SAY_MS, politely. */
  #reactions: string[] = []
  #reactionTimer: ReturnType<typeof setTimeout> | null = null
  #reactionSaidAt = -Infinity
  #unsubscribe: () => void

  constructor(session: RoomSession) {
    this.session = session
    this.#snapshot = new Cell(session.snapshot)
    this.#say(announcements(undefined, session.snapshot))
    // Subscribed eagerly (not on first render) so no diff is missed.
    this.#unsubscribe = session.subscribe(() => {
      const next = session.snapshot
      const prev = this.#snapshot.peek()
      this.#say(announcements(prev, next))
      this.#queueReactions(newReactions(prev, next))
      this.#snapshot.set(next)
    })
  }

  get snapshot(): RoomSnapshot {
    return this.#snapshot.current
  }

  get announcement(): Readable<Announcement> {
    return this.#announcement
  }

  /** Message of the last failed action, until dismissed or the next success. */
  get error(): string | undefined {
    return this.#error.current
  }

  isBusy(action: string): boolean {
    return this.#busy.current.has(action)
  }

  dismissError(): void {
    this.#error.set(undefined)
  }

  volume(personId: string): number {
    return this.#volumes.get(personId) ?? 1
  }

  setVolume(personId: string, volume: number): void {
    const v = Math.min(1, Math.max(0, volume))
    this.#volumes.set(personId, v)
    this.session.setVolume(personId, v)
  }

  /**
   * Runs a session call under a name; failures become `error` instead of
   * unhandled rejections. Returns whether it succeeded.
   */
  async run(action: string, call: (s: RoomSession) => Promise<void>): Promise<boolean> {
    if (this.#busy.peek().has(action)) return false
    this.#busy.set(new Set([...this.#busy.peek(), action]))
    try {
      await call(this.session)
      this.#error.set(undefined)
      return true
    } catch (err) {
      this.#error.set(`Could not ${action}: ${err instanceof Error ? err.message : String(err)}`)
      return false
    } finally {
      const next = new Set(this.#busy.peek())
      next.delete(action)
      this.#busy.set(next)
    }
  }

  #say(texts: string[]): void {
    if (texts.length === 0) return
    this.#announcement.set({ seq: this.#announcement.peek().seq + 1, text: texts.join('. ') })
  }

  /** A room full of reactions would drown a screen reader: they are gathered and said together. */
  #queueReactions(items: string[]): void {
    if (items.length === 0) return
    this.#reactions.push(...items)
    if (this.#reactionTimer !== null) return
    const wait = Math.max(0, this.#reactionSaidAt + REACTION_SAY_MS - Date.now())
    this.#reactionTimer = setTimeout(() => {
      this.#reactionTimer = null
      this.#reactionSaidAt = Date.now()
      this.#say([reactionSentence(this.#reactions.splice(0))])
    }, wait)
  }

  /** Stops listening to the session (does not leave the room). */
  destroy(): void {
    this.#unsubscribe()
    this.#unsubscribe = () => {}
    if (this.#reactionTimer !== null) clearTimeout(this.#reactionTimer)
    this.#reactionTimer = null
  }
}
