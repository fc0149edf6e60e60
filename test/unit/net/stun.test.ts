/**
 * The relay's STUN codec and server (relay/stun.ts), checked against the RFC 5769 test
 * vectors (written by others, so our XOR and CRC are not checked against themselves),
 * and over a real UDP socket on loopback: answers, drops by reason, the answer cap.
 */
import { createSocket, type Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  ATTR,
  BINDING_ERROR,
  decodeBindingSuccess,
  encodeBindingRequest,
  encodeBindingSuccess,
  parseBindingRequest,
  startStunServer,
  type StunServer,
} from '../../../relay/stun.ts'
import { createMetrics, type Metrics } from '../../../relay/metrics.ts'
import { silentLogger } from '../../../relay/log.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

// RFC 5769 §2.1 (their CRCs check out): an ICE connectivity check (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
// MESSAGE-INTEGRITY, FINGERPRINT).
const RFC_REQUEST = hex(`
  000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74
  002400046e0001ff80290008932ff9b151263b36000600096576746a3a6836765920202000080014
  9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf`)
// §2.2: the answer, mapped address 192.0.2.1:32853.
const RFC_RESPONSE_V4 = hex(`
  0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f722000200008
  0001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96`)
// §2.3: mapped address [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const RFC_RESPONSE_V6 = hex(`
  010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f722000200014
  0002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275
  bfe3ed4180280004c8fb0b4c`)
const TID = RFC_REQUEST.slice(8, 20)

/** The XOR-MAPPED-ADDRESS value (after its 4-byte header) in an encoded answer. */
function xorMapped(msg: Uint8Array): Uint8Array {
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength)
  for (let at = 20; at < msg.length; at += 4 + Math.ceil(dv.getUint16(at + 2) / 4) * 4) {
    if (dv.getUint16(at) === ATTR.XOR_MAPPED_ADDRESS) return msg.slice(at + 4, at + 4 + dv.getUint16(at + 2))
  }
  throw new Error('no XOR-MAPPED-ADDRESS')
}

describe('STUN codec (RFC 5389, RFC 5769 vectors)', () => {
  it('reads the RFC request: fingerprint checked, PRIORITY named as an attribute it does not know', () => {
    const parsed = parseBindingRequest(RFC_REQUEST)
    expect(parsed).toEqual({ ok: true, request: { transactionId: TID, unknown: [0x0024] } })
  })

  it('a request whose FINGERPRINT does not match is dropped as fingerprint', () => {
    const bad = RFC_REQUEST.slice()
    bad[bad.length - 1]! ^= 1
    expect(parseBindingRequest(bad)).toEqual({ ok: false, reason: 'fingerprint' })
    const flipped = RFC_REQUEST.slice()
    flipped[30]! ^= 1 // inside SOFTWARE: covered by the CRC
    expect(parseBindingRequest(flipped)).toEqual({ ok: false, reason: 'fingerprint' })
  })

  it('encodes XOR-MAPPED-ADDRESS byte for byte as the RFC answers do (IPv4 and IPv6)', () => {
    expect(xorMapped(encodeBindingSuccess(TID, '192.0.2.1', 32853))).toEqual(xorMapped(RFC_RESPONSE_V4))
    expect(xorMapped(encodeBindingSuccess(TID, '2001:db8:1234:5678:11:2233:4455:6677', 32853))).toEqual(xorMapped(RFC_RESPONSE_V6))
    expect(decodeBindingSuccess(RFC_RESPONSE_V4)).toEqual({ transactionId: TID, address: '192.0.2.1', port: 32853 })
    expect(decodeBindingSuccess(RFC_RESPONSE_V6)?.address).toBe('2001:db8:1234:5678:11:2233:4455:6677')
  })

  it('an IPv4 sender on a dual-stack socket is answered as IPv4', () => {
    expect(xorMapped(encodeBindingSuccess(TID, '::ffff:192.0.2.1', 32853))).toEqual(xorMapped(RFC_RESPONSE_V4))
  })

  it('our own answers and requests carry a FINGERPRINT that checks out', () => {
    const tid = randomBytes(12)
    const req = encodeBindingRequest(tid)
    expect(req.length).toBe(28)
    expect(parseBindingRequest(req)).toEqual({ ok: true, request: { transactionId: Uint8Array.from(tid), unknown: [] } })
    // An answer's fingerprint is checked by flipping its type to a request and parsing it.
    const answer = encodeBindingSuccess(tid, '10.0.0.7', 40000)
    const asRequest = answer.slice()
    asRequest[1] = 0x01
    asRequest[0] = 0x00
    expect(parseBindingRequest(asRequest).ok).toBe(false) // the CRC covers the type
    expect(decodeBindingSuccess(answer)).toEqual({ transactionId: Uint8Array.from(tid), address: '10.0.0.7', port: 40000 })
  })

  it('drops what is not a Binding request, by reason', () => {
    const req = encodeBindingRequest(randomBytes(12))
    const withType = (t: number) => {
      const m = req.slice()
      new DataView(m.buffer).setUint16(0, t)
      return m
    }
    const cases: Array<[Uint8Array, string]> = [
      [req.subarray(0, 19), 'short'],
      [Uint8Array.from(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), 'not-stun'],
      [withType(0xc001), 'not-stun'],
      [Uint8Array.from([...req, 0, 0, 0, 0]), 'length'],
      [withType(0x0011), 'not-request'], // a Binding indication
      [RFC_RESPONSE_V4, 'not-request'],
      [withType(0x0003), 'method'], // a TURN Allocate: this is not a TURN server
      [Uint8Array.from([...hex('000100082112a442'), ...TID, ...hex('0020 0010 00000000')]), 'attribute'], // attribute longer than the message
    ]
    for (const [bytes, reason] of cases) expect(parseBindingRequest(bytes), reason).toEqual({ ok: false, reason })
  })

  it('never throws on any bytes (fuzz)', () => {
    const stunish = fc.tuple(fc.constantFrom(0x0001, 0x0011, 0x0101, 0x0003, 0xffff), fc.uint8Array({ maxLength: 80 })).map(([type, body]) => {
      const m = new Uint8Array(20 + body.length)
      const dv = new DataView(m.buffer)
      dv.setUint16(0, type)
      dv.setUint16(2, body.length)
      dv.setUint32(4, 0x2112a442)
      m.set(body, 20)
      return m
    })
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), stunish), (bytes) => {
        const r = parseBindingRequest(bytes)
        expect(typeof r.ok).toBe('boolean')
      }),
      { numRuns: 5000 },
    )
  })
})

describe('STUN server on loopback', () => {
  let server: StunServer | null = null
  let client: Socket | null = null
  afterEach(async () => {
    client?.close()
    client = null
    await server?.close()
    server = null
  })

  async function start(opts: { maxPerSecond?: number; now?: () => number } = {}): Promise<Metrics> {
    const metrics = createMetrics()
    server = await startStunServer({ port: 0, host: '127.0.0.1', metrics, log: silentLogger, ...opts })
    client = createSocket('udp4')
    await new Promise<void>((ok) => client!.bind(0, '127.0.0.1', ok))
    return metrics
  }

  function ask(bytes: Uint8Array, timeoutMs = 300): Promise<Uint8Array | null> {
    return new Promise((done) => {
      const timer = setTimeout(() => {
        client!.off('message', onMessage)
        done(null)
      }, timeoutMs)
      const onMessage = (msg: Buffer) => {
        clearTimeout(timer)
        client!.off('message', onMessage)
        done(Uint8Array.from(msg))
      }
      client!.on('message', onMessage)
      client!.send(bytes, server!.port, '127.0.0.1')
    })
  }

  it('answers a Binding request with the address and port it came from', async () => {
    const metrics = await start()
    const tid = randomBytes(12)
    const answer = await ask(encodeBindingRequest(tid), 2000)
    expect(decodeBindingSuccess(answer!)).toEqual({ transactionId: Uint8Array.from(tid), address: '127.0.0.1', port: client!.address().port })
    expect(metrics.value('stoop_relay_stun_requests_total')).toBe(1)
  })

  it('answers 420 to a request naming an attribute it must understand and does not', async () => {
    await start()
    const answer = await ask(RFC_REQUEST, 2000)
    expect(new DataView(answer!.buffer).getUint16(0)).toBe(BINDING_ERROR)
  })

  it('drops junk without answering and counts it; keeps answering after', async () => {
    const metrics = await start()
    expect(await ask(Uint8Array.from(Buffer.from('hello')))).toBeNull()
    expect(await ask(RFC_RESPONSE_V4)).toBeNull()
    expect(metrics.value('stoop_relay_stun_dropped_total', { reason: 'short' })).toBe(1)
    expect(metrics.value('stoop_relay_stun_dropped_total', { reason: 'not-request' })).toBe(1)
    expect(await ask(encodeBindingRequest(randomBytes(12)), 2000)).not.toBeNull()
    expect(metrics.render()).toMatch(/stoop_relay_stun_dropped_total\{reason="short"\} 1/)
  })

  it('answers at most maxPerSecond: a flood of spoofable requests is not reflected', async () => {
    let t = 1_000_000
    const metrics = await start({ maxPerSecond: 3, now: () => t })
    const answers = []
    for (let i = 0; i < 5; i++) answers.push(await ask(encodeBindingRequest(randomBytes(12)), i < 3 ? 2000 : 200))
    expect(answers.map((a) => a !== null)).toEqual([true, true, true, false, false])
    expect(metrics.value('stoop_relay_stun_dropped_total', { reason: 'rate' })).toBe(2)
    t += 1000 // a second later the bucket is full again
    expect(await ask(encodeBindingRequest(randomBytes(12)), 2000)).not.toBeNull()
  })

  it('a port in use fails the start', async () => {
    await start()
    await expect(startStunServer({ port: server!.port, host: '127.0.0.1', metrics: createMetrics(), log: silentLogger })).rejects.toThrow(/EADDRINUSE/)
  })
})
