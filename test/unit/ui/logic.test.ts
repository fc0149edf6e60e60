import { describe, expect, test } from 'vitest'
import { announcements } from '../../../src/ui/lib/announce.ts'
import { avatarColour, initials } from '../../../src/ui/lib/avatar.ts'
import { controls, personActions } from '../../../src/ui/lib/controls.ts'
import { rejectedRows } from '../../../src/ui/lib/connection.ts'
import { nameList, relativeTime } from '../../../src/ui/lib/format.ts'
import { checkTitle, joinTarget } from '../../../src/ui/lib/home.ts'
import { explain, problemFromError } from '../../../src/ui/lib/problems.ts'
import { parseRoute, roomFragment } from '../../../src/ui/lib/route.ts'
import { qrShape } from '../../../src/ui/lib/qr.ts'
import { person, snapshot } from './fixtures.ts'

describe('routes', () => {
  test('home, room and odd hashes', () => {
    expect(parseRoute('')).toEqual({ name: 'home' })
    expect(parseRoute('#/')).toEqual({ name: 'home' })
    expect(parseRoute('#/r/abc?k=1&g=2')).toEqual({ name: 'room', roomId: 'abc', fragment: '#/r/abc?k=1&g=2' })
    expect(parseRoute('#/r/')).toMatchObject({ name: 'room', roomId: '' })
    expect(roomFragment('  https://x.org/#/r/a?k=1 ')).toBe('#/r/a?k=1')
    expect(roomFragment('https://x.org/')).toBeUndefined()
  })
})

describe('announcements', () => {
  const dee = person('dee', { name: 'Dee', handRaisedAt: 5 })
  test('hands are announced to moderators only', () => {
    const before = snapshot({}, { canModerate: true })
    expect(announcements(before, { ...before, hands: [dee] })).toEqual(['Dee raised a hand'])
    const listener = snapshot()
    expect(announcements(listener, { ...listener, hands: [dee] })).toEqual([])
  })
  test('own stage moves, invites, moderation and the end', () => {
    const s = snapshot()
    expect(announcements(s, snapshot({}, { onStage: true }))).toEqual(['You are on stage'])
    expect(announcements(snapshot({}, { onStage: true }), s)).toEqual(['You are in the audience'])
    expect(announcements(s, snapshot({ pendingInvite: { id: 'i', fromName: 'Ana' } }))).toEqual(['Ana invited you to speak'])
    expect(announcements(s, snapshot({}, { canModerate: true }))).toEqual(['You are now a moderator'])
    expect(announcements(s, snapshot({ ended: true, hands: [dee] }))).toEqual(['The room has ended'])
    expect(announcements(s, snapshot({ stage: [person('bo', { name: 'Bo', onStage: true })] }))).toEqual(['Bo is on stage'])
    expect(announcements(s, snapshot({ mode: 'offline' }))).toEqual(['Connection lost'])
    expect(announcements(s, s)).toEqual([])
  })
})

describe('controls', () => {
  test('listener, raised hand, speaker, owner', () => {
    expect(controls(snapshot())).toMatchObject({ raiseHand: true, lowerHand: false, mute: false, endRoom: false, handsQueue: false })
    expect(controls(snapshot({}, { handRaisedAt: 1 }))).toMatchObject({ raiseHand: false, lowerHand: true })
    expect(controls(snapshot({}, { onStage: true, muted: true }))).toMatchObject({ raiseHand: false, unmute: true, mute: false, leaveStage: true })
    expect(controls(snapshot({}, { onStage: true, isOwner: true, canModerate: true, muted: false }))).toMatchObject({ mute: true, leaveStage: false, endRoom: true, handsQueue: true })
    expect(controls(snapshot({ ended: true }, { isOwner: true }))).toMatchObject({ endRoom: false, raiseHand: false })
  })
  test('moderation actions follow authority', () => {
    const mod = snapshot({}, { canModerate: true, role: 'moderator' })
    const owner = snapshot({}, { canModerate: true, isOwner: true, role: 'owner' })
    expect(personActions(snapshot(), person('x'))).toEqual([])
    expect(personActions(mod, person('x'))).toEqual(['invite', 'kick', 'ban'])
    expect(personActions(mod, person('x', { onStage: true, role: 'speaker' }))).toEqual(['to-audience', 'mute', 'kick', 'ban'])
    // Muted by a moderator already: no second mute.
    expect(personActions(mod, person('x', { onStage: true, role: 'speaker', mutedByModerator: true }))).toEqual(['to-audience', 'kick', 'ban'])
    expect(personActions(mod, person('m', { role: 'moderator' }))).toEqual(['invite'])
    expect(personActions(mod, person('o', { role: 'owner' }))).toEqual([])
    expect(personActions(mod, mod.self)).toEqual([])
    // Only the owner hands the room over, and only to a moderator; moderators are never kicked.
    expect(personActions(owner, person('m', { role: 'moderator' }))).toEqual(['invite', 'remove-moderator', 'make-owner', 'ban'])
    expect(personActions(owner, person('x'))).toEqual(['invite', 'make-moderator', 'kick', 'ban'])
  })
})

