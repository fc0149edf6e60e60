import { describe, expect, test } from 'vitest'
import { planTopology, type TopologyInput } from '../../../src/net/topology.ts'

const limits = { meshSize: 4, hysteresis: 1, hardCap: 6 }
const base = (over: Partial<TopologyInput>): TopologyInput => ({
  self: 'a',
  present: ['a', 'b', 'c'],
  speakers: new Set(['a']),
  relayAvailable: true,
  current: 'mesh',
  joined: true,
  ...over,
})

describe('planTopology', () => {
  test('a speaker in a small room connects to and sends to everyone else', () => {
    const plan = planTopology(base({}), limits)
    expect(plan).toEqual({ mode: 'mesh', connect: ['b', 'c'], sendAudioTo: ['b', 'c'], playFrom: [] })
  })

  test('a listener sends nothing and plays only speakers', () => {
    const plan = planTopology(base({ self: 'c', speakers: new Set(['a']) }), limits)
    expect(plan.sendAudioTo).toEqual([])
    expect(plan.playFrom).toEqual(['a'])
  })

  test('a peer claiming to speak is not played unless the state says so', () => {
    const plan = planTopology(base({ self: 'b', speakers: new Set(['a']) }), limits)
    expect(plan.playFrom).not.toContain('c')
  })

  test('switches to relay above mesh size and back only below the hysteresis band', () => {
    const five = ['a', 'b', 'c', 'd', 'e']
    expect(planTopology(base({ present: five }), limits).mode).toBe('relay')
    expect(planTopology(base({ present: five.slice(0, 4) }), limits).mode).toBe('mesh')
    expect(planTopology(base({ present: five.slice(0, 4), current: 'relay' }), limits).mode).toBe('relay')
    expect(planTopology(base({ present: five.slice(0, 3), current: 'relay' }), limits).mode).toBe('mesh')
  })

  test('falls back to mesh when the relay goes away', () => {
    const plan = planTopology(base({ present: ['a', 'b', 'c', 'd', 'e'], current: 'relay', relayAvailable: false }), limits)
    expect(plan.mode).toBe('mesh')
    expect(plan.connect).toEqual(['b', 'c', 'd', 'e'])
  })

  test('without a relay a newcomer past the hard cap is told the room is full', () => {
    const present = ['a', 'b', 'c', 'd', 'e', 'f', 'g']
    const plan = planTopology(base({ present, relayAvailable: false, joined: false }), limits)
    expect(plan.mode).toBe('full')
    expect(plan.reason).toMatch(/full/)
    expect(planTopology(base({ present, relayAvailable: false, joined: true }), limits).mode).toBe('mesh')
  })
})
