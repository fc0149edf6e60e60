/**
 * PeerLink's chunk reassembly under attack (issue 12): a remote that sends
 * "more follows" chunks forever, or chunks past the cap, costs the receiver a
 * bounded amount of memory; the message is dropped and counted, the link stays
 * usable for the next honest message.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { TypedEmitter } from '../../../src/base/emitter.ts'
import type { Peer, PeerEvents } from '../../../src/net/peer.ts'
import { CHUNK_BYTES, PeerLink } from '../../../src/net/peer-link.ts'

/** The part of a Peer a PeerLink uses: 'data' in, `send` out. */
class FakePeer extends TypedEmitter<Pick<PeerEvents, 'data' | 'close'>> {
  sent: Uint8Array[] = []
  send(bytes: Uint8Array): void {
    this.sent.push(bytes)
  }
  deliver(bytes: Uint8Array): void {
    this.emit('data', bytes)
  }
}

function linked(opts?: ConstructorParameters<typeof PeerLink>[1]): { peer: FakePeer; link: PeerLink; got: Uint8Array[] } {
  const peer = new FakePeer()
  const link = new PeerLink(peer as unknown as Peer, opts)
  const got: Uint8Array[] = []
  link.on('message', (m) => got.push(m))
  return { peer, link, got }
}

/** What an honest sender puts on the data channel for `message`. */
function chunksOf(message: Uint8Array): Uint8Array[] {
  const { peer, link } = linked()
  link.send(message)
  return peer.sent
}

function heapAfterGc(): number {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

describe('PeerLink reassembly', () => {
  it('round-trips messages of every size through chunks', () => {
    const { peer, got } = linked()
    const sizes = [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 5 * CHUNK_BYTES + 7]
    const messages = sizes.map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 255))
    for (const m of messages) for (const c of chunksOf(m)) peer.deliver(c)
    expect(got).toEqual(messages)
  })

  it('attack: 2 MB of 1-byte "more follows" chunks do not grow the heap, and the link still works', () => {
    const { peer, link, got } = linked()
    const before = heapAfterGc()
    const more = Uint8Array.of(1)
    for (let i = 0; i < 2_000_000; i++) peer.deliver(more)
    const grown = heapAfterGc() - before
    // Today's code keeps a view per chunk: ~240 MB for this input.
    expect(grown).toBeLessThan(16 * 2 ** 20)
    expect(link.closed).toBe(false)
    expect(link.stats.rejected['too-many-chunks']).toBe(1)
    expect(got).toHaveLength(0)
    // The dropped message ends with its last chunk; the next one arrives whole.
    peer.deliver(Uint8Array.of(0))
    const next = Uint8Array.from({ length: 3 * CHUNK_BYTES }, (_, i) => i & 255)
    for (const c of chunksOf(next)) peer.deliver(c)
    expect(got).toEqual([next])
  })

  it('counts each chunk, tiny or not, against the chunk budget', () => {
    const { peer, link, got } = linked({ maxMessageBytes: 4 * CHUNK_BYTES })
    // An honest 4-chunk message fits; the same bytes in 5+ chunks do not.
    for (const c of chunksOf(new Uint8Array(4 * CHUNK_BYTES))) peer.deliver(c)
    expect(got).toHaveLength(1)
    for (let i = 0; i < 10; i++) peer.deliver(Uint8Array.of(1, 7))
    peer.deliver(Uint8Array.of(0, 7))
    expect(got).toHaveLength(1)
    expect(link.stats.rejected['too-many-chunks']).toBe(1)
    expect(link.held).toEqual({ bytes: 0, chunks: 0 })
  })

  it('drops a message over the byte cap and counts it, without closing the link', () => {
    const cap = 2 * CHUNK_BYTES
    const { peer, link, got } = linked({ maxMessageBytes: cap })
    for (const c of chunksOf(new Uint8Array(cap + 1))) peer.deliver(c)
    expect(got).toHaveLength(0)
    expect(link.stats.rejected.oversize).toBe(1)
    expect(link.closed).toBe(false)
    // One huge chunk is refused the same way.
    const huge = new Uint8Array(cap + 2)
    peer.deliver(huge)
    expect(link.stats.rejected.oversize).toBe(2)
    for (const c of chunksOf(Uint8Array.of(9, 9))) peer.deliver(c)
    expect(got).toEqual([Uint8Array.of(9, 9)])
    expect(link.held).toEqual({ bytes: 0, chunks: 0 })
  })

  it('counts empty chunks and unknown headers as malformed and never throws', () => {
    const { peer, link, got } = linked()
    peer.deliver(new Uint8Array(0))
    peer.deliver(Uint8Array.of(1, 5))
    peer.deliver(Uint8Array.of(7, 5)) // not 0 or 1: the message being built is dropped with it
    expect(link.stats.rejected.malformed).toBe(2)
    expect(link.closed).toBe(false)
    peer.deliver(Uint8Array.of(0, 4))
    expect(got).toEqual([Uint8Array.of(4)])
  })

  it('counts what the data channel refused to send', () => {
    const { peer, link } = linked()
    peer.send = () => {
      throw new Error('channel closing')
    }
    link.send(Uint8Array.of(1))
    expect(link.dropped).toBe(1)
  })
})
