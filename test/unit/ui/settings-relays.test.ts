/** The settings' relays (SettingsModel): added one at a time with a clear refusal, saved to the profile. */
import { describe, expect, it } from 'vitest'
import { relayListAdd, SettingsModel } from '../../../src/ui/lib/settings.ts'
import type { Profile, ProfileStore } from '../../../src/ui/deps.ts'

function store(initial: Profile): ProfileStore & { current: Profile } {
  const s = {
    current: initial,
    get: async () => s.current,
    set: async (patch: Partial<Omit<Profile, 'id'>>) => (s.current = { ...s.current, ...patch }),
  }
  return s
}

describe('SettingsModel relays', () => {
  it('adds a relay normalized to its /relay URL, or says what is wrong', () => {
    expect(relayListAdd([], 'wss://r.example')).toEqual({ ok: true, value: ['wss://r.example/relay'] })
    expect(relayListAdd([], 'ws://r.example')).toEqual({ ok: false, message: expect.stringMatching(/Use wss:\/\//) })
  })

  it('saves the list, keeps it when untouched, and empties it', async () => {
    const profile = store({ id: 'me', name: 'Ann' })
    const model = new SettingsModel({ profile, microphones: async () => [] })
    await model.load()
    expect((await model.save('Ann', '', undefined, ['wss://r.example/relay'])).ok).toBe(true)
    expect(profile.current.relays).toEqual(['wss://r.example/relay'])
    expect((await model.save('Ann', '')).ok).toBe(true)
    expect(profile.current.relays).toEqual(['wss://r.example/relay'])
    expect((await model.save('Ann', '', undefined, [])).ok).toBe(true)
    expect(profile.current.relays).toEqual([])
  })

  it('refuses a bad entry that slipped in and saves nothing', async () => {
    const profile = store({ id: 'me', name: 'Ann' })
    const model = new SettingsModel({ profile, microphones: async () => [] })
    await model.load()
    const r = await model.save('Bea', '', undefined, ['ws://lan.example'])
    expect(r.ok).toBe(false)
    expect(profile.current).toEqual({ id: 'me', name: 'Ann' })
  })
})
