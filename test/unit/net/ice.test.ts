/** ICE server choice (src/net/ice.ts): what `--ice` and the settings accept, the relay's STUN by default, candidate filters. */
import { describe, expect, it } from 'vitest'
import { candidateInSubnets, filterSdpCandidates, formatIceServer, iceServersFor, parseIceServer, parseIceServers, relayStunServer } from '../../../src/net/ice.ts'

describe('parseIceServer', () => {
  it('reads STUN and TURN URLs, credentials out of the URL', () => {
    expect(parseIceServer('stun:relay.example:3478')).toEqual({ urls: 'stun:relay.example:3478' })
    expect(parseIceServer(' stun:[2001:db8::1]:3478 ')).toEqual({ urls: 'stun:[2001:db8::1]:3478' })
    expect(parseIceServer('turn:alice:s3cret@turn.example:443?transport=tcp')).toEqual({ urls: 'turn:turn.example:443?transport=tcp', username: 'alice', credential: 's3cret' })
    // coturn's time-limited user names hold a colon: percent-encoded.
    expect(parseIceServer('turns:1700000000%3Aalice:p%40ss:w@turn.example')).toEqual({ urls: 'turns:turn.example', username: '1700000000:alice', credential: 'p@ss:w' })
  })

  it('refuses what a browser would refuse, with one line naming the problem', () => {
    for (const [text, problem] of [
      ['http://relay.example', /must look like/],
      ['stun:', /must look like/],
      ['stun:relay.example:99999', /port must be 1-65535/],
      ['stun:a:b@relay.example', /STUN server takes no user/],
      ['turn:turn.example', /needs user:pass@/],
      ['stun:relay.example?transport=tcp', /only turn: URLs take/],
      ['turn:a:b@turn.example?transport=sctp', /only turn: URLs take/],
      ['stun:bad host', /not a host/],
      ['turn:%zz:b@turn.example', /percent-encoding/],
    ] as const) {
      expect(() => parseIceServer(text), text).toThrow(expect.objectContaining({ code: 'bad-ice-server', message: expect.stringMatching(problem) }))
    }
  })

  it('formats back to the text it reads', () => {
    for (const text of ['stun:relay.example:3478', 'turn:alice:s3cret@turn.example:443?transport=tcp', 'turns:1700000000%3Aalice:p%40ss@turn.example']) {
      expect(parseIceServer(formatIceServer(parseIceServer(text)))).toEqual(parseIceServer(text))
    }
  })
})

describe('iceServersFor', () => {
  it('defaults to the relay’s own STUN (its host, UDP 3478): no third party', () => {
    expect(relayStunServer('wss://stoop.example/relay')).toEqual({ urls: 'stun:stoop.example:3478' })
    expect(relayStunServer('ws://[::1]:8787/relay')).toEqual({ urls: 'stun:[::1]:3478' })
    expect(relayStunServer('not a url')).toBeNull()
    expect(iceServersFor({ relayUrl: 'ws://10.77.0.1:8787/relay' })).toEqual([{ urls: 'stun:10.77.0.1:3478' }])
  })

  it('a list from the user replaces the default; none means none; loopback sessions get none by default', () => {
    expect(iceServersFor({ relayUrl: 'wss://stoop.example/relay', servers: ['stun:other.example', 'turn:u:p@t.example'] })).toEqual([
      { urls: 'stun:other.example' },
      { urls: 'turn:t.example', username: 'u', credential: 'p' },
    ])
    expect(iceServersFor({ relayUrl: 'wss://stoop.example/relay', servers: ['none'] })).toEqual([])
    expect(iceServersFor({ relayUrl: 'ws://127.0.0.1:8787/relay', loopbackOnly: true })).toEqual([])
    expect(iceServersFor({ relayUrl: null })).toEqual([])
    expect(parseIceServers(['stun:a.example, stun:b.example', ''])).toHaveLength(2)
  })
})

describe('candidate filters', () => {
  const host = (ip: string) => `candidate:1 1 udp 2122260223 ${ip} 50000 typ host generation 0`
  it('keeps candidates inside the given IPv4 subnets only', () => {
    const keep = candidateInSubnets(['10.77.0.0/16', '192.168.5.7/32'])
    expect(keep(host('10.77.3.2'))).toBe(true)
    expect(keep('candidate:2 1 udp 1686052607 10.77.0.2 40000 typ srflx raddr 10.77.1.2 rport 5000')).toBe(true)
    expect(keep(host('10.78.0.1'))).toBe(false)
    expect(keep(host('192.168.5.7'))).toBe(true)
    expect(keep(host('192.168.5.8'))).toBe(false)
    expect(keep(host('fe80::1'))).toBe(false)
    expect(keep('garbage')).toBe(false)
    expect(() => candidateInSubnets(['10.0.0.0/33'])).toThrow(/not an IPv4 CIDR/)
  })

  it('filters SDP candidate lines the same way', () => {
    const sdp = ['v=0', `a=${host('10.77.0.1')}`, `a=${host('172.17.0.2')}`, 'a=end-of-candidates', ''].join('\r\n')
    expect(filterSdpCandidates(candidateInSubnets(['10.77.0.0/16']))(sdp)).toBe(['v=0', `a=${host('10.77.0.1')}`, 'a=end-of-candidates', ''].join('\r\n'))
  })
})
