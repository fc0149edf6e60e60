/**
 * Reactions: a small set of emoji a person sends with one tap, shown briefly on their tile
 * for everyone. Ephemeral: a reaction rides in presence as `reaction: { emoji, at }` (the
 * sender's clock, used only to tell one reaction from the next), never in the room log.
 *
 * Pure rules, shared by the browser and `stoop peer`:
 * - only emoji of REACTIONS are sent or shown; anything else a peer publishes is dropped
 *   and counted ('unknown'), as is a field of the wrong shape ('malformed');
 * - a sender sends at most one per REACTION_INTERVAL_MS (`ReactionLimiter`), and a
 *   receiver shows at most one per person per REACTION_INTERVAL_MS by its own clock and
 *   at most ROOM_REACTIONS_PER_S in the whole room: a modified client that floods is cut
 *   off at the receiver ('rate'), whatever it sends;
 * - the same `at` seen again (presence is re-sent whenever anything else in it changes)
 *   is the same reaction, not a new one;
 * - a reaction is shown for REACTION_SHOW_MS from when it was received;
 * - the sender takes it out of presence again REACTION_SHOW_MS after sending, unless someone
 *   present has no link to us yet (`unreached`): presence is owner-served over direct links
 *   (src/net/sync.ts), so a link that comes up after the reaction was cleared would never
 *   carry it, while the chat and the names reach that person through everyone else. It is
 *   then kept until every present person's presence has reached us (their link is up, and
 *   ours went out on it at once), at most REACTION_KEEP_MS; such a late receiver shows it
 *   from when it arrives.
 * Presence is not signed: a reaction is attributed like a presence name (see
 * src/app/room-links.ts presenceOf), to a key that is present.
 */

/** The emoji a person can send, with the words a screen reader says for them. */
export const REACTIONS = [
  { emoji: '👏', label: 'applause' },
  { emoji: '😂', label: 'laughing' },
  { emoji: '❤️', label: 'love' },
  { emoji: '🔥', label: 'fire' },
  { emoji: '👍', label: 'thumbs up' },
  { emoji: '🙌', label: 'raised hands' },
  { emoji: '😮', label: 'surprised' },
] as const

export type ReactionEmoji = (typeof REACTIONS)[number]['emoji']

export const REACTION_INTERVAL_MS = 1000
export const REACTION_SHOW_MS = 4000
export const ROOM_REACTIONS_PER_S = 60
/** The longest a sent reaction waits in presence for a person present but not linked to us yet. */
export const REACTION_KEEP_MS = 15_000

/** What a sender puts in presence. */
export interface ReactionField {
  emoji: ReactionEmoji
  at: number
}

const BY_EMOJI: ReadonlyMap<string, string> = new Map(REACTIONS.map((r) => [r.emoji, r.label]))

export function isReaction(emoji: unknown): emoji is ReactionEmoji {
  return typeof emoji === 'string' && BY_EMOJI.has(emoji)
}

/** The words for an emoji of the set ('' for anything else). */
export function reactionLabel(emoji: string): string {
  return BY_EMOJI.get(emoji) ?? ''
}

export type ReactionDrop = 'malformed' | 'unknown' | 'rate'

/** Whether someone `present` (self aside) has not had their presence reach us: no link to them yet. */
export function unreached(selfId: string, present: Iterable<string>, heard: Iterable<string>): boolean {
  const linked = new Set(heard)
  for (const id of present) if (id !== selfId && !linked.has(id)) return true
  return false
}

/** When a reaction sent at `sentAt` leaves the sender's presence, as things stand now (see the module comment). */
export function reactionClearAt(sentAt: number, someoneUnreached: boolean): number {
  return sentAt + (someoneUnreached ? REACTION_KEEP_MS : REACTION_SHOW_MS)
}

/** Reads a presence field: a reaction of the set, nothing (null: no reaction), or why it is dropped. */
export function readReaction(field: unknown): ReactionField | null | ReactionDrop {
  if (field === undefined || field === null) return null
  if (typeof field !== 'object') return 'malformed'
  const { emoji, at } = field as { emoji?: unknown; at?: unknown }
  if (typeof emoji !== 'string' || typeof at !== 'number' || !Number.isFinite(at)) return 'malformed'
  if (!isReaction(emoji)) return 'unknown'
  return { emoji, at }
}

/** At most one per `intervalMs` per key (the sender's own button, or a receiver per person). */
export class ReactionLimiter {
  readonly #last = new Map<string, number>()
  constructor(readonly intervalMs: number = REACTION_INTERVAL_MS) {}

  allow(key: string, now: number): boolean {
    const last = this.#last.get(key)
    if (last !== undefined && now - last < this.intervalMs) return false
    this.#last.set(key, now)
    return true
  }

  forget(key: string): void {
    this.#last.delete(key)
  }
}

/** A reaction being shown: `seq` grows with every accepted reaction, so a repeat is a new one. */
export interface ShownReaction {
  emoji: ReactionEmoji
  seq: number
  until: number
}

/**
 * The receive side: what each person's presence says, turned into the reactions to show
 * now. `receive` is called with every presence state seen (repeats are cheap).
 */
export class ReactionFeed {
  readonly #perPerson = new ReactionLimiter()
  /** The last `at` seen per person, accepted or not (a repeat is not a new reaction). */
  readonly #seen = new Map<string, number>()
  readonly #shown = new Map<string, ShownReaction>()
  #seq = 0
  #window = { start: -Infinity, count: 0 }
  readonly dropped: Record<ReactionDrop, number> = { malformed: 0, unknown: 0, rate: 0 }

  /** Returns the reaction when it is a new one to show. */
  receive(id: string, field: unknown, now: number): ShownReaction | null {
    const r = readReaction(field)
    if (r === null) return null
    if (typeof r === 'string') {
      // Counted once per bad reaction (by its `at`), not on every re-send of the same presence.
      const at = (field as { at?: unknown }).at
      if (typeof at !== 'number' || this.#seen.get(id) !== at) this.dropped[r]++
      if (typeof at === 'number') this.#seen.set(id, at)
      return null
    }
    if (this.#seen.get(id) === r.at) return null
    this.#seen.set(id, r.at)
    if (!this.#roomAllows(now) || !this.#perPerson.allow(id, now)) {
      this.dropped.rate++
      return null
    }
    const shown = { emoji: r.emoji, seq: ++this.#seq, until: now + REACTION_SHOW_MS }
    this.#shown.set(id, shown)
    return shown
  }

  /** Reactions to show at `now`, by person (expired ones are let go). */
  shown(now: number): Map<string, ShownReaction> {
    for (const [id, s] of this.#shown) if (s.until <= now) this.#shown.delete(id)
    return new Map(this.#shown)
  }

  /** When the next shown reaction ends (null: none shown). */
  nextExpiry(): number | null {
    let next: number | null = null
    for (const s of this.#shown.values()) if (next === null || s.until < next) next = s.until
    return next
  }

  /** A person left: their reaction goes, and so does what was remembered of them. */
  forget(id: string): void {
    this.#shown.delete(id)
    this.#seen.delete(id)
    this.#perPerson.forget(id)
  }

  #roomAllows(now: number): boolean {
    if (now - this.#window.start >= 1000) this.#window = { start: now, count: 0 }
    return ++this.#window.count <= ROOM_REACTIONS_PER_S
  }
}
