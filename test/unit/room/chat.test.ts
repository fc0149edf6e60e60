/**
 * Chat (docs/room-rules.md §10 "chat", "hide"): the attacks first, as an
 * attacker runs them (hand-signed entries through `inject`), then the rules.
 */
import { describe, expect, it } from 'vitest'
import { randomBytes } from '../../../src/identity/index.ts'
import {
  CHAT_BURST, CHAT_WINDOW_MS, MAX_CHAT_CHARS, RoomError, computeState, decodeEntry, encodeUnsigned, revealChat, sealChat, type RoomState,
} from '../../../src/room/index.ts'
import { sealText, TEXT_NONCE_BYTES } from '../../../src/room/sealed-text.ts'
import { moderatedRoom, type ModeratedRoom } from './moderation-helpers.ts'

const sealedBy = (r: ModeratedRoom, who: { key: string }, text: string) => sealChat({ n: 0, secret: r.secret }, r.roomId, who.key, text, randomBytes(TEXT_NONCE_BYTES))
const texts = (r: ModeratedRoom, s: RoomState = r.state) => revealChat(s, r.texts.secret).map((l) => l.text)

describe('chat attacks', () => {
  it('a kicked member cannot chat during the kick, nor by dating a message before it', async () => {
    const r = await moderatedRoom()
    await r.alice.sendChat('before')
    const kick = await r.mod.kick(r.alice.key, 60_000)
    const k = r.replica.get(kick)!
    await expect(r.alice.sendChat('during')).rejects.toMatchObject({ code: 'kicked' })
    const [during, backdated] = await r.inject(
      await r.signed(r.alice, { kind: 'chat', text: sealedBy(r, r.alice, 'during') }, k.time + 1000),
      await r.signed(r.alice, { kind: 'chat', text: sealedBy(r, r.alice, 'backdated') }, k.time - 5000, []),
    )
    expect(r.state.reasons.get(during!)).toBe('kicked')
    expect(r.state.reasons.get(backdated!)).toBe('kicked')
    expect(texts(r)).toEqual(['before'])
    // After the kick ends, Alice chats again.
    r.advance(60_000)
    r.replica.recompute()
    await r.alice.sendChat('after')
    expect(texts(r)).toEqual(['before', 'after'])
  })

  it(`a flood keeps ${CHAT_BURST} messages in any ${CHAT_WINDOW_MS / 1000} s; the rest are rate-limited`, async () => {
    const r = await moderatedRoom()
    const t0 = r.clock()
    const flood = await Promise.all(Array.from({ length: 8 }, (_, i) => r.signed(r.mallory, { kind: 'chat', text: sealedBy(r, r.mallory, `spam ${i}`) }, t0 + i * 100)))
    const ids = await r.inject(...flood)
    expect(texts(r)).toEqual(['spam 0', 'spam 1', 'spam 2', 'spam 3', 'spam 4'])
    expect(ids.slice(5).map((id) => r.state.reasons.get(id))).toEqual(['rate-limited', 'rate-limited', 'rate-limited'])
    // The actor refuses what the rule would drop.
    r.advance(1000)
    await r.inject(await r.signed(r.bob, { kind: 'chat', text: sealedBy(r, r.bob, 'x') }, r.clock()))
    for (let i = 0; i < CHAT_BURST - 1; i++) await r.bob.sendChat(`b${i}`)
    await expect(r.bob.sendChat('one too many')).rejects.toMatchObject({ code: 'rate-limited' })
  })

  it("a moderator cannot hide the owner's or another moderator's message; a listener hides nothing", async () => {
    const r = await moderatedRoom()
    const owners = await r.owner.sendChat('owner speaks')
    const mods = await r.mod2.sendChat('moderator speaks')
    await expect(r.mod.hideChat(owners)).rejects.toMatchObject({ code: 'cannot-target-owner' })
    await expect(r.mod.hideChat(mods)).rejects.toMatchObject({ code: 'cannot-target-moderator' })
    const modAuth = r.state.moderators.get(r.mod.key)!
    const [h1, h2, h3] = await r.inject(
      await r.signed(r.mod, { kind: 'hide', auth: modAuth, target: owners }, r.clock()),
      await r.signed(r.mod, { kind: 'hide', auth: modAuth, target: mods }, r.clock()),
      // A listener naming the moderator's authority (or the genesis) as its own.
      await r.signed(r.mallory, { kind: 'hide', auth: modAuth, target: owners }, r.clock()),
    )
    const [h4] = await r.inject(await r.signed(r.mallory, { kind: 'hide', auth: r.state.genesisId!, target: mods }, r.clock()))
    for (const id of [h1, h2, h3, h4]) expect(r.state.reasons.get(id!)).toBe('no-authority')
    expect(texts(r)).toEqual(['owner speaks', 'moderator speaks'])
  })

  it('a hand-made message over the cap does not read (and one over the byte cap does not decode)', async () => {
    const r = await moderatedRoom()
    const long = 'x'.repeat(MAX_CHAT_CHARS + 100)
    const sealed = sealText(r.secret, 0, { roomId: r.roomId, author: r.mallory.key, field: 'chat' }, long, randomBytes(TEXT_NONCE_BYTES))
    const [id] = await r.inject(await r.signed(r.mallory, { kind: 'chat', text: sealed }, r.clock()))
    expect(r.state.chat.map((m) => m.id)).toEqual([id])
    expect(texts(r)).toEqual([null])
    expect(() => sealedBy(r, r.mallory, long)).toThrow(RangeError)
    const huge = sealText(r.secret, 0, { roomId: r.roomId, author: r.mallory.key, field: 'chat' }, 'x'.repeat(1600), randomBytes(TEXT_NONCE_BYTES))
    expect(() => encodeUnsigned(r.roomId, r.mallory.identity.publicKey, r.clock(), { kind: 'chat', text: huge })).toThrow(RangeError)
  })

  it('text is sealed: the log holds no plain text, another field or author does not open it', async () => {
    const r = await moderatedRoom()
    const id = await r.alice.sendChat('<img src=x onerror=alert(1)> secret plans')
    const entry = r.replica.get(id)!
    expect(Buffer.from(entry.bytes).includes(Buffer.from('secret plans'))).toBe(false)
    // Read back verbatim: text is never interpreted by the model.
    expect(texts(r)).toEqual(['<img src=x onerror=alert(1)> secret plans'])
    expect(revealChat(r.state, () => randomBytes(32))[0]!.text).toBeNull()
    // Copied into Mallory's own entry, the ciphertext no longer opens (its author is part of the context).
    const copy = decodeEntry(entry.bytes)!
    await r.inject(await r.signed(r.mallory, { kind: 'chat', text: (copy as { text: Uint8Array }).text }, r.clock() + 1))
    expect(texts(r)).toEqual(['<img src=x onerror=alert(1)> secret plans', null])
  })
})

