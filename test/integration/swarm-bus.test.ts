/**
 * The hyperswarm bus's connection logic (hello, topic check, duplicates,
 * restarts, limits, teardown) against a fake swarm whose connections are
 * in-process pipes. The real-DHT test is swarm.test.ts.
 */
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import * as encoding from 'lib0/encoding'
import { encodeFrame } from '../../src/net/link.ts'
import type { BusMessage } from '../../src/net/bus.ts'
import { parseBootstrap } from '../../src/node/dht.ts'
import {
  createSwarmBus,
  ERR_BAD_PEER_ID,
  ERR_BAD_TOPIC,
  ERR_BUS_DESTROYED,
  ERR_MESSAGE_TOO_LARGE,
  type SwarmBus,
  type SwarmConnection,
  type SwarmLike,
} from '../../src/node/swarm-bus.ts'

class FakeConn extends EventEmitter implements SwarmConnection {
  other: FakeConn | null = null
  destroyed = false
  constructor(readonly handshakeHash: Uint8Array) {
    super()
  }
  write(data: Uint8Array): boolean {
    const copy = Buffer.from(data)
    const other = this.other
    setImmediate(() => {
      if (other !== null && !other.destroyed) other.emit('data', copy)
    })
    return true
  }
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    setImmediate(() => this.emit('close'))
    this.other?.destroy()
  }
}

class FakeSwarm extends EventEmitter implements SwarmLike {
  joined: Uint8Array[] = []
  left: Uint8Array[] = []
  destroyed = false
  join(topic: Uint8Array) {
    this.joined.push(topic)
    return { flushed: async () => undefined, refresh: async () => undefined }
  }
  async leave(topic: Uint8Array) {
    this.left.push(topic)
  }
  async destroy() {
    this.destroyed = true
  }
  /** Hand one connection to this swarm; returns the far end. */
  accept(hash = randomBytes(32)): FakeConn {
    const mine = new FakeConn(hash)
    const far = new FakeConn(hash)
    mine.other = far
    far.other = mine
    this.emit('connection', mine)
    return far
  }
}

/** Connect two fake swarms with one connection (same handshake hash at both ends, as Noise gives). */
function link(a: FakeSwarm, b: FakeSwarm, hash = randomBytes(32)): [FakeConn, FakeConn] {
  const ca = new FakeConn(hash)
  const cb = new FakeConn(hash)
  ca.other = cb
  cb.other = ca
  a.emit('connection', ca)
  b.emit('connection', cb)
  return [ca, cb]
}

const TOPIC = new Uint8Array(32).fill(1)
const OTHER_TOPIC = new Uint8Array(32).fill(2)
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 20))

interface Probe {
  bus: SwarmBus
  swarm: FakeSwarm
  events: string[]
  messages: [string, BusMessage][]
}

const open: SwarmBus[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((bus) => bus.destroy()))
})

function probe(selfId: string, topic = TOPIC, extra: { helloTimeoutMs?: number; maxFrameBytes?: number } = {}): Probe {
  const swarm = new FakeSwarm()
  const bus = createSwarmBus({ topic, selfId, swarm, ...extra })
  open.push(bus)
  const events: string[] = []
  const messages: [string, BusMessage][] = []
  bus.on('peer-joined', (id) => events.push(`+${id}`))
  bus.on('peer-left', (id) => events.push(`-${id}`))
  bus.on('message', (from, msg) => messages.push([from, msg]))
  return { bus, swarm, events, messages }
}

function hello(topic: Uint8Array, peerId: string, session = randomBytes(16)): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeUint8(e, 0)
  encoding.writeVarString(e, 'stoop/bus')
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint8Array(e, topic)
  encoding.writeVarString(e, peerId)
  encoding.writeVarUint8Array(e, session)
  return encoding.toUint8Array(e)
}

