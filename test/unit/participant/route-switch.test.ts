/**
 * The mesh/relay switch (src/participant/route-switch.ts), step by step on plain numbers:
 * each `at(ms)` is one re-plan of RoomClient at that time, carrying the switch state over.
 */
import { describe, expect, it } from 'vitest'
import {
  INITIAL_SWITCH,
  RELAY_LEAVE_MESH_MS,
  RELAY_SETTLE_MS,
  playsFromRelay,
  relayCarries,
  relayTrackSince,
  switchRoute,
  type RelayView,
  type SwitchInput,
  type SwitchStep,
  type TrackSince,
} from '../../../src/participant/route-switch.ts'

const A = 'alice'
const B = 'bob'
const C = 'carol'

type World = Omit<SwitchInput, 'now' | 'prev' | 'relay'> & { relay: RelayView | null }

const ready: RelayView = { state: 'ready', sending: false, resumed: false, failingOver: false }
const relayPlan = { mode: 'relay' as const, connect: [], playFrom: [A, B] }
const meshPlan = { mode: 'mesh' as const, connect: [A, B, C], playFrom: [A, B] }

/** A participant's view over time: `at(now, change)` applies the change, then runs one step. */
function participant(world: Partial<World>) {
  const w: World = {
    plan: relayPlan,
    relay: ready,
    relayTracks: [],
    meshTracks: [],
    meshConnected: [],
    speaking: false,
    hasLocal: false,
    ...world,
  }
  let prev = INITIAL_SWITCH
  return {
    at(now: number, change: Partial<World> = {}): SwitchStep {
      Object.assign(w, change)
      const step = switchRoute({ ...w, now, prev })
      prev = step.state
      return step
    },
    relay(change: Partial<RelayView>): { relay: RelayView } {
      return { relay: { ...(w.relay ?? ready), ...change } }
    },
  }
}

const tracks = (since: number, ...ids: string[]): TrackSince[] => ids.map((id) => ({ id, since }))
const keepsMesh = { mesh: 'fallback', relay: 'start', via: 'mesh' }
const onRelay = { mesh: 'plan', relay: 'start', via: 'relay' }

