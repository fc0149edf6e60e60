/**
 * `stoop peer --react`: which words and emoji it takes (the set of src/participant/reactions.ts,
 * by emoji or by the name a screen reader says), and a refusal for anything else (usage, exit 2).
 */
import { describe, expect, test } from 'vitest'
import { exitCodeOf, reactionOf } from '../../../src/cli/options.ts'
import { REACTIONS } from '../../../src/participant/reactions.ts'

describe('--react', () => {
  test('takes every emoji of the set, and its name', () => {
    for (const r of REACTIONS) {
      expect(reactionOf(r.emoji)).toBe(r.emoji)
      expect(reactionOf(r.label)).toBe(r.emoji)
      expect(reactionOf(r.label.toUpperCase())).toBe(r.emoji)
    }
  })

  test('takes an emoji typed without its presentation selector', () => {
    expect(reactionOf('\u2764')).toBe('❤️')
  })

  test('refuses anything else as bad usage (exit 2), naming the set', () => {
    for (const bad of ['🍕', '', 'clap', '👏👏', '<b>', '🔥 fire']) {
      let err: unknown
      try {
        reactionOf(bad)
      } catch (e) {
        err = e
      }
      expect(exitCodeOf(err)).toBe(2)
      expect((err as Error).message).toContain('--react must be one of 👏 😂 ❤️ 🔥 👍 🙌 😮')
    }
  })
})
