/** Reactions in the UI: which are announced, and how a burst is gathered into one polite sentence. */
import { afterEach, describe, expect, test, vi } from 'vitest'
import { newReactions, reactionSentence } from '../../../src/ui/lib/announce.ts'
import { REACTION_SAY_MS, RoomView } from '../../../src/ui/lib/room-view.ts'
import { controls } from '../../../src/ui/lib/controls.ts'
import { person, session, snapshot } from './fixtures.ts'

afterEach(() => vi.useRealTimers())

describe('reaction announcements', () => {
  test('a new reaction (a new seq, even of the same emoji) is announced; your own is not', () => {
    const bea = person('bea', { name: 'Bea' })
    const a = snapshot({ audience: [bea] })
    const b = snapshot({ audience: [{ ...bea, reaction: { emoji: '👏', seq: 1 } }] })
    expect(newReactions(a, b)).toEqual(['Bea: applause'])
    expect(newReactions(b, b)).toEqual([])
    const c = snapshot({ audience: [{ ...bea, reaction: { emoji: '👏', seq: 2 } }] })
    expect(newReactions(b, c)).toEqual(['Bea: applause'])
    const mine = snapshot({}, { reaction: { emoji: '🔥', seq: 3 } })
    expect(newReactions(a, mine)).toEqual([])
    expect(reactionSentence(['a', 'b'])).toBe('a, b')
    expect(reactionSentence(['a', 'b', 'c', 'd'])).toBe('4 reactions')
  })

  test('a burst is said once, then no more often than every REACTION_SAY_MS', () => {
    vi.useFakeTimers()
    const s = session(snapshot())
    const view = new RoomView(s)
    for (let i = 1; i <= 5; i++) s.emit(snapshot({ audience: [person(`p${i}`, { name: `P${i}`, reaction: { emoji: '🔥', seq: i } })] }))
    vi.advanceTimersByTime(0)
    expect(view.announcement.current.text).toBe('5 reactions')
    s.emit(snapshot({ audience: [person('x', { name: 'X', reaction: { emoji: '👍', seq: 9 } })] }))
    s.emit(snapshot({ audience: [person('y', { name: 'Y', reaction: { emoji: '👍', seq: 10 } })] }))
    vi.advanceTimersByTime(REACTION_SAY_MS - 10)
    expect(view.announcement.current.text).toBe('5 reactions')
    vi.advanceTimersByTime(20)
    expect(view.announcement.current.text).toBe('X: thumbs up, Y: thumbs up')
    view.destroy()
  })

  test('reactions are offered in a live room only', () => {
    expect(controls(snapshot()).react).toBe(true)
    expect(controls(snapshot({ ended: true })).react).toBe(false)
  })
})
