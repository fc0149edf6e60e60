import { describe, expect, it } from 'vitest'
import {
  decodeSignalMessage,
  encodeSignalMessage,
  isSignalDecodeError,
  MAX_SIGNAL_MESSAGE_BYTES,
} from '../../../src/net/signal-protocol.ts'
import { utf8Length } from '../../../src/net/json-guard.ts'

const reason = (raw: string, max?: number) => {
  const r = decodeSignalMessage(raw, max)
  return isSignalDecodeError(r) ? r.error : 'ok'
}

describe('decodeSignalMessage', () => {
  it('decodes every message type of the y-webrtc protocol', () => {
    expect(decodeSignalMessage('{"type":"subscribe","topics":["a","b"]}')).toEqual({ type: 'subscribe', topics: ['a', 'b'] })
    expect(decodeSignalMessage('{"type":"unsubscribe","topics":["a"]}')).toEqual({ type: 'unsubscribe', topics: ['a'] })
    expect(decodeSignalMessage('{"type":"ping"}')).toEqual({ type: 'ping' })
    expect(decodeSignalMessage('{"type":"pong","x":1}')).toEqual({ type: 'pong' })
  })

  it('keeps every field of a publish (the server forwards them untouched)', () => {
    const msg = { type: 'publish', topic: 't', data: { to: 'x', signal: { sdp: 'v=0' } }, extra: [1, 2] }
    expect(decodeSignalMessage(JSON.stringify(msg))).toEqual(msg)
  })

  it('checks the size cap in UTF-8 bytes before parsing', () => {
    const body = (n: number) => JSON.stringify({ type: 'publish', topic: 't', data: 'x'.repeat(n) })
    const base = body(0).length
    expect(reason(body(100 - base), 100)).toBe('ok')
    expect(reason(body(101 - base), 100)).toBe('too-large')
    // 'é' is one UTF-16 unit but two bytes: 40 of them pass a char count but not a byte count.
    expect(reason(JSON.stringify({ type: 'publish', topic: 't', data: 'é'.repeat(40) }), 60)).toBe('too-large')
    expect(reason('not json at all'.repeat(10_000))).toBe('too-large')
    expect(reason('x'.repeat(MAX_SIGNAL_MESSAGE_BYTES + 1))).toBe('too-large')
  })

  it('refuses deep nesting before parsing, ignoring brackets inside strings', () => {
    expect(reason(`{"type":"publish","topic":"t","data":${'['.repeat(40)}${']'.repeat(40)}}`)).toBe('too-deep')
    expect(reason(`{"type":"publish","topic":"t","data":"${'['.repeat(40)}\\"${'{'.repeat(40)}"}`)).toBe('ok')
  })

  it('classifies bad input with stable reasons and never throws', () => {
    expect(reason('{')).toBe('bad-json')
    expect(reason('')).toBe('bad-json')
    expect(reason('null')).toBe('not-object')
    expect(reason('[1]')).toBe('not-object')
    expect(reason('"str"')).toBe('not-object')
    expect(reason('{"type":"hello"}')).toBe('unknown-type')
    expect(reason('{"topics":[]}')).toBe('bad-field')
    expect(reason('{"type":7}')).toBe('bad-field')
    expect(reason('{"type":"subscribe"}')).toBe('bad-field')
    expect(reason('{"type":"subscribe","topics":"a"}')).toBe('bad-field')
    expect(reason('{"type":"subscribe","topics":["a",1]}')).toBe('bad-field')
    expect(reason('{"type":"subscribe","topics":[""]}')).toBe('bad-field')
    expect(reason(`{"type":"subscribe","topics":["${'a'.repeat(257)}"]}`)).toBe('bad-field')
    expect(reason('{"type":"publish"}')).toBe('bad-field')
    expect(reason('{"type":"publish","topic":5}')).toBe('bad-field')
    expect(reason('{"type":"publish","topic":"t","clients":"3"}')).toBe('bad-field')
    expect(reason('{"type":"publish","topic":"t","__proto__":{"type":"x"}}')).toBe('ok')
  })

  it('round-trips through encodeSignalMessage', () => {
    const msg = { type: 'publish' as const, topic: 'room', data: 'abc', clients: 2 }
    expect(decodeSignalMessage(encodeSignalMessage(msg))).toEqual(msg)
  })

  it('counts UTF-8 bytes like TextEncoder', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a\ud800b', 'x😀é€\udc00']) {
      expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length)
    }
  })
})
