/**
 * A kicked key coming back is refused by the relay before it syncs anything; the refusal's
 * words are all it learns of the kick (relay/rooms/room.ts admit), so `stoop peer` reads the
 * kick's end from them (the integration test cli-chat runs it against the real relay).
 */
import { expect, test } from 'vitest'
import { kickedUntilOf } from '../../../src/headless/moderation.ts'

const until = Date.UTC(2030, 0, 2, 3, 4, 5, 678)
const refused = (reason: string, words: string) => ({ reason, message: `the relay refused the connection: ${words}` })

test('a kick refusal gives its end', () => {
  expect(kickedUntilOf(refused('banned', `a moderator removed this key from the room until ${new Date(until).toISOString()}`))).toBe(until)
})

test('a ban, another refusal, or words that only look like a kick give nothing', () => {
  expect(kickedUntilOf(refused('banned', 'a moderator banned this key from the room'))).toBeNull()
  expect(kickedUntilOf(refused('room-full', `a moderator removed this key from the room until ${new Date(until).toISOString()}`))).toBeNull()
  expect(kickedUntilOf(refused('banned', 'a moderator removed this key from the room until tomorrow'))).toBeNull()
  expect(kickedUntilOf(refused('banned', 'a moderator removed this key from the room until 2030-13-45T99:00:00.000Z'))).toBeNull()
  expect(kickedUntilOf({ reason: undefined, message: 'the relay connection closed (4008 kicked)' })).toBeNull()
})