describe('chat rules', () => {
  it('a ban makes every message of the banned member disappear', async () => {
    const r = await moderatedRoom()
    await r.alice.sendChat('one')
    await r.bob.sendChat('hello')
    r.advance(CHAT_WINDOW_MS)
    await r.alice.sendChat('two')
    const before = r.state.chat.filter((m) => m.author === r.alice.key).map((m) => m.id)
    await r.mod.ban(r.alice.key)
    expect(texts(r)).toEqual(['hello'])
    for (const id of before) expect(r.state.reasons.get(id)).toBe('banned')
  })

  it('a hide removes a message for everyone; the owner hides anyone, a moderator a listener and its own', async () => {
    const r = await moderatedRoom()
    const a = await r.alice.sendChat('rude')
    const m = await r.mod.sendChat('oops')
    const o = await r.mod2.sendChat('fine')
    await r.mod.hideChat(a)
    await r.mod.hideChat(m)
    await r.owner.hideChat(o)
    expect(r.state.chat).toEqual([])
    expect(r.state.reasons.has(a)).toBe(false)
    // The same on a replica computing from scratch, entries in reverse.
    const fresh = computeState([...r.replica.entries].reverse(), { roomId: r.roomId, now: r.clock() })
    expect(fresh.chat).toEqual([])
  })

  it('the order is (time, id) on every replica, and nothing counts after the end', async () => {
    const r = await moderatedRoom()
    const t = r.clock()
    const ids = await r.inject(
      await r.signed(r.bob, { kind: 'chat', text: sealedBy(r, r.bob, 'second') }, t + 2),
      await r.signed(r.alice, { kind: 'chat', text: sealedBy(r, r.alice, 'first') }, t + 1),
    )
    expect(texts(r)).toEqual(['first', 'second'])
    const shuffled = computeState([...r.replica.entries].reverse(), { roomId: r.roomId, now: r.clock() })
    expect(shuffled.chat).toEqual(r.state.chat)
    await r.owner.endRoom()
    const [late] = await r.inject(await r.signed(r.alice, { kind: 'chat', text: sealedBy(r, r.alice, 'late') }, r.clock() + 1))
    expect(r.state.reasons.get(late!)).toBe('room-ended')
    expect(ids).toHaveLength(2)
    await expect(r.alice.sendChat('late')).rejects.toBeInstanceOf(RoomError)
  })

  it('the actor refuses empty and over-long text', async () => {
    const r = await moderatedRoom()
    await expect(r.alice.sendChat('   ')).rejects.toMatchObject({ code: 'bad-argument' })
    await expect(r.alice.sendChat('y'.repeat(MAX_CHAT_CHARS + 1))).rejects.toMatchObject({ code: 'too-long' })
    await r.alice.sendChat('y'.repeat(MAX_CHAT_CHARS))
    await r.alice.sendChat('é'.repeat(MAX_CHAT_CHARS))
    expect(texts(r).map((x) => x?.length)).toEqual([MAX_CHAT_CHARS, MAX_CHAT_CHARS])
  })
})
