/**
 * Hyperswarm bus and Yjs sync on a real local DHT (hyperdht testnet on
 * 127.0.0.1; every DHT socket here binds 127.0.0.1, the public bootstrap is
 * never used).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import createTestnet from 'hyperdht/testnet.js'
import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import { createSwarmBus, type SwarmBus, type SwarmConnection } from '../../src/node/swarm-bus.ts'
import type { BootstrapNode } from '../../src/node/dht.ts'
import type { BusMessage } from '../../src/net/bus.ts'
import { createStreamLink } from '../../src/net/link.ts'
import { attachSync } from '../../src/net/sync.ts'

interface Testnet {
  bootstrap: BootstrapNode[]
  destroy(): Promise<void>
}

interface RawSwarm {
  join(topic: Uint8Array, opts: { client: boolean; server: boolean }): { flushed(): Promise<void> }
  on(event: 'connection', fn: (conn: SwarmConnection) => void): void
  destroy(): Promise<void>
}

const topicOf = (name: string) => new Uint8Array(createHash('sha256').update(`stoop-test:${name}`).digest())
const LOOPBACK = '127.0.0.1'

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

let testnet: Testnet
const buses: SwarmBus[] = []
const rawSwarms: RawSwarm[] = []

beforeAll(async () => {
  testnet = (await createTestnet(3, { host: LOOPBACK })) as Testnet
})

afterAll(async () => {
  await Promise.all(buses.map((bus) => bus.destroy()))
  await Promise.all(rawSwarms.map((swarm) => swarm.destroy()))
  await testnet?.destroy()
})

function bus(selfId: string, topic: Uint8Array): { bus: SwarmBus; joined: string[]; left: string[]; inbox: [string, BusMessage][] } {
  const b = createSwarmBus({ topic, selfId, bootstrap: testnet.bootstrap, host: LOOPBACK })
  buses.push(b)
  const joined: string[] = []
  const left: string[] = []
  const inbox: [string, BusMessage][] = []
  b.on('peer-joined', (id) => joined.push(id))
  b.on('peer-left', (id) => left.push(id))
  b.on('message', (from, msg) => inbox.push([from, msg]))
  return { bus: b, joined, left, inbox }
}

describe('hyperswarm bus on a local testnet', () => {
  it('three buses find each other, deliver publish and send, and see a leaver go', async () => {
    const room = topicOf('room-1')
    const a = bus('peer-a', room)
    const b = bus('peer-b', room)
    const c = bus('peer-c', room)
    const outsider = bus('peer-x', topicOf('room-2'))

    const started = Date.now()
    await waitFor('full mesh of three', () => [a, b, c].every((p) => p.bus.peers.size === 2))
    const elapsed = Date.now() - started
    expect(elapsed).toBeLessThan(10_000)
    expect([...a.bus.peers].sort()).toEqual(['peer-b', 'peer-c'])
    expect(new Set(a.joined).size).toBe(a.joined.length) // each peer joined once

    a.bus.publish('{"hello":"all"}')
    b.bus.send('peer-c', new Uint8Array([7, 7]))
    await waitFor('deliveries', () => b.inbox.length >= 1 && c.inbox.length >= 2)
    expect(b.inbox).toEqual([['peer-a', '{"hello":"all"}']])
    expect(c.inbox).toContainEqual(['peer-a', '{"hello":"all"}'])
    expect(c.inbox).toContainEqual(['peer-b', new Uint8Array([7, 7])])
    expect(a.inbox).toEqual([])

    await c.bus.destroy()
    await c.bus.destroy() // idempotent
    await waitFor('peer-left for c', () => a.left.includes('peer-c') && b.left.includes('peer-c'))
    expect([...a.bus.peers]).toEqual(['peer-b'])
    expect(c.left.sort()).toEqual(['peer-a', 'peer-b'])

    // The bus on another topic never saw anyone.
    expect(outsider.joined).toEqual([])
    expect(outsider.inbox).toEqual([])
    expect(outsider.bus.peers.size).toBe(0)
  })

  it('syncs a Y.Doc over framed hyperswarm connections between two nodes', async () => {
    const topic = topicOf('doc-sync')
    const docs = [new Y.Doc(), new Y.Doc()]
    docs[0]!.getText('t').insert(0, 'written before connecting')
    const syncs: ReturnType<typeof attachSync>[] = []
    for (const doc of docs) {
      const swarm = new Hyperswarm({ dht: new HyperDHT({ bootstrap: testnet.bootstrap, host: LOOPBACK }) }) as RawSwarm
      rawSwarms.push(swarm)
      swarm.on('connection', (conn) => {
        syncs.push(attachSync(doc, null, createStreamLink(conn)))
      })
      // One after the other: hyperswarm only looks up again after ~10 minutes, so two
      // swarms that join in the same instant miss each other (the bus re-looks-up for this).
      await swarm.join(topic, { client: true, server: true }).flushed()
    }
    await waitFor('both sides synced', () => syncs.length === 2 && syncs.every((s) => s.synced))
    expect(docs[1]!.getText('t').toString()).toBe('written before connecting')

    docs[1]!.getArray('a').push(['from b'])
    docs[0]!.getText('t').insert(0, '> ')
    // toJSON only lists shared types a doc has asked for, so ask for both on both.
    const view = (doc: Y.Doc) => JSON.stringify([doc.getText('t').toString(), doc.getArray('a').toJSON()])
    await waitFor('convergence', () => view(docs[0]!) === view(docs[1]!) && docs[0]!.getArray('a').length === 1)
    expect(docs[1]!.getText('t').toString()).toBe('> written before connecting')
    for (const s of syncs) expect(Object.values(s.stats.rejected).every((n) => n === 0)).toBe(true)

    await Promise.all(rawSwarms.splice(0).map((swarm) => swarm.destroy()))
    await waitFor('detach on close', () => syncs.every((s) => s.detached))
  })
})