describe('towards the relay (relay mode)', () => {
  it('while the relay connects, the mesh of the whole room is kept', () => {
    const p = participant({ relay: { ...ready, state: 'connecting' } })
    expect(p.at(0)).toMatchObject({ ...keepsMesh, replanIn: null, state: { coveredSince: null } })
  })

  it('the mesh is kept until the relay carries every speaker heard', () => {
    const p = participant({ relayTracks: tracks(0, A) })
    expect(p.at(5000)).toMatchObject({ ...keepsMesh, state: { coveredSince: null } })
    expect(p.at(5000, { relayTracks: tracks(0, A, B) })).toMatchObject({ ...keepsMesh, state: { coveredSince: 5000 } })
  })

  it('a relay track carries its speaker only once it has settled (RELAY_SETTLE_MS)', () => {
    const p = participant({ relayTracks: tracks(1000, A, B) })
    expect(p.at(1000 + RELAY_SETTLE_MS - 1).state.coveredSince).toBeNull()
    expect(p.at(1000 + RELAY_SETTLE_MS).state.coveredSince).toBe(1000 + RELAY_SETTLE_MS)
  })

  it('...and our own voice when we speak', () => {
    const p = participant({ relayTracks: tracks(0, A, B), speaking: true, hasLocal: true })
    expect(p.at(1000)).toMatchObject({ ...keepsMesh, state: { coveredSince: null } })
    expect(p.at(1000, p.relay({ sending: true })).state.coveredSince).toBe(1000)
  })

  it('a speaker with no local track yet, or a listener, has no voice for the relay to carry', () => {
    for (const world of [{ speaking: true, hasLocal: false }, { speaking: false, hasLocal: true }]) {
      expect(participant({ relayTracks: tracks(0, A, B), ...world }).at(1000).state.coveredSince).toBe(1000)
    }
  })

  it('the mesh is left RELAY_LEAVE_MESH_MS after being covered, and a re-plan is asked for then', () => {
    const p = participant({ relayTracks: tracks(0, A, B) })
    expect(p.at(1000)).toMatchObject({ ...keepsMesh, replanIn: RELAY_LEAVE_MESH_MS })
    expect(p.at(1000 + RELAY_LEAVE_MESH_MS - 1)).toMatchObject({ ...keepsMesh, replanIn: null })
    expect(p.at(1000 + RELAY_LEAVE_MESH_MS)).toMatchObject({ ...onRelay, replanIn: null, state: { coveredSince: 1000 } })
  })

  it('losing cover restarts the wait', () => {
    const p = participant({ relayTracks: tracks(0, A, B) })
    p.at(1000)
    expect(p.at(1500, { relayTracks: tracks(0, A) })).toMatchObject({ ...keepsMesh, state: { coveredSince: null } })
    expect(p.at(1600, { relayTracks: tracks(0, A, B) })).toMatchObject({ ...keepsMesh, replanIn: RELAY_LEAVE_MESH_MS })
    expect(p.at(1600 + RELAY_LEAVE_MESH_MS - 1).via).toBe('mesh')
    expect(p.at(1600 + RELAY_LEAVE_MESH_MS).via).toBe('relay')
  })

  it('a relay that is not ready (idle, connecting, failed) covers nothing, whatever tracks remain listed', () => {
    for (const state of ['idle', 'connecting', 'failed'] as const) {
      const step = participant({ relay: { ...ready, state }, relayTracks: tracks(0, A, B) }).at(5000)
      expect(step).toMatchObject({ ...keepsMesh, state: { coveredSince: null } })
    }
  })

  it('a speaker who sends nothing (no track on the relay, none on the mesh) holds the mesh RELAY_LEAVE_MESH_MS at most after the relay is ready', () => {
    // B is on stage without a microphone: waiting for its relay track would keep the room-wide mesh for ever.
    const p = participant({ relayTracks: tracks(0, A), meshTracks: tracks(0, A) })
    expect(p.at(1000)).toMatchObject({ ...keepsMesh, replanIn: RELAY_LEAVE_MESH_MS, state: { coveredSince: null } })
    expect(p.at(1000 + RELAY_LEAVE_MESH_MS - 1).state.coveredSince).toBeNull()
    expect(p.at(1000 + RELAY_LEAVE_MESH_MS)).toMatchObject({ ...keepsMesh, replanIn: RELAY_LEAVE_MESH_MS, state: { coveredSince: 1000 + RELAY_LEAVE_MESH_MS } })
    expect(p.at(1000 + 2 * RELAY_LEAVE_MESH_MS).via).toBe('relay')
  })

  it('...but one heard on the mesh is waited for until its relay copy has settled', () => {
    const p = participant({ relayTracks: tracks(0, A), meshTracks: tracks(0, A, B) })
    p.at(1000)
    expect(p.at(1000 + 10 * RELAY_LEAVE_MESH_MS)).toMatchObject({ ...keepsMesh, state: { coveredSince: null } })
  })

  it('the relay not ready any more restarts that wait', () => {
    const p = participant({ relayTracks: tracks(0, A), meshTracks: tracks(0, A) })
    p.at(1000)
    p.at(1500, p.relay({ state: 'connecting' }))
    expect(p.at(1000 + RELAY_LEAVE_MESH_MS, p.relay({ state: 'ready' })).state.coveredSince).toBeNull()
    expect(p.at(1000 + 2 * RELAY_LEAVE_MESH_MS).state.coveredSince).toBe(1000 + 2 * RELAY_LEAVE_MESH_MS)
  })

  it('a resumed relay (after failover) is used at once', () => {
    const p = participant({ relay: { ...ready, resumed: true }, relayTracks: tracks(relayTrackSince(1000, true, 'mesh'), A, B) })
    expect(p.at(1000)).toMatchObject({ ...onRelay, state: { coveredSince: 1000 } })
  })

  it('failing over keeps the relay plan (no room-wide mesh) while the next relay connects', () => {
    const p = participant({ relay: { ...ready, state: 'connecting', failingOver: true } })
    expect(p.at(0)).toMatchObject({ mesh: 'plan', relay: 'start', via: 'mesh', state: { coveredSince: null } })
  })

  it('switching to the relay forgets a way back under way', () => {
    const p = participant({ plan: meshPlan, meshConnected: [A, B, C] })
    expect(p.at(0).state.meshReachedSince).toBe(0)
    expect(p.at(10, { plan: relayPlan }).state.meshReachedSince).toBeNull()
  })
})

