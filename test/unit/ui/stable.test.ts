/** StableList: an unchanged item keeps its object across snapshots, so its tile does not re-render. */
import { describe, expect, test } from 'vitest'
import { StableList } from '../../../src/ui/lib/stable.ts'
import { person } from './fixtures.ts'

describe('StableList', () => {
  test('an item equal to the previous one (a fresh copy) is handed out as the previous object', () => {
    const list = new StableList<ReturnType<typeof person>>((p) => p.id)
    const first = list.keep([person('a', { name: 'A' }), person('b', { name: 'B', reaction: { emoji: '👏', seq: 1 } })])
    const again = list.keep([person('a', { name: 'A' }), person('b', { name: 'B', reaction: { emoji: '👏', seq: 1 } })])
    expect(again[0]).toBe(first[0])
    expect(again[1]).toBe(first[1])
  })

  test('a changed field, a new reaction, a field added or removed: the new object', () => {
    const list = new StableList<ReturnType<typeof person>>((p) => p.id)
    const [a] = list.keep([person('a', { name: 'A', level: 0 })])
    const [louder] = list.keep([person('a', { name: 'A', level: 0.5 })])
    expect(louder).not.toBe(a)
    expect(louder!.level).toBe(0.5)
    const [reacted] = list.keep([person('a', { name: 'A', level: 0.5, reaction: { emoji: '👏', seq: 1 } })])
    expect(reacted).not.toBe(louder)
    const [again] = list.keep([person('a', { name: 'A', level: 0.5, reaction: { emoji: '👏', seq: 2 } })])
    expect(again!.reaction).toEqual({ emoji: '👏', seq: 2 })
    const [gone] = list.keep([person('a', { name: 'A', level: 0.5 })])
    expect(gone!.reaction).toBeUndefined()
  })

  test('order and membership follow the new list; a person who left and came back is compared afresh', () => {
    const list = new StableList<ReturnType<typeof person>>((p) => p.id)
    const [a, b] = list.keep([person('a'), person('b')])
    const swapped = list.keep([person('b'), person('a')])
    expect(swapped).toEqual([b, a])
    expect(swapped[0]).toBe(b)
    list.keep([person('b')])
    const [back] = list.keep([person('a')])
    expect(back).not.toBe(a)
    expect(back).toEqual(a)
  })
})
