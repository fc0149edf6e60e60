/**
 * `stoop mod` mute, kick, record, hide and transfer, and `stoop peer`'s exit on
 * a kick, without a network: the command line, message ids, what `state` shows.
 */
import { describe, expect, it } from 'vitest'
import { describeRoom, parseModCommand, resolveMessage } from '../../../src/cli/mod-actions.ts'
import { exitCodeOf, UsageError } from '../../../src/cli/options.ts'
import { PeerFailure } from '../../../src/headless/failure.ts'
import { gatedWriter, kickedMessage } from '../../../src/headless/moderation.ts'
import { generateIdentity, keyId } from '../../../src/identity/index.ts'
import { createRoom, MAX_KICK_MS, RoomActor, RoomReplica } from '../../../src/room/index.ts'
import { epochZeroTexts } from '../../helpers/sealed-text.ts'

describe('stoop mod moderation actions', () => {
  it('mute, hide and transfer take one ID; record takes on or off; kick takes an ID and --for SECONDS', () => {
    expect(parseModCommand(['mute', 'abc'])).toEqual({ action: 'mute', target: 'abc' })
    expect(parseModCommand(['hide', 'm1'])).toEqual({ action: 'hide', target: 'm1' })
    expect(parseModCommand(['transfer', 'abc'])).toEqual({ action: 'transfer', target: 'abc' })
    expect(parseModCommand(['record', 'on'])).toEqual({ action: 'record', target: 'on' })
    expect(parseModCommand(['record', 'off'])).toEqual({ action: 'record', target: 'off' })
    expect(parseModCommand(['kick', 'abc'], '90')).toEqual({ action: 'kick', target: 'abc', forMs: 90_000 })
    const bad: Array<[string[], string | undefined, RegExp]> = [
      [['kick', 'abc'], undefined, /kick needs --for SECONDS/],
      [['kick', 'abc'], '0', /--for must be 1 to/],
      [['kick', 'abc'], 'soon', /--for must be 1 to/],
      [['kick', 'abc'], String(MAX_KICK_MS / 1000 + 1), /--for must be 1 to/],
      [['mute', 'abc'], '5', /--for goes with kick/],
      [['record'], undefined, /record needs on or off/],
      [['record', 'maybe'], undefined, /record needs on or off, got "maybe"/],
      [['hide'], undefined, /hide needs a message ID/],
      [['mute'], undefined, /mute needs a participant ID/],
    ]
    for (const [words, forS, message] of bad) expect(() => parseModCommand(words, forS), words.join(' ')).toThrow(message)
    expect(() => parseModCommand(['kick', 'abc'])).toThrow(UsageError)
  })

  it('a kicked peer exits 5 with one line naming when it may come back', () => {
    const until = Date.UTC(2030, 0, 2, 3, 4, 5)
    const err = new PeerFailure('kicked', kickedMessage(until))
    expect(exitCodeOf(err)).toBe(5)
    expect(err.message).toBe('a moderator removed you from this room until 2030-01-02T03:04:05.000Z')
  })
})

describe('what state shows of chat and moderation', () => {
  it('the chat it can read (ids for hide), who is muted or kicked, the recording', async () => {
    const [owner, lou, ann] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity()])
    const room = await createRoom(owner, { title: 'Moderated' })
    const replica = new RoomReplica(room.doc, { roomId: room.roomId })
    const texts = epochZeroTexts(room.secret)
    const [louId, annId] = [lou, ann].map((i) => keyId(i.publicKey)) as [string, string]
    const asOwner = new RoomActor(replica, owner, { texts })
    const asLou = new RoomActor(replica, lou, { texts })
    await asLou.setProfile({ name: 'Lou' })
    const first = await asLou.sendChat('hello "world"')
    await asOwner.inviteToStage(annId)
    await new RoomActor(replica, ann, { texts }).acceptInvite()
    await asOwner.mute(annId)
    await asOwner.kick(louId, 60_000)
    await asOwner.startRecording()
    const s = replica.state
    const described = describeRoom(s, keyId(owner.publicKey), [], texts.secret)
    expect(described.chat).toEqual([{ id: first, author: louId, name: '', text: 'hello "world"', at: replica.get(first)!.time }])
    expect(described.muted).toEqual([expect.objectContaining({ id: annId, by: keyId(owner.publicKey) })])
    expect(described.kicked).toEqual([expect.objectContaining({ id: louId, until: s.kicked.get(louId)!.until })])
    expect(described.recording).toEqual({ by: keyId(owner.publicKey), since: s.recording!.since })
    // Without the secret, text reads as null (never as the ciphertext).
    expect((describeRoom(s, keyId(owner.publicKey), []).chat as Array<{ text: unknown }>)[0]!.text).toBeNull()
    expect(resolveMessage(first.slice(0, 6), s)).toBe(first)
    expect(() => resolveMessage('zzzz', s)).toThrow(expect.objectContaining({ code: 'unknown-message' }))
    replica.destroy()
  })
})

describe('stoop peer --record', () => {
  it('keeps audio only while the gate is open', async () => {
    const written: number[] = []
    let open = false
    const file = { write: (s: Int16Array) => written.push(s.length), close: async () => {}, dataBytes: 0 }
    const gated = gatedWriter(file, () => open)
    gated.write(new Int16Array(480))
    open = true
    gated.write(new Int16Array(480))
    open = false
    gated.write(new Int16Array(480))
    expect(written).toEqual([480])
  })
})
