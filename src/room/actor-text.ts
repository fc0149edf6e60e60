/**
 * Free text an actor writes (title, topic, display name), sealed under the newest
 * epoch's secret it holds before it is signed (docs/room-rules.md §9): the log, and
 * so every relay that stores it, holds no plain text. Kept apart from actor.ts so
 * the actions there read as rules; createRoom seals the genesis's text here too.
 */
import { randomBytes } from '../identity/index.ts'
import { MAX_NAME_BYTES, MAX_TITLE_BYTES, MAX_TOPIC_BYTES } from './entry.ts'
import { RoomError } from './errors.ts'
import { openField, sealField, type SealingKey, type TextKeys } from './reveal.ts'
import { TEXT_NONCE_BYTES } from './sealed-text.ts'

export type EntryText = 'title' | 'topic' | 'name'
const TEXT_CAPS: Record<EntryText, number> = { title: MAX_TITLE_BYTES, topic: MAX_TOPIC_BYTES, name: MAX_NAME_BYTES }

/** `text` sealed for one field of an entry by `author` (§9); longer than the field's cap is a RangeError, as before sealing. */
export function sealEntryText(key: SealingKey, roomId: string, author: string, field: EntryText, text: string): Uint8Array {
  if (new TextEncoder().encode(text).length > TEXT_CAPS[field]) throw new RangeError(`${field} longer than ${TEXT_CAPS[field]} bytes`)
  return sealField(key, { roomId, author, field }, text, randomBytes(TEXT_NONCE_BYTES))
}

/** One author's entry text, sealed (or sealed again) in the newest epoch it holds. */
export class EntryTextWriter {
  constructor(
    /** The epoch secrets free text is sealed with; without them no text can be written. */
    private readonly texts: TextKeys | null,
    private readonly roomId: string,
    private readonly author: string,
  ) {}

  /** `text` sealed for `field` in the newest epoch we hold (§9). */
  async seal(field: EntryText, text: string): Promise<Uint8Array> {
    const key = await this.texts?.current()
    if (!key) throw new RoomError('no-epoch-secret', "This device does not hold the room's current key yet")
    return sealEntryText(key, this.roomId, this.author, field, text)
  }

  /**
   * A field rewritten unchanged: sealed again in the newest epoch when we can read it (so members
   * who joined since can), kept as it is when we cannot but it is ours (its context still holds).
   */
  async keep(field: EntryText, sealed: Uint8Array | undefined, plain: string, author: string): Promise<Uint8Array> {
    if (!sealed) return this.seal(field, plain)
    const text = openField(sealed, { roomId: this.roomId, author, field }, this.texts?.secret ?? (() => null))
    if (text !== null) return this.seal(field, text)
    if (author === this.author) return sealed
    throw new RoomError('no-epoch-secret', `The current ${field} cannot be read here, so it cannot be kept`)
  }
}
