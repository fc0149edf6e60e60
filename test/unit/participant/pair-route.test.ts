/**
 * Pairs the mesh cannot connect (src/participant/pair-route.ts), step by step on plain
 * numbers: each `at(ms)` is one re-plan of RoomClient at that time.
 */
import { describe, expect, it } from 'vitest'
import { INITIAL_PAIRS, PAIR_RELAY_MS, pairChanges, pairRoutes, type PairInput, type PairStep } from '../../../src/participant/pair-route.ts'
import { RELAY_LEAVE_MESH_MS, RELAY_SETTLE_MS, type TrackSince } from '../../../src/participant/route-switch.ts'

const A = 'alice'
const B = 'bob'

type World = Omit<PairInput, 'now' | 'prev'>

function participant(world: Partial<World>) {
  const w: World = { mode: 'mesh', connect: [A, B], connected: [], playFrom: [A], meshTracks: [], ...world }
  let prev = INITIAL_PAIRS
  return {
    at(now: number, change: Partial<World> = {}): PairStep {
      Object.assign(w, change)
      const step = pairRoutes({ ...w, now, prev })
      prev = step.state
      return step
    },
  }
}
const tracks = (since: number, ...ids: string[]): TrackSince[] => ids.map((id) => ({ id, since }))

describe('a mesh link that does not come up', () => {
  it('is relayed PAIR_RELAY_MS after it was first planned, and a re-plan is asked for then', () => {
    const p = participant({ connected: [B] })
    expect(p.at(0)).toMatchObject({ state: { relayed: [] }, waits: [PAIR_RELAY_MS] })
    expect(p.at(PAIR_RELAY_MS - 1)).toMatchObject({ state: { relayed: [] }, waits: [] })
    expect(p.at(PAIR_RELAY_MS).state.relayed).toEqual([A])
  })

  it('a link that goes down later starts the clock then', () => {
    const p = participant({ connected: [A, B] })
    p.at(0)
    expect(p.at(10_000, { connected: [B] }).waits).toEqual([PAIR_RELAY_MS])
    expect(p.at(10_000 + PAIR_RELAY_MS - 1).state.relayed).toEqual([])
    expect(p.at(10_000 + PAIR_RELAY_MS).state.relayed).toEqual([A])
  })

  it('a link that comes up in time is never relayed', () => {
    const p = participant({})
    p.at(0)
    p.at(PAIR_RELAY_MS - 1, { connected: [A, B] })
    expect(p.at(10 * PAIR_RELAY_MS).state.relayed).toEqual([])
  })

  it('keeps the list object while nothing changes (RoomClient compares it)', () => {
    const p = participant({})
    const first = p.at(PAIR_RELAY_MS).state.relayed
    p.at(0)
    expect(p.at(PAIR_RELAY_MS + 1).state.relayed).toBe(p.at(PAIR_RELAY_MS + 2).state.relayed)
    expect(first).toEqual([])
  })
})

describe('back to the mesh, make-before-break', () => {
  const relayedAt = (world: Partial<World>) => {
    const p = participant(world)
    p.at(0)
    expect(p.at(PAIR_RELAY_MS).state.relayed).toEqual([A, B])
    return p
  }

  it('a speaker goes back once its link has been up RELAY_LEAVE_MESH_MS and its mesh track has settled', () => {
    const p = relayedAt({})
    const up = 20_000
    expect(p.at(up, { connected: [A, B] })).toMatchObject({ state: { relayed: [A, B] }, waits: [RELAY_LEAVE_MESH_MS, RELAY_LEAVE_MESH_MS] })
    // B is a listener: nothing of theirs to settle. A has sent no mesh track yet.
    expect(p.at(up + RELAY_LEAVE_MESH_MS).state.relayed).toEqual([A])
    p.at(up + RELAY_LEAVE_MESH_MS, { meshTracks: tracks(up + RELAY_LEAVE_MESH_MS, A) })
    expect(p.at(up + RELAY_LEAVE_MESH_MS + RELAY_SETTLE_MS - 1).state.relayed).toEqual([A])
    expect(p.at(up + RELAY_LEAVE_MESH_MS + RELAY_SETTLE_MS).state.relayed).toEqual([])
  })

  it('a link that drops again before that stays relayed, with no new wait', () => {
    const p = relayedAt({ playFrom: [] })
    p.at(20_000, { connected: [A, B] })
    expect(p.at(20_500, { connected: [B] })).toMatchObject({ waits: [] })
    expect(p.at(20_000 + RELAY_LEAVE_MESH_MS).state.relayed).toEqual([A])
  })

  it('a peer that leaves the plan leaves the list', () => {
    const p = relayedAt({})
    expect(p.at(PAIR_RELAY_MS + 1, { connect: [B] }).state.relayed).toEqual([B])
  })
})

describe('only in mesh mode', () => {
  it('relay mode (everyone on the relay) and a full room clear the pairs; the clocks start again in mesh mode', () => {
    for (const mode of ['relay', 'full'] as const) {
      const p = participant({})
      p.at(0)
      p.at(PAIR_RELAY_MS)
      expect(p.at(PAIR_RELAY_MS + 1, { mode }).state).toEqual(INITIAL_PAIRS)
      expect(p.at(20_000, { mode: 'mesh' })).toMatchObject({ state: { relayed: [] }, waits: [PAIR_RELAY_MS, PAIR_RELAY_MS] })
    }
  })
})

describe('pairChanges', () => {
  it('names each peer that moved, with its path now', () => {
    expect(pairChanges([A], [B])).toEqual([[B, 'relay'], [A, 'mesh']])
    const same = [A]
    expect(pairChanges(same, same)).toEqual([])
  })
})
