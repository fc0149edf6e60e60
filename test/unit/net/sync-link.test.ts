import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import {
  createLinkPair,
  createStreamLink,
  encodeFrame,
  ERR_FRAME_TOO_LARGE,
  FrameDecoder,
  type ByteStream,
} from '../../../src/net/link.ts'

/** One end of an in-process byte pipe: writes appear as 'data' at the other end, in arbitrary chunking. */
class FakeStream extends EventEmitter implements ByteStream {
  other: FakeStream | null = null
  destroyed = false
  written: Uint8Array[] = []
  write(data: Uint8Array): boolean {
    this.written.push(data)
    return true
  }
  /** Push bytes to the other end split into `chunk`-byte pieces. */
  pump(chunk = 3): void {
    const all = Buffer.concat(this.written)
    this.written = []
    for (let i = 0; i < all.length; i += chunk) this.other?.emit('data', all.subarray(i, i + chunk))
  }
  destroy(err?: Error): void {
    if (this.destroyed) return
    this.destroyed = true
    if (err) this.emit('error', err)
    this.emit('close')
    this.other?.destroy()
  }
}

function pipe(): [FakeStream, FakeStream] {
  const a = new FakeStream()
  const b = new FakeStream()
  a.other = b
  b.other = a
  return [a, b]
}

const bytes = (...xs: number[]) => new Uint8Array(xs)

describe('FrameDecoder', () => {
  it('reassembles frames from any chunking, including empty frames', () => {
    const payloads = [bytes(1, 2, 3), bytes(), new Uint8Array(1000).fill(7), bytes(9)]
    const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)))
    for (const chunk of [1, 2, 5, 64, stream.length]) {
      const decoder = new FrameDecoder()
      const out: Uint8Array[] = []
      for (let i = 0; i < stream.length; i += chunk) out.push(...decoder.push(stream.subarray(i, i + chunk)))
      expect(out).toEqual(payloads)
      expect(decoder.buffered).toBe(0)
    }
  })

  it('refuses an oversize frame as soon as its header arrives', () => {
    const decoder = new FrameDecoder(16)
    expect(decoder.push(encodeFrame(new Uint8Array(16)))).toHaveLength(1)
    const header = encodeFrame(new Uint8Array(17)).subarray(0, 4)
    expect(() => decoder.push(header)).toThrow(expect.objectContaining({ code: ERR_FRAME_TOO_LARGE }))
    expect(() => encodeFrame(new Uint8Array(17), 16)).toThrow(expect.objectContaining({ code: ERR_FRAME_TOO_LARGE }))
  })
})

describe('StreamLink', () => {
  it('carries whole messages in order over a chunked stream', () => {
    const [sa, sb] = pipe()
    const a = createStreamLink(sa)
    const b = createStreamLink(sb)
    const got: number[][] = []
    b.on('message', (m) => got.push([...m]))
    a.send(bytes(1))
    a.send(bytes(2, 2))
    a.send(bytes())
    sa.pump(1)
    expect(got).toEqual([[1], [2, 2], []])
    expect(b.stats.framesIn).toBe(3)
    expect(a.stats.framesOut).toBe(3)
  })

  it('closes and counts when the peer sends an oversize frame', () => {
    const [sa, sb] = pipe()
    const a = createStreamLink(sa, { maxFrameBytes: 1 << 20 })
    const b = createStreamLink(sb, { maxFrameBytes: 100 })
    const reasons: (Error | undefined)[] = []
    b.on('close', (r) => reasons.push(r))
    const aClosed: unknown[] = []
    a.on('close', (r) => aClosed.push(r))
    a.send(new Uint8Array(101))
    sa.pump(8)
    expect(b.closed).toBe(true)
    expect(b.stats.oversize).toBe(1)
    expect(reasons).toHaveLength(1)
    expect((reasons[0] as { code?: string }).code).toBe(ERR_FRAME_TOO_LARGE)
    expect(sb.destroyed).toBe(true)
    expect(a.closed).toBe(true) // the stream went down under it
    expect(() => b.send(bytes(1))).not.toThrow() // dropped after close
  })

  it('throws (misuse) when asked to send more than the frame cap', () => {
    const [sa] = pipe()
    const a = createStreamLink(sa, { maxFrameBytes: 10 })
    expect(() => a.send(new Uint8Array(11))).toThrow(expect.objectContaining({ code: ERR_FRAME_TOO_LARGE }))
  })

  it('removes its stream listeners when closed without destroying the stream', () => {
    const [sa] = pipe()
    const a = createStreamLink(sa, { destroyStream: false })
    expect(sa.listenerCount('data')).toBe(1)
    a.close()
    a.close()
    expect(sa.listenerCount('data') + sa.listenerCount('close') + sa.listenerCount('error')).toBe(0)
    expect(sa.destroyed).toBe(false)
  })
})

describe('createLinkPair', () => {
  it('delivers in order, emits close once on both ends, drops after close', async () => {
    const [a, b] = createLinkPair()
    const got: number[] = []
    let closes = 0
    b.on('message', (m) => got.push(m[0]!))
    a.on('close', () => closes++)
    b.on('close', () => closes++)
    for (let i = 0; i < 5; i++) a.send(bytes(i))
    a.close()
    a.close()
    a.send(bytes(9))
    expect(got).toEqual([]) // microtask delivery
    await Promise.resolve()
    await Promise.resolve()
    expect(got).toEqual([0, 1, 2, 3, 4])
    expect(closes).toBe(2)
    expect(b.closed).toBe(true)
  })

  it('copies what it sends', () => {
    const [a, b] = createLinkPair({ deliver: 'sync' })
    let got: Uint8Array | null = null
    b.on('message', (m) => (got = m))
    const buf = bytes(1, 2)
    a.send(buf)
    buf[0] = 9
    expect([...got!]).toEqual([1, 2])
  })
})
