/**
 * Chat text (docs/room-rules.md §10 "chat"): sealed under the writer's current
 * epoch secret in the field 'chat' of its author (sealed-text.ts, reveal.ts),
 * so a relay that stores the log reads none of it. The derived state keeps
 * messages sealed; `revealChat` opens them for a member who holds the epochs'
 * secrets. Pure: secrets come in as a function, a seal's randomness as bytes.
 *
 * Text is only ever text: clients render it as plain text (links shown, never
 * fetched, no markup). A message over MAX_CHAT_CHARS (only a hand-made one can
 * be: the byte cap allows more ASCII) reads as unreadable, like one whose
 * epoch secret is not held.
 */
import { MAX_CHAT_BYTES, MAX_CHAT_CHARS } from './entry-moderation.ts'
import { openField, sealField, type RevealCache, type SealingKey, type SecretOf } from './reveal.ts'
import type { ChatMessage } from './derive/chat.ts'

export const CHAT_FIELD = 'chat'

/** A message as a member reads it: `text` null when it cannot be opened here. */
export interface ChatLine {
  id: string
  author: string
  at: number
  text: string | null
}

/** Why a text cannot be sent, or null: empty, or over MAX_CHAT_CHARS. */
export function chatTextProblem(text: string): 'empty' | 'too-long' | null {
  if (text.trim().length === 0) return 'empty'
  return text.length > MAX_CHAT_CHARS || new TextEncoder().encode(text).length > MAX_CHAT_BYTES ? 'too-long' : null
}

/** `text` sealed for a chat entry by `author`. RangeError when it is empty or too long. */
export function sealChat(key: SealingKey, roomId: string, author: string, text: string, nonce: Uint8Array): Uint8Array {
  const problem = chatTextProblem(text)
  if (problem) throw new RangeError(problem === 'empty' ? 'a chat message is empty' : `a chat message is at most ${MAX_CHAT_CHARS} characters`)
  return sealField(key, { roomId, author, field: CHAT_FIELD }, text, nonce)
}

/** One message's text, or null (secret not held, altered, or over the cap). */
export function openChat(roomId: string, m: ChatMessage, secrets: SecretOf, cache?: RevealCache): string | null {
  const text = openField(m.text, { roomId, author: m.author, field: CHAT_FIELD }, secrets, cache)
  return text !== null && text.length <= MAX_CHAT_CHARS ? text : null
}

/** The room's chat as this member reads it, in the state's order. */
export function revealChat(state: { roomId: string; chat: readonly ChatMessage[] }, secrets: SecretOf, cache?: RevealCache): ChatLine[] {
  return state.chat.map((m) => ({ id: m.id, author: m.author, at: m.at, text: openChat(state.roomId, m, secrets, cache) }))
}
