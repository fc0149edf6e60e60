/** The settings' ICE servers (SettingsModel): saved when every line is a server, refused with the line's problem otherwise. */
import { describe, expect, it } from 'vitest'
import { iceLines, SettingsModel } from '../../../src/ui/lib/settings.ts'
import type { Profile, ProfileStore } from '../../../src/ui/deps.ts'

function store(initial: Profile): ProfileStore & { current: Profile } {
  const s = {
    current: initial,
    get: async () => s.current,
    set: async (patch: Partial<Omit<Profile, 'id'>>) => (s.current = { ...s.current, ...patch }),
  }
  return s
}

describe('SettingsModel ICE servers', () => {
  it('saves one server per line; blank lines are dropped', async () => {
    const profile = store({ id: 'me', name: 'Ann' })
    const model = new SettingsModel({ profile, microphones: async () => [] })
    await model.load()
    const r = await model.save('Ann', '', 'stun:relay.example:3478\n\n  turn:u:p@turn.example:443?transport=tcp  \n')
    expect(r.ok).toBe(true)
    expect(profile.current.iceServers).toEqual(['stun:relay.example:3478', 'turn:u:p@turn.example:443?transport=tcp'])
  })

  it('an empty list goes back to the default (the relay’s own STUN); leaving the field alone keeps the list', async () => {
    const profile = store({ id: 'me', name: 'Ann', iceServers: ['stun:a.example'] })
    const model = new SettingsModel({ profile, microphones: async () => [] })
    await model.load()
    expect((await model.save('Ann', '')).ok).toBe(true)
    expect(profile.current.iceServers).toEqual(['stun:a.example'])
    expect((await model.save('Ann', '', '  \n')).ok).toBe(true)
    expect(profile.current.iceServers).toEqual([])
  })

  it('refuses a bad line with its problem and saves nothing', async () => {
    const profile = store({ id: 'me', name: 'Ann' })
    const model = new SettingsModel({ profile, microphones: async () => [] })
    await model.load()
    const r = await model.save('Bea', '', 'stun:ok.example\nturn:turn.example')
    expect(r).toEqual({ ok: false, message: expect.stringMatching(/needs user:pass@/) })
    expect(profile.current.name).toBe('Ann')
  })

  it('iceLines trims and drops blank lines', () => {
    expect(iceLines(' a \n\nb\n')).toEqual(['a', 'b'])
  })
})
