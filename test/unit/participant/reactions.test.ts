/** Reactions: the set, the limits on both sides, and what a peer's presence may not do. */
import { describe, expect, it } from 'vitest'
import { REACTION_INTERVAL_MS, REACTION_SHOW_MS, ReactionFeed, ReactionLimiter, REACTIONS, readReaction, ROOM_REACTIONS_PER_S, reactionLabel } from '../../../src/participant/reactions.ts'

describe('readReaction', () => {
  it('accepts the set only, with a finite time', () => {
    expect(REACTIONS.map((r) => r.emoji)).toContain('👏')
    expect(readReaction({ emoji: '👏', at: 5 })).toEqual({ emoji: '👏', at: 5 })
    expect(readReaction(undefined)).toBeNull()
    expect(readReaction(null)).toBeNull()
    expect(readReaction('👏')).toBe('malformed')
    expect(readReaction({ emoji: '👏', at: '5' })).toBe('malformed')
    expect(readReaction({ emoji: '👏', at: Infinity })).toBe('malformed')
    expect(readReaction({ emoji: '<img src=x onerror=alert(1)>', at: 1 })).toBe('unknown')
    expect(readReaction({ emoji: '💩', at: 1 })).toBe('unknown')
    expect(reactionLabel('🔥')).toBe('fire')
    expect(reactionLabel('💩')).toBe('')
  })
})

describe('ReactionLimiter', () => {
  it('lets one through per interval per key', () => {
    const l = new ReactionLimiter()
    expect(l.allow('a', 0)).toBe(true)
    expect(l.allow('a', REACTION_INTERVAL_MS - 1)).toBe(false)
    expect(l.allow('b', 10)).toBe(true)
    expect(l.allow('a', REACTION_INTERVAL_MS)).toBe(true)
  })
})

describe('ReactionFeed', () => {
  it('shows a new reaction once, for its time; a repeat of the same presence is not a new one', () => {
    const feed = new ReactionFeed()
    const first = feed.receive('bea', { emoji: '👏', at: 100 }, 1000)
    expect(first).toMatchObject({ emoji: '👏', until: 1000 + REACTION_SHOW_MS })
    expect(feed.receive('bea', { emoji: '👏', at: 100 }, 1200)).toBeNull()
    expect(feed.shown(1500).get('bea')?.emoji).toBe('👏')
    expect(feed.nextExpiry()).toBe(1000 + REACTION_SHOW_MS)
    // The same emoji again, a second later: a new reaction (new seq).
    const again = feed.receive('bea', { emoji: '👏', at: 1200 }, 2000)
    expect(again!.seq).toBeGreaterThan(first!.seq)
    expect(feed.shown(2000 + REACTION_SHOW_MS).size).toBe(0)
    expect(feed.nextExpiry()).toBeNull()
  })

  it('drops a flood from one person and unknown or malformed fields, counting each once', () => {
    const feed = new ReactionFeed()
    let shown = 0
    for (let i = 0; i < 100; i++) if (feed.receive('eve', { emoji: '🔥', at: i }, 5000 + i * 5)) shown++
    expect(shown).toBe(1) // 100 in half a second: one shown
    expect(feed.dropped.rate).toBe(99)
    feed.receive('eve', { emoji: '<b>x</b>', at: 1 }, 9000)
    feed.receive('eve', { emoji: '<b>x</b>', at: 1 }, 9001)
    feed.receive('eve', 'junk', 9002)
    expect(feed.dropped).toMatchObject({ unknown: 1, malformed: 1 })
    expect(feed.shown(9003).get('eve')).toBeUndefined()
  })

  it('caps the whole room per second, so many keys cannot flood either', () => {
    const feed = new ReactionFeed()
    let shown = 0
    for (let i = 0; i < ROOM_REACTIONS_PER_S + 40; i++) if (feed.receive(`p${i}`, { emoji: '👍', at: 1 }, 100)) shown++
    expect(shown).toBe(ROOM_REACTIONS_PER_S)
    expect(feed.receive('late', { emoji: '👍', at: 1 }, 1100)).not.toBeNull()
  })

  it('forgets a person who left', () => {
    const feed = new ReactionFeed()
    feed.receive('bea', { emoji: '❤️', at: 1 }, 0)
    feed.forget('bea')
    expect(feed.shown(1).size).toBe(0)
    expect(feed.receive('bea', { emoji: '❤️', at: 1 }, 2)).not.toBeNull()
  })
})
