/** Pieces of the browser session split out of session.ts: speaking levels and who may hide a chat message. */
import { describe, expect, it } from 'vitest'
import { LevelSampler, quantize } from '../../../src/app/levels.ts'
import { mayHide } from '../../../src/app/chat-view.ts'
import type { RoomState } from '../../../src/room/index.ts'

describe('LevelSampler', () => {
  it('publishes its own level only on change and reports when the shown levels change', () => {
    let mine = 0
    let remote = new Map<string, number>()
    const published: number[] = []
    const s = new LevelSampler({ selfId: 'me', self: () => mine, remote: () => remote, publish: (l) => published.push(l) })
    expect(s.sample()).toBe(false)
    mine = 0.51
    remote = new Map([['bea', 0.32]])
    expect(s.sample()).toBe(true)
    expect([...s.levels]).toEqual([['bea', 0.3], ['me', 0.5]])
    expect(published).toEqual([0.5])
    mine = 0.52 // the same after quantizing: nothing new
    expect(s.sample()).toBe(false)
    expect(published).toEqual([0.5])
    s.forget('bea')
    expect(s.levels.has('bea')).toBe(false)
    expect(quantize(0.026)).toBe(0.05)
  })
})

describe('mayHide', () => {
  const state = (patch: Partial<RoomState>): RoomState =>
    ({ owner: 'owner', moderators: new Map([['mod', 'g1'], ['mod2', 'g2']]), banned: new Map(), ended: false, ...patch }) as RoomState
  it('follows the model: the owner hides anyone, a moderator not the owner or another moderator', () => {
    const s = state({})
    expect(mayHide(s, 'owner', 'mod')).toBe(true)
    expect(mayHide(s, 'mod', 'listener')).toBe(true)
    expect(mayHide(s, 'mod', 'mod')).toBe(true)
    expect(mayHide(s, 'mod', 'mod2')).toBe(false)
    expect(mayHide(s, 'mod', 'owner')).toBe(false)
    expect(mayHide(s, 'listener', 'listener')).toBe(false)
    expect(mayHide(state({ ended: true }), 'owner', 'x')).toBe(false)
  })
})
