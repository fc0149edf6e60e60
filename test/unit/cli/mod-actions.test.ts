/**
 * `stoop mod` without a network: its command line, how an ID (or a prefix of
 * one) becomes a participant id, the `state` result, and the exit codes.
 */
import { describe, expect, it } from 'vitest'
import { describeRoom, knownParticipants, parseModCommand, resolveParticipant } from '../../../src/cli/mod-actions.ts'
import { exitCodeOf, UsageError } from '../../../src/cli/options.ts'
import { PeerFailure } from '../../../src/headless/failure.ts'
import { generateIdentity, keyId } from '../../../src/identity/index.ts'
import { createRoom, RoomActor, RoomError, RoomReplica } from '../../../src/room/index.ts'
import { revealText } from '../../../src/room/reveal.ts'
import { epochZeroTexts } from '../../helpers/sealed-text.ts'

const id = (c: string, rest = 'A'): string => (c + rest.repeat(43)).slice(0, 43)

describe('stoop mod command line', () => {
  it('takes an action and, for the actions that name someone, exactly one ID', () => {
    expect(parseModCommand(['state'])).toEqual({ action: 'state', target: null })
    expect(parseModCommand(['ban', 'abc'])).toEqual({ action: 'ban', target: 'abc' })
    expect(parseModCommand(['links'])).toEqual({ action: 'links', target: null })
    expect(parseModCommand(['rotate'])).toEqual({ action: 'rotate', target: null })
    for (const words of [[], ['dance'], ['ban'], ['invite', ''], ['move', 'a', 'b'], ['state', 'x'], ['end', 'now']]) {
      expect(() => parseModCommand(words)).toThrow(UsageError)
    }
    expect(() => parseModCommand(['dance'])).toThrow(/unknown stoop mod action "dance"/)
  })
})

describe('participant ids from the command line', () => {
  const known = [id('abc'), id('abd'), id('xyz')]

  it('accepts a whole id, or a prefix that names exactly one known id', () => {
    expect(resolveParticipant(id('abc'), known)).toBe(id('abc'))
    expect(resolveParticipant('abc', known)).toBe(id('abc'))
    expect(resolveParticipant('x', known)).toBe(id('xyz'))
  })

  it('refuses an ambiguous prefix, naming the candidates', () => {
    expect(() => resolveParticipant('ab', known)).toThrow(expect.objectContaining({ code: 'ambiguous-participant' }))
    expect(() => resolveParticipant('ab', known)).toThrow(/"ab" is the start of 2 participant ids \(abcAAAAA\.\.\., abdAAAAA\.\.\.\): give more of it/)
  })

  it('accepts a whole id nobody has seen yet (to ban ahead); refuses an unknown prefix', async () => {
    const stranger = keyId((await generateIdentity()).publicKey)
    expect(resolveParticipant(stranger, known)).toBe(stranger)
    expect(() => resolveParticipant(id('Q', 'w'), known)).toThrow(expect.objectContaining({ code: 'unknown-participant' })) // not a public key
    expect(() => resolveParticipant('qq', known)).toThrow(expect.objectContaining({ code: 'unknown-participant' }))
  })
})

describe('the state a moderator reads', () => {
  it('lists stage, audience present, hands, moderators and bans of the validated state', async () => {
    const [owner, lou, ann, sam] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()])
    const room = await createRoom(owner, { title: 'Read me' })
    const replica = new RoomReplica(room.doc, { roomId: room.roomId })
    const [ownerId, louId, annId, samId] = [owner, lou, ann, sam].map((i) => keyId(i.publicKey)) as [string, string, string, string]
    const asOwner = new RoomActor(replica, owner)
    await asOwner.grantModerator(annId)
    await new RoomActor(replica, lou).raiseHand()
    await new RoomActor(replica, lou, { texts: epochZeroTexts(room.secret) }).setProfile({ name: 'Lou' })
    await asOwner.ban(samId)
    // The CLI reads the state its RoomClient revealed (docs/room-rules.md §9).
    const view = describeRoom(revealText(replica.state, epochZeroTexts(room.secret).secret), ownerId, [louId, samId, ownerId])
    expect(view).toMatchObject({
      room: room.roomId,
      title: 'Read me',
      ended: false,
      you: { id: ownerId, role: 'owner' },
      owner: ownerId,
      stage: [{ id: ownerId, name: '' }],
      audience: [{ id: louId, name: 'Lou' }],
      hands: [{ id: louId, name: 'Lou' }],
      moderators: [{ id: annId, name: '' }],
      bans: [{ id: samId, name: '' }],
    })
    expect([...knownParticipants(replica.state, [])].sort()).toEqual([ownerId, louId, annId, samId].sort())
    replica.destroy()
  })
})

describe('exit codes', () => {
  it('2 for usage, 3 for this key banned (not a subject that is banned), 1 otherwise', () => {
    expect(exitCodeOf(new UsageError('x'))).toBe(2)
    expect(exitCodeOf(Object.assign(new TypeError('Unknown option'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }))).toBe(2)
    expect(exitCodeOf(new PeerFailure('banned', 'a moderator removed you from this room'))).toBe(3)
    expect(exitCodeOf(new RoomError('banned', 'That person is banned'))).toBe(1)
    expect(exitCodeOf(new PeerFailure('no-members', 'nobody'))).toBe(1)
    expect(exitCodeOf('plain')).toBe(1)
  })
})
