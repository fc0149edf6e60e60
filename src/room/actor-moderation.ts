/**
 * The chat and moderation actions of RoomActor (docs/room-rules.md §10), kept
 * apart from actor.ts: each is a function of the actor's core (its state
 * checks, its authority and its writer). Like every action, misuse that could
 * never produce a valid entry throws a RoomError up front; a valid-looking
 * action can still lose a race, and then every replica ignores it alike.
 */
import { randomBytes, type Identity } from '../identity/index.ts'
import type { EntryBody } from './entry.ts'
import { RoomError, type RoomErrorCode } from './errors.ts'
import { chatTextProblem, sealChat } from './chat-text.ts'
import { CHAT_BURST, CHAT_WINDOW_MS, MAX_CHAT_CHARS, MAX_KICK_MS, MUTE_HOLD_MS } from './moderation-rules.ts'
import type { SealingKey } from './reveal.ts'
import { TEXT_NONCE_BYTES } from './sealed-text.ts'
import type { RoomState } from './state.ts'

/** What the actions need of RoomActor. */
export interface ActorCore {
  readonly key: string
  readonly identity: Identity
  now(): number
  /** Settled state of a room that exists and has not banned us. */
  member(): Promise<RoomState>
  /** ... and has not ended. */
  live(): Promise<RoomState>
  /** The authority we sign privileged entries with (RoomError 'not-moderator' when none). */
  authority(s: RoomState): string
  requireOwner(s: RoomState): void
  /** Signs one entry naming what we have seen (not written). */
  sign(body: EntryBody): Promise<Uint8Array>
  /** Writes bodies in one transaction (after `before`, which they then name); their ids. */
  write(bodies: EntryBody[], at?: number, before?: Uint8Array[]): Promise<string[]>
  /** The epoch to seal new text in, when we hold its secret. */
  sealing(): Promise<SealingKey | null>
  setProfile(p: { muted?: boolean }): Promise<string>
}

const err = (code: RoomErrorCode, message: string) => new RoomError(code, message)

/** Sends a chat message (sealed in the newest epoch we hold). */
export async function sendChat(a: ActorCore, text: string): Promise<string> {
  const s = await a.live()
  if (s.kicked.has(a.key)) throw err('kicked', 'You are out of this room for now')
  const problem = chatTextProblem(text)
  if (problem === 'empty') throw err('bad-argument', 'A chat message is empty')
  if (problem) throw err('too-long', `A chat message is at most ${MAX_CHAT_CHARS} characters`)
  const since = a.now() - CHAT_WINDOW_MS
  if (s.chat.filter((m) => m.author === a.key && m.at > since).length >= CHAT_BURST) {
    throw err('rate-limited', `At most ${CHAT_BURST} messages in ${CHAT_WINDOW_MS / 1000} s`)
  }
  const key = await a.sealing()
  if (!key) throw err('no-epoch-secret', "This device does not hold the room's current key yet")
  return (await a.write([{ kind: 'chat', text: sealChat(key, s.roomId, a.key, text, randomBytes(TEXT_NONCE_BYTES)) }]))[0]!
}

/** Hides a chat message for everyone. Moderators cannot hide the owner's or another moderator's. */
export async function hideChat(a: ActorCore, messageId: string): Promise<string> {
  const s = await a.member()
  const auth = a.authority(s)
  const m = s.chat.find((x) => x.id === messageId)
  if (!m) throw err('unknown-target', 'No such message is shown')
  if (a.key !== s.owner && m.author !== a.key) {
    if (m.author === s.owner) throw err('cannot-target-owner', "Moderators cannot hide the owner's messages")
    if (s.moderators.has(m.author)) throw err('cannot-target-moderator', "Moderators cannot hide another moderator's messages")
  }
  return (await a.write([{ kind: 'hide', auth, target: messageId }]))[0]!
}

/** Mutes a speaker on stage; it may unmute itself MUTE_HOLD_MS later. Moderators cannot mute the owner. */
export async function mute(a: ActorCore, subject: string): Promise<string> {
  const s = await a.live()
  const auth = a.authority(s)
  if (subject === a.key) throw err('bad-argument', 'Mute yourself with your own microphone')
  if (subject === s.owner && a.key !== s.owner) throw err('cannot-target-owner', 'Moderators cannot mute the owner')
  if (!s.seatOf.has(subject)) throw err('not-on-stage', 'That person is not on stage')
  return (await a.write([{ kind: 'mute', auth, subject }]))[0]!
}

/** Clears a moderator's mute of us (a profile with muted: false), once the hold has passed. */
export async function unmuteSelf(a: ActorCore): Promise<string> {
  const s = await a.member()
  const m = s.muted.get(a.key)
  if (m && a.now() < m.at + MUTE_HOLD_MS) throw err('too-early', `You can unmute ${Math.ceil((m.at + MUTE_HOLD_MS - a.now()) / 1000)} s from now`)
  return a.setProfile({ muted: false })
}

/** Removes `subject` from the room for `forMs` (at most MAX_KICK_MS), without a ban. Not the owner or a moderator. */
export async function kick(a: ActorCore, subject: string, forMs: number): Promise<string> {
  const s = await a.live()
  const auth = a.authority(s)
  if (subject === s.owner) throw err('cannot-target-owner', 'The owner cannot be kicked')
  if (subject === a.key) throw err('bad-argument', 'You cannot kick yourself')
  if (s.moderators.has(subject)) throw err('cannot-target-moderator', 'Moderators cannot be kicked (the owner can revoke them first)')
  if (!(Number.isSafeInteger(forMs) && forMs > 0 && forMs <= MAX_KICK_MS)) throw err('bad-argument', `A kick lasts 1 ms to ${MAX_KICK_MS / 86_400_000} days`)
  return (await a.write([{ kind: 'kick', auth, subject, until: a.now() + forMs }]))[0]!
}

/** Announces that a recording starts (on) or stops; null when the room already shows that. */
export async function setRecording(a: ActorCore, on: boolean): Promise<string | null> {
  const s = await a.live()
  const auth = a.authority(s)
  if ((s.recording !== null) === on) return null
  return (await a.write([{ kind: 'record', auth, on }]))[0]!
}

/**
 * Hands the room to a moderator (owner only). With `stayModerator` the owner
 * first grants itself moderator power, which counts once it no longer owns the
 * room; the transfer names that grant, so the grant is within its tenure.
 */
export async function transferOwnership(a: ActorCore, subject: string, opts: { stayModerator?: boolean } = {}): Promise<string> {
  const s = await a.live()
  a.requireOwner(s)
  const auth = s.ownerAuth!
  if (subject === a.key) throw err('bad-argument', 'You already own this room')
  if (!s.moderators.has(subject)) throw err('bad-argument', 'Ownership goes to a moderator: make them one first')
  const before = opts.stayModerator ? [await a.sign({ kind: 'grant', auth, role: 'moderator', subject: a.key })] : []
  const ids = await a.write([{ kind: 'transfer', auth, subject }], a.now(), before)
  return ids.at(-1)!
}
