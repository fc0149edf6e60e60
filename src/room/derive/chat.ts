/**
 * Chat (docs/room-rules.md §10 "chat" and "hide"): which messages the room
 * shows, in one order for everyone. Messages stay sealed here (the derivation
 * holds no secret); reveal-chat.ts opens them for a member.
 *
 * Order is (time, id), with the causal rules every entry follows (§3a: an
 * entry naming one not here yet waits, one dated before what it names is
 * 'backdated'). Rules, in the order they apply:
 *   1. a banned author's messages are void, all of them ('banned');
 *   2. none at or after the end ('room-ended');
 *   3. a kick takes its subject's messages dated before the kick ends that the
 *      kick had not seen ('kicked'): those written while it lasts, and those
 *      backdated to before it (a kick that names nothing: only those dated
 *      while it lasts);
 *   4. at most CHAT_BURST messages per author in any CHAT_WINDOW_MS, by entry
 *      time ('rate-limited'), counting from the earliest;
 *   5. a valid hide omits its target for everyone (not a rejection: the entry
 *      stays valid). Moderators cannot hide the owner's or other moderators'
 *      messages (as with bans); the owner hides anyone's.
 */
import type { EntryKind } from '../entry.ts'
import type { Of } from '../entry-index.ts'
import { CHAT_BURST, CHAT_WINDOW_MS, kickEnd } from '../moderation-rules.ts'
import type { Authority } from './authority.ts'
import { privilegeReason, type Bans } from './bans.ts'
import type { Causality } from './causality.ts'
import { byTimeThenId, push } from './collections.ts'
import type { Ledger } from './ledger.ts'

const CHAT: readonly EntryKind[] = ['chat']

/** One message the room shows: still sealed (its text opens with the secret of epoch `sealedEpoch(text)`). */
export interface ChatMessage {
  id: string
  author: string
  /** The entry's time (ms). */
  at: number
  text: Uint8Array
}

/** §10 rule 3: a kick takes the messages of its subject it had not seen, dated before it ends. */
function takenByKick(c: Of<'chat'>, kicks: readonly Of<'kick'>[], causality: Causality): boolean {
  return kicks.some((k) => c.time < kickEnd(k) && (c.time >= k.time || k.prev.length > 0) && !causality.precedes(c.id, k.id))
}

/** §10 rule 4: keeps at most CHAT_BURST messages of one author in any window, earliest first. */
function rateLimit(list: Of<'chat'>[], ledger: Ledger): void {
  list.sort(byTimeThenId)
  const kept: number[] = []
  for (const c of list) {
    let inWindow = 0
    for (let i = kept.length - 1; i >= 0 && kept[i]! > c.time - CHAT_WINDOW_MS; i--) inWindow++
    if (inWindow >= CHAT_BURST) ledger.reject(c, 'rate-limited')
    else kept.push(c.time)
  }
}

/** §10 hide: privileged; names a chat entry; a moderator may not hide the owner's or another moderator's message. */
function hiddenBy(hides: readonly Of<'hide'>[], byId: ReadonlyMap<string, unknown>, authority: Authority, bans: Bans, ledger: Ledger): Set<string> {
  const hidden = new Set<string>()
  for (const h of hides) {
    const target = byId.get(h.target) as { kind: string; author: string } | undefined
    const protectedAuthor = (a: string): boolean => a !== h.author && (a === authority.owner || authority.isModerator(a))
    const why =
      privilegeReason(h, authority, bans) ??
      (target?.kind !== 'chat' ? ledger.refReason(h.target, CHAT) : !authority.isOwners(h) && protectedAuthor(target.author) ? 'no-authority' : null)
    if (why) ledger.reject(h, why)
    else hidden.add(h.target)
  }
  return hidden
}

export interface ChatInput {
  chats: readonly Of<'chat'>[]
  hides: readonly Of<'hide'>[]
  /** Valid kicks (derive/kicks.ts). */
  kicks: readonly Of<'kick'>[]
  byId: ReadonlyMap<string, unknown>
  endedAt: number
}

/** §10: the messages the room shows, in (time, id) order. */
export function chatOf(input: ChatInput, authority: Authority, bans: Bans, causality: Causality, ledger: Ledger): ChatMessage[] {
  const kicksOf = new Map<string, Of<'kick'>[]>()
  for (const k of input.kicks) push(kicksOf, k.subject, k)
  const byAuthor = new Map<string, Of<'chat'>[]>()
  for (const c of input.chats) {
    const why =
      bans.isBanned(c.author) ? 'banned'
      : c.time >= input.endedAt ? 'room-ended'
      : takenByKick(c, kicksOf.get(c.author) ?? [], causality) ? 'kicked'
      : null
    if (why) ledger.reject(c, why)
    else push(byAuthor, c.author, c)
  }
  for (const list of byAuthor.values()) rateLimit(list, ledger)
  const hidden = hiddenBy(input.hides, input.byId, authority, bans, ledger)
  const shown: ChatMessage[] = []
  for (const list of byAuthor.values()) {
    for (const c of list) if (!ledger.reasons.has(c.id) && !hidden.has(c.id)) shown.push({ id: c.id, author: c.author, at: c.time, text: c.text })
  }
  return shown.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}