describe('home validation', () => {
  const parse = (l: string) => (l.includes('k=') ? { ok: true as const, roomId: 'a' } : { ok: false as const, message: 'no key' })
  test('titles and pasted links', () => {
    expect(checkTitle('  ')).toMatch(/title/)
    expect(checkTitle('x'.repeat(81))).toMatch(/80/)
    expect(checkTitle('Jazz')).toBeUndefined()
    expect(joinTarget('', parse)).toMatchObject({ ok: false })
    expect(joinTarget('hello', parse)).toMatchObject({ ok: false, message: expect.stringMatching(/not a Stoop room link/) })
    expect(joinTarget('http://h/#/r/a', parse)).toEqual({ ok: false, message: 'no key' })
    expect(joinTarget('http://h/#/r/a?k=1', parse)).toEqual({ ok: true, value: '#/r/a?k=1' })
    expect(joinTarget('http://h/#/r/a?k=1', () => { throw new Error('boom') })).toEqual({ ok: false, message: 'boom' })
  })
})

describe('problems', () => {
  test('codes from errors, and what is blocking', () => {
    expect(problemFromError(Object.assign(new Error('nope'), { code: 'banned' }))).toEqual({ code: 'banned', message: 'nope' })
    expect(problemFromError(new Error('x'))).toEqual({ code: 'unreachable', message: 'x' })
    expect(explain({ code: 'wrong-secret', message: '' }).title).toBe('This link does not open this room')
    expect(explain({ code: 'room-full', message: '' }, 'relay at 200').body).toBe('relay at 200')
    expect(explain({ code: 'offline', message: '' }).blocking).toBe(false)
    expect(explain({ code: 'mic-denied', message: '' }).blocking).toBe(false)
  })
})

describe('avatars and text', () => {
  // WCAG relative luminance of an hsl() colour, for white initials.
  function contrastWithWhite(css: string): number {
    const [h, s, l] = css.match(/[\d.]+/g)!.map(Number) as [number, number, number]
    const a = (s / 100) * Math.min(l / 100, 1 - l / 100)
    const f = (n: number) => {
      const k = (n + h / 30) % 12
      const c = l / 100 - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
    }
    const lum = 0.2126 * f(0) + 0.7152 * f(8) + 0.0722 * f(4)
    return 1.05 / (lum + 0.05)
  }
  test('every avatar colour keeps white initials at AA', () => {
    for (let i = 0; i < 400; i++) expect(contrastWithWhite(avatarColour(`key${i}`))).toBeGreaterThanOrEqual(4.5)
    expect(avatarColour('abc')).toBe(avatarColour('abc'))
  })
  test('initials', () => {
    expect(initials('Ana Maria Ortiz')).toBe('AO')
    expect(initials('dee')).toBe('D')
    expect(initials('', 'x_9kQ')).toBe('X9')
    expect(initials('  ')).toBe('?')
  })
  test('lists, times, rejected rows, QR', () => {
    expect(nameList(['A', 'B', 'C', 'D'])).toBe('A, B and 2 more')
    expect(nameList(['A', 'B'])).toBe('A and B')
    expect(relativeTime(0, 10_000)).toBe('just now')
    expect(relativeTime(0, 3 * 3_600_000)).toBe('3 h ago')
    expect(rejectedRows({ a: 1, b: 3, c: 0 })).toEqual([['b', 3], ['a', 1]])
    const qr = qrShape('http://localhost/#/r/abc?k=secret')
    expect(qr.size).toBeGreaterThan(20)
    expect(qr.path).toMatch(/^M\d+ \d+h\d+v1h-\d+z/)
  })
})
