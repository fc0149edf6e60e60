/** Relays from the settings: what is accepted, how it is normalized, and the list a session uses. */
import { describe, expect, it } from 'vitest'
import { addRelay, MAX_RELAYS, parseRelayUrl, relayUrlsFor } from '../../../src/app/relay-urls.ts'

describe('parseRelayUrl', () => {
  it('takes wss:// anywhere and ws:// on this device, defaulting to the /relay endpoint', () => {
    expect(parseRelayUrl(' wss://relay.example.org ')).toBe('wss://relay.example.org/relay')
    expect(parseRelayUrl('wss://relay.example.org:8443/stoop/relay')).toBe('wss://relay.example.org:8443/stoop/relay')
    expect(parseRelayUrl('ws://localhost:8787')).toBe('ws://localhost:8787/relay')
    expect(parseRelayUrl('ws://127.0.0.1:8787/relay')).toBe('ws://127.0.0.1:8787/relay')
    expect(parseRelayUrl('ws://[::1]:8787')).toBe('ws://[::1]:8787/relay')
  })

  it('refuses everything else with a line saying why', () => {
    const refused = (t: string) => {
      try {
        parseRelayUrl(t)
      } catch (err) {
        return `${(err as { code: string }).code}: ${(err as Error).message}`
      }
      return 'accepted'
    }
    expect(refused('')).toMatch(/^bad-relay-url: Enter a relay address/)
    expect(refused('relay.example.org')).toMatch(/is not an address/)
    expect(refused('ws://relay.example.org')).toMatch(/only for a relay on this device/)
    expect(refused('ws://192.168.1.5:8787')).toMatch(/only for a relay on this device/)
    expect(refused('https://relay.example.org')).toMatch(/Use wss:\/\/ for a relay \(wss:\/\/relay.example.org\)/)
    expect(refused('ftp://relay.example.org')).toMatch(/starts with wss:\/\//)
    expect(refused('wss://u:p@relay.example.org')).toMatch(/no user name or password/)
    expect(refused('wss://relay.example.org/#x')).toMatch(/no # part/)
    expect(refused(`wss://${'a'.repeat(300)}.org`)).toMatch(/at most 300 characters/)
    expect(refused('javascript:alert(1)')).toMatch(/starts with wss:\/\//)
  })
})

describe('relay lists', () => {
  it('a session tries the serving relay first, then the listed ones, skipping bad and repeated entries', () => {
    const serving = 'wss://home.example/relay'
    expect(relayUrlsFor(serving, undefined)).toEqual([serving])
    expect(relayUrlsFor(serving, ['wss://b.example', 'ws://evil.example', 'wss://home.example', 'wss://b.example/relay'])).toEqual([serving, 'wss://b.example/relay'])
  })

  it('adding refuses repeats and more than the limit', () => {
    let list: string[] = []
    list = addRelay(list, 'wss://a.example')
    expect(() => addRelay(list, 'wss://a.example/relay')).toThrow(/already in the list/)
    for (let i = 1; i < MAX_RELAYS; i++) list = addRelay(list, `wss://r${i}.example`)
    expect(() => addRelay(list, 'wss://one-more.example')).toThrow(/At most 8 relays/)
  })
})
