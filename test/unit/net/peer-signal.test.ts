import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { MAX_SDP_BYTES, parseSignal } from '../../../src/net/peer-signal.ts'

describe('parseSignal', () => {
  it('accepts descriptions and candidates, copying only known fields', () => {
    expect(parseSignal({ type: 'description', sdpType: 'offer', sdp: 'v=0\r\n', extra: 1 })).toEqual({ type: 'description', sdpType: 'offer', sdp: 'v=0\r\n' })
    expect(parseSignal({ type: 'candidate', candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0' })).toEqual({
      type: 'candidate',
      candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host',
      sdpMid: '0',
      sdpMLineIndex: null,
      usernameFragment: null,
    })
    expect(parseSignal({ type: 'candidate', candidate: '', sdpMid: null, sdpMLineIndex: null })).not.toBeNull()
  })

  it.each([
    null,
    'string',
    [],
    { type: 'description', sdpType: 'rollback', sdp: 'v=0' },
    { type: 'description', sdpType: 'offer', sdp: 'not sdp' },
    { type: 'description', sdpType: 'offer', sdp: 'v=0' + 'x'.repeat(MAX_SDP_BYTES) },
    { type: 'description', sdpType: 'offer' },
    { type: 'candidate', candidate: 5, sdpMid: '0' },
    { type: 'candidate', candidate: 'candidate:1', sdpMid: null, sdpMLineIndex: null },
    { type: 'candidate', candidate: 'candidate:1', sdpMLineIndex: -1 },
    { type: 'candidate', candidate: 'candidate:1', sdpMLineIndex: 1.5 },
    { type: 'candidate', candidate: 'candidate:1', sdpMid: 'x'.repeat(100) },
    { type: 'candidate', candidate: 'rm -rf', sdpMid: '0' },
    { type: 'bye' },
  ])('rejects %#', (msg) => {
    expect(parseSignal(msg)).toBeNull()
  })

  it('never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.anything(), (x) => {
      parseSignal(x)
    }), { numRuns: 2000 })
  })
})