describe('swarm bus connection logic', () => {
  it('exchanges hellos, then publishes and sends strings and bytes', async () => {
    const a = probe('alice')
    const b = probe('bob')
    link(a.swarm, b.swarm)
    await settle()
    expect(a.events).toEqual(['+bob'])
    expect(b.events).toEqual(['+alice'])
    expect([...a.bus.peers]).toEqual(['bob'])
    a.bus.publish('{"type":"offer"}')
    expect(a.bus.send('bob', new Uint8Array([1, 2, 3]))).toBe(true)
    expect(a.bus.send('nobody', 'x')).toBe(false)
    expect(a.bus.stats.dropped).toBe(1)
    await settle()
    expect(b.messages).toEqual([
      ['alice', '{"type":"offer"}'],
      ['alice', new Uint8Array([1, 2, 3])],
    ])
    expect(typeof b.messages[0]![1]).toBe('string')
    expect(() => a.bus.publish('x'.repeat(70_000))).toThrow(expect.objectContaining({ code: ERR_MESSAGE_TOO_LARGE }))
  })

  it('refuses a peer on another topic, itself, a bad hello and a silent peer', async () => {
    const a = probe('alice', TOPIC, { helloTimeoutMs: 50 })
    const elsewhere = probe('carol', OTHER_TOPIC)
    link(a.swarm, elsewhere.swarm)
    const self = a.swarm.accept()
    self.write(encodeFrame(hello(TOPIC, 'alice')))
    const junk = a.swarm.accept()
    junk.write(encodeFrame(new Uint8Array([0, 1, 2])))
    const silent = a.swarm.accept()
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(a.events).toEqual([])
    expect(elsewhere.events).toEqual([])
    expect(a.bus.stats.rejected).toMatchObject({ self: 1, 'bad-hello': 1, 'hello-timeout': 1 })
    // Whichever side reads the other's hello first hangs up; the other may never see it.
    expect(a.bus.stats.rejected['wrong-topic'] + elsewhere.bus.stats.rejected['wrong-topic']).toBeGreaterThanOrEqual(1)
    expect(silent.destroyed && junk.destroyed && self.destroyed).toBe(true)
  })

  it('keeps one of two connections between the same buses, the same one on both sides', async () => {
    const a = probe('alice')
    const b = probe('bob')
    const hashes = [randomBytes(32), randomBytes(32)]
    const first = link(a.swarm, b.swarm, hashes[0])
    const second = link(a.swarm, b.swarm, hashes[1])
    await settle()
    expect(a.events).toEqual(['+bob'])
    expect(b.events).toEqual(['+alice'])
    const smaller = Buffer.compare(hashes[0]!, hashes[1]!) < 0 ? 0 : 1
    const kept = [first, second][smaller]!
    const dropped = [first, second][1 - smaller]!
    expect(kept[0].destroyed || kept[1].destroyed).toBe(false)
    expect(dropped[0].destroyed && dropped[1].destroyed).toBe(true)
    expect(a.bus.stats.rejected.duplicate + b.bus.stats.rejected.duplicate).toBeGreaterThanOrEqual(1)
    a.bus.publish('still here')
    await settle()
    expect(b.messages).toEqual([['alice', 'still here']])
  })

  it('treats a new session under a known id as a restart: peer-left, then peer-joined', async () => {
    const a = probe('alice')
    const b1 = probe('bob')
    const [oldConn] = link(a.swarm, b1.swarm)
    await settle()
    const b2 = probe('bob')
    link(a.swarm, b2.swarm)
    await settle()
    expect(a.events).toEqual(['+bob', '-bob', '+bob'])
    expect(a.bus.stats.rejected.replaced).toBe(1)
    expect(oldConn.destroyed).toBe(true)
    a.bus.send('bob', 'hi')
    await settle()
    expect(b2.messages).toEqual([['alice', 'hi']])
    expect(b1.messages).toEqual([])
  })

  it('drops a peer that sends an oversize frame, and counts malformed frames', async () => {
    const a = probe('alice', TOPIC, { maxFrameBytes: 1024 })
    const raw = a.swarm.accept()
    raw.write(encodeFrame(hello(TOPIC, 'mallory')))
    raw.write(encodeFrame(new Uint8Array([7, 1, 2])))
    raw.write(encodeFrame(new Uint8Array([2, 0xff, 0xfe])))
    await settle()
    expect(a.events).toEqual(['+mallory'])
    expect(a.bus.stats.rejected.malformed).toBe(2)
    raw.write(encodeFrame(new Uint8Array(2000), 4096))
    await settle()
    expect(a.events).toEqual(['+mallory', '-mallory'])
    expect(a.bus.stats.rejected.oversize).toBe(1)
    expect(raw.destroyed).toBe(true)
  })

  it('destroy is idempotent, reports peer-left everywhere and leaves an injected swarm alive', async () => {
    const a = probe('alice', TOPIC, { helloTimeoutMs: 60_000 })
    const b = probe('bob')
    link(a.swarm, b.swarm)
    a.swarm.accept() // a pending connection with a hello timer
    await settle()
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const first = a.bus.destroy()
    expect(a.bus.destroy()).toBe(first)
    await first
    await settle()
    expect(a.events).toEqual(['+bob', '-bob'])
    expect(b.events).toEqual(['+alice', '-alice'])
    expect(a.swarm.left).toHaveLength(1)
    expect(a.swarm.destroyed).toBe(false)
    expect(a.swarm.listenerCount('connection')).toBe(0)
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThan(timersBefore)
    expect(() => a.bus.publish('late')).toThrow(expect.objectContaining({ code: ERR_BUS_DESTROYED }))
  })

  it('validates its options', () => {
    expect(() => createSwarmBus({ topic: new Uint8Array(31), selfId: 'a', swarm: new FakeSwarm() })).toThrow(
      expect.objectContaining({ code: ERR_BAD_TOPIC }),
    )
    expect(() => createSwarmBus({ topic: TOPIC, selfId: '', swarm: new FakeSwarm() })).toThrow(
      expect.objectContaining({ code: ERR_BAD_PEER_ID }),
    )
    // Never falls back to the public DHT by accident.
    expect(() => createSwarmBus({ topic: TOPIC, selfId: 'a' })).toThrow(expect.objectContaining({ code: 'no-bootstrap' }))
  })
})

describe('parseBootstrap', () => {
  it('parses host:port lists, IPv6 in brackets', () => {
    expect(parseBootstrap('127.0.0.1:49737')).toEqual([{ host: '127.0.0.1', port: 49737 }])
    expect(parseBootstrap('localhost:1, [::1]:65535')).toEqual([
      { host: 'localhost', port: 1 },
      { host: '::1', port: 65535 },
    ])
  })

  it.each(['', ',', 'host', 'host:', ':80', 'host:0', 'host:65536', 'host:80x', '::1:80', 'a:1,b'])('rejects %j', (value) => {
    expect(() => parseBootstrap(value)).toThrow(expect.objectContaining({ code: 'bad-bootstrap' }))
  })
})
