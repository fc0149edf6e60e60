/**
 * Reading and writing the room's sealed text (docs/room-rules.md §9). The
 * derived state keeps free text sealed (`state.meta`, `Profile.nameSealed`) and
 * holds no secret; `revealText` fills the readable strings (`title`, `topic`,
 * profile names) for a member who holds the epochs' secrets. What it cannot
 * open reads as '' (the UI shows a placeholder). Pure: the secrets come in as
 * a function, the randomness of a new seal as bytes.
 *
 * A field's context is fixed by where it sits (room, the entry's author, the
 * field), so a sealed text copied into another entry or field does not open.
 */
import { openText, sealedEpoch, sealText, TEXT_NONCE_BYTES, type TextContext } from './sealed-text.ts'
import type { RoomState } from './state.ts'

/** The fields text is sealed for: entries' free text, and presence (awareness). */
export type TextFieldName = 'title' | 'topic' | 'name' | 'presence'

/** The secret of epoch `n`, when this member holds it. */
export type SecretOf = (n: number) => Uint8Array | null

/** An epoch to seal new text in, with its secret. */
export interface SealingKey {
  n: number
  secret: Uint8Array
}

/** What a writer needs: the newest epoch it holds (to seal), and older secrets (to keep text it rewrites). */
export interface TextKeys {
  /** The epoch new text is sealed in: the room's current one, when this member holds it; null when it holds none yet. */
  current(): Promise<SealingKey | null>
  secret: SecretOf
}

/**
 * Texts already opened, by their sealed bytes. Each Uint8Array is one field of
 * one decoded entry, so its context never changes; only successes are kept
 * (a secret may arrive later).
 */
export type RevealCache = WeakMap<Uint8Array, string>

export function sealField(key: SealingKey, ctx: TextContext, text: string, nonce: Uint8Array): Uint8Array {
  if (nonce.length !== TEXT_NONCE_BYTES) throw new RangeError(`a text nonce is ${TEXT_NONCE_BYTES} bytes`)
  return sealText(key.secret, key.n, ctx, text, nonce)
}

/** The text of one sealed field, or null when its epoch's secret is not held or it does not open. */
export function openField(sealed: Uint8Array, ctx: TextContext, secrets: SecretOf, cache?: RevealCache): string | null {
  const hit = cache?.get(sealed)
  if (hit !== undefined) return hit
  const n = sealedEpoch(sealed)
  const secret = n === null ? null : secrets(n)
  if (!secret) return null
  const text = openText(secret, ctx, sealed)
  if (text !== null) cache?.set(sealed, text)
  return text
}

/** `state` with its title, topic and profile names opened where `secrets` allows ('' where not). */
export function revealText(state: RoomState, secrets: SecretOf, cache?: RevealCache): RoomState {
  const meta = state.meta
  if (!meta) return state
  const open = (sealed: Uint8Array, author: string, field: TextFieldName): string =>
    openField(sealed, { roomId: state.roomId, author, field }, secrets, cache) ?? ''
  let profiles = state.profiles
  if ([...profiles.values()].some((p) => p.nameSealed)) {
    profiles = new Map([...profiles].map(([key, p]) => [key, p.nameSealed ? { ...p, name: open(p.nameSealed, key, 'name') } : p]))
  }
  return {
    ...state,
    title: meta.title ? open(meta.title, meta.author, 'title') : state.title,
    topic: meta.topic ? open(meta.topic, meta.author, 'topic') : state.topic,
    profiles,
  }
}