describe('back to the mesh (mesh mode while the relay is ready)', () => {
  it('the relay is kept, and played from, until the mesh reaches everyone', () => {
    const p = participant({ plan: meshPlan, meshConnected: [A, B], meshTracks: tracks(0, A, B) })
    expect(p.at(5000)).toMatchObject({ mesh: 'plan', relay: 'keep', via: 'relay', replanIn: null, state: { meshReachedSince: null } })
  })

  it('...and its tracks of every speaker heard have settled', () => {
    const p = participant({ plan: meshPlan, meshConnected: [A, B, C], meshTracks: tracks(1000, A, B) })
    expect(p.at(1000 + RELAY_SETTLE_MS - 1)).toMatchObject({ relay: 'keep', via: 'relay' })
    expect(p.at(1000 + RELAY_SETTLE_MS)).toMatchObject({ mesh: 'plan', relay: 'stop', via: 'mesh' })
  })

  it('a speaker whose mesh track never arrives holds the relay at most RELAY_LEAVE_MESH_MS', () => {
    const p = participant({ plan: meshPlan, meshConnected: [A, B, C], meshTracks: tracks(0, A) })
    expect(p.at(1000)).toMatchObject({ relay: 'keep', via: 'relay', replanIn: RELAY_LEAVE_MESH_MS, state: { meshReachedSince: 1000 } })
    expect(p.at(1000 + RELAY_LEAVE_MESH_MS - 1)).toMatchObject({ relay: 'keep', replanIn: null })
    expect(p.at(1000 + RELAY_LEAVE_MESH_MS)).toMatchObject({ relay: 'stop', via: 'mesh' })
  })

  it('a peer dropping out of the mesh restarts that wait', () => {
    const p = participant({ plan: meshPlan, meshConnected: [A, B, C] })
    p.at(1000)
    expect(p.at(1500, { meshConnected: [A, B] }).state.meshReachedSince).toBeNull()
    expect(p.at(1600, { meshConnected: [A, B, C] }).replanIn).toBe(RELAY_LEAVE_MESH_MS)
    expect(p.at(1600 + RELAY_LEAVE_MESH_MS - 1).relay).toBe('keep')
    expect(p.at(1600 + RELAY_LEAVE_MESH_MS).relay).toBe('stop')
  })

  it('a relay that is not ready is not waited for, and the wait is left as it was', () => {
    for (const state of ['idle', 'connecting', 'failed'] as const) {
      const prev = { coveredSince: 7, meshReachedSince: 8, readySince: null }
      const step = switchRoute({
        plan: meshPlan,
        relay: { ...ready, state },
        relayTracks: [],
        meshTracks: [],
        meshConnected: [],
        speaking: false,
        hasLocal: false,
        now: 100,
        prev,
      })
      expect(step).toEqual({ mesh: 'plan', relay: 'keep', via: 'mesh', state: prev, replanIn: null })
    }
  })

  it('without a relay the plan is carried out as it is', () => {
    expect(participant({ relay: null, plan: meshPlan }).at(0)).toEqual({ mesh: 'plan', relay: 'keep', via: 'mesh', state: INITIAL_SWITCH, replanIn: null })
  })
})

describe('which copy of a voice plays', () => {
  it("the relay's copy, once it has settled on a ready relay; else the mesh's", () => {
    const relayTracks = tracks(1000, A)
    expect(relayCarries(ready, relayTracks, A, 1000 + RELAY_SETTLE_MS - 1)).toBe(false)
    expect(relayCarries(ready, relayTracks, A, 1000 + RELAY_SETTLE_MS)).toBe(true)
    expect(relayCarries(ready, relayTracks, B, 1000 + RELAY_SETTLE_MS)).toBe(false)
    expect(relayCarries({ state: 'connecting' }, relayTracks, A, 1000 + RELAY_SETTLE_MS)).toBe(false)
    expect(relayCarries(null, relayTracks, A, 1000 + RELAY_SETTLE_MS)).toBe(false)
  })

  it('a relay track with no mesh copy to hand over from (after a failover, or the mesh was left) plays at once', () => {
    expect(relayTrackSince(1000, false, 'mesh')).toBe(1000)
    expect(relayTrackSince(1000, true, 'mesh')).toBe(-Infinity)
    expect(relayTrackSince(1000, false, 'relay')).toBe(-Infinity)
  })
})

describe('relayed pairs (mesh mode, pair-route.ts)', () => {
  const idle: RelayView = { ...ready, state: 'idle' }

  it('a relayed pair starts the relay while it is not ready; the room stays on the mesh', () => {
    const p = participant({ plan: meshPlan, relay: idle, meshConnected: [B, C], relayed: [A] })
    expect(p.at(0)).toMatchObject({ mesh: 'plan', relay: 'start', via: 'mesh' })
    expect(participant({ plan: meshPlan, relay: idle, relayed: [] }).at(0).relay).toBe('keep')
  })

  it('a ready relay is kept while any pair is relayed, and the room plays from the mesh', () => {
    const p = participant({ plan: meshPlan, meshConnected: [B, C], meshTracks: tracks(0, B), relayed: [A] })
    expect(p.at(5000)).toMatchObject({ mesh: 'plan', relay: 'keep', via: 'mesh' })
    expect(p.at(6000, { relayed: [], meshConnected: [A, B, C], meshTracks: tracks(0, A, B) })).toMatchObject({ relay: 'stop', via: 'mesh' })
  })

  it("only a relayed peer's voice (and, relay mode or on the way back, every voice) is played from the relay", () => {
    const relayTracks = tracks(0, A, B)
    const now = 1000
    const pairMode = { mode: 'mesh' as const, via: 'mesh' as const, relayed: [A] }
    expect(playsFromRelay(pairMode, ready, relayTracks, A, now)).toBe(true)
    expect(playsFromRelay(pairMode, ready, relayTracks, B, now)).toBe(false)
    expect(playsFromRelay({ ...pairMode, relayed: [] }, ready, relayTracks, A, now)).toBe(false)
    expect(playsFromRelay({ ...pairMode, mode: 'relay' }, ready, relayTracks, B, now)).toBe(true)
    expect(playsFromRelay({ ...pairMode, via: 'relay' }, ready, relayTracks, B, now)).toBe(true)
    // Not before the relay's copy has settled: the mesh copy (if any) plays meanwhile.
    expect(playsFromRelay(pairMode, ready, tracks(now, A), A, now)).toBe(false)
  })
})
