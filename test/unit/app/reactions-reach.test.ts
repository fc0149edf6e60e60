/**
 * A reaction reaches a person whose link to the sender comes up late (issue 15's flaky
 * features step: the owner never saw Cal's 🔥 while Bea's arrived). Presence is owner-served
 * over direct links, so a reaction cleared REACTION_SHOW_MS after sending never reached a
 * person present but not linked yet; chat and names reached them through everyone else.
 * The sender now keeps it while someone present has no link to it, at most REACTION_KEEP_MS.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { SessionReactions } from '../../../src/app/reactions.ts'
import type { Presence, PresentPeer } from '../../../src/participant/presence.ts'
import { REACTION_KEEP_MS, REACTION_SHOW_MS, reactionClearAt, unreached } from '../../../src/participant/reactions.ts'

describe('reactionClearAt', () => {
  test('once shown when everyone present is linked; kept up to REACTION_KEEP_MS while someone is not', () => {
    expect(unreached('me', ['me', 'bea'], ['bea'])).toBe(false)
    expect(unreached('me', ['me', 'bea', 'cal'], ['bea'])).toBe(true)
    expect(unreached('me', [], ['bea'])).toBe(false)
    expect(reactionClearAt(1000, false)).toBe(1000 + REACTION_SHOW_MS)
    expect(reactionClearAt(1000, true)).toBe(1000 + REACTION_KEEP_MS)
  })
})

describe('SessionReactions (sender)', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  function session(present: string[], linked: string[]) {
    const published: Array<Presence> = []
    const peers: PresentPeer[] = linked.map((key) => ({ key, presence: { name: key } }))
    const reactions = new SessionReactions({
      selfId: 'cal',
      peers: () => peers,
      present: () => new Set(present),
      publish: (p) => published.push(p),
      onchange: () => undefined,
      now: () => Date.now(),
    })
    return { reactions, published, peers }
  }

  test('everyone linked: the reaction leaves presence once shown', () => {
    const { reactions, published } = session(['cal', 'ana', 'bea'], ['ana', 'bea'])
    expect(reactions.send('🔥')).toBe(true)
    expect(published).toEqual([{ reaction: { emoji: '🔥', at: Date.now() } }])
    vi.advanceTimersByTime(REACTION_SHOW_MS - 1)
    expect(published).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(published.at(-1)).toEqual({ reaction: null })
    reactions.close()
  })

  test('the owner present but not linked yet: kept until the owner’s link is up, then cleared', () => {
    const { reactions, published, peers } = session(['cal', 'ana', 'bea'], ['bea'])
    reactions.send('🔥')
    vi.advanceTimersByTime(REACTION_SHOW_MS + 2000)
    expect(published).toHaveLength(1) // still out: the owner would never get it otherwise
    // The owner's link comes up: their presence reaches us, ours (with the reaction) reached them.
    peers.push({ key: 'ana', presence: { name: 'ana' } })
    reactions.refresh()
    vi.advanceTimersByTime(0)
    expect(published.at(-1)).toEqual({ reaction: null })
    reactions.close()
  })

  test('someone who never links does not keep it past REACTION_KEEP_MS', () => {
    const { reactions, published } = session(['cal', 'ana', 'eve'], ['ana'])
    reactions.send('👏')
    vi.advanceTimersByTime(REACTION_KEEP_MS - 1)
    expect(published).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(published.at(-1)).toEqual({ reaction: null })
    reactions.close()
  })
})
