/**
 * The room's chat as this member reads it, for the snapshot: each message opened with the
 * epoch secrets this device holds (chat-text.ts), its author's name, and whether this
 * person may hide it. The text stays plain text; the UI renders it as text only.
 *
 * Snapshots are rebuilt many times a second (speaking levels); when no line changed, the
 * same array is handed out again, so a 1,000-message chat costs the UI nothing then.
 */
import { revealChat, type RoomState } from '../room/index.ts'
import type { RevealCache, SecretOf } from '../room/reveal.ts'
import type { ChatLine } from './types.ts'

/** Whether `self` may hide a message by `author` (docs/room-rules.md §10 hide). */
export function mayHide(state: RoomState, self: string, author: string): boolean {
  if (state.ended || state.banned.has(self)) return false
  if (self === state.owner) return true
  if (!state.moderators.has(self)) return false
  return author === self || (author !== state.owner && !state.moderators.has(author))
}

function sameLine(a: ChatLine, b: ChatLine): boolean {
  return a.id === b.id && a.text === b.text && a.authorName === b.authorName && a.canHide === b.canHide
}

export class ChatView {
  readonly #cache: RevealCache = new WeakMap()
  #lines: ChatLine[] = []

  lines(state: RoomState, selfId: string, secrets: SecretOf, nameOf: (id: string) => string): ChatLine[] {
    // One name lookup per author, not per message (a long chat has few authors).
    const names = new Map<string, string>()
    const name = (id: string): string => names.get(id) ?? names.set(id, nameOf(id)).get(id)!
    const next = revealChat(state, secrets, this.#cache).map(
      (m): ChatLine => ({
        id: m.id,
        authorId: m.author,
        authorName: name(m.author),
        at: m.at,
        text: m.text,
        mine: m.author === selfId,
        canHide: mayHide(state, selfId, m.author),
      }),
    )
    const prev = this.#lines
    if (next.length === prev.length && next.every((l, i) => sameLine(l, prev[i]!))) return prev
    this.#lines = next
    return next
  }
}
