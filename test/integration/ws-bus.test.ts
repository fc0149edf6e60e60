import { afterAll, beforeAll, expect, test } from 'vitest'
import WebSocket from 'ws'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { SignalClient, type WebSocketClass } from '../../src/net/signal-client.ts'
import { WsBus } from '../../src/net/ws-bus.ts'
import { deriveSignalKey } from '../../src/net/room-crypto.ts'

let relay: Relay
const cleanup: (() => unknown)[] = []
beforeAll(async () => {
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
})
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
  await relay.close()
})

async function bus(selfId: string, secret: Uint8Array, heartbeatMs = 200) {
  const client = new SignalClient({ url: relay.url.replace('http', 'ws') + '/signal', WebSocket: WebSocket as unknown as WebSocketClass })
  const b = new WsBus({ client, topic: 'topic-1', key: await deriveSignalKey(secret), selfId, heartbeatMs })
  const events: string[] = []
  const messages: [string, unknown][] = []
  b.on('peer-joined', (id) => events.push(`+${id}`))
  b.on('peer-left', (id) => events.push(`-${id}`))
  b.on('message', (from, msg) => messages.push([from, msg]))
  cleanup.push(() => b.destroy(), () => client.destroy())
  return { b, client, events, messages }
}

test('peers find each other, exchange direct messages and see each other leave', async () => {
  const secret = crypto.getRandomValues(new Uint8Array(32))
  const a = await bus('a', secret)
  const b = await bus('b', secret)
  const c = await bus('c', secret)
  await expect.poll(() => [...a.b.peers].sort()).toEqual(['b', 'c'])
  await expect.poll(() => [...c.b.peers].sort()).toEqual(['a', 'b'])

  expect(a.b.send('b', 'hi b')).toBe(true)
  a.b.send('c', new Uint8Array([1, 2, 3]))
  await expect.poll(() => b.messages).toEqual([['a', 'hi b']])
  await expect.poll(() => c.messages.length).toBe(1)
  expect(c.messages[0]![1]).toEqual(new Uint8Array([1, 2, 3]))
  expect(a.b.send('nobody', 'x')).toBe(false)

  await b.b.destroy()
  await expect.poll(() => a.events).toContain('-b')
  await expect.poll(() => c.events).toContain('-b')
})

test('a peer that vanishes without saying bye expires after missed heartbeats', async () => {
  const secret = crypto.getRandomValues(new Uint8Array(32))
  const a = await bus('x', secret, 100)
  const gone = await bus('y', secret, 100)
  await expect.poll(() => [...a.b.peers]).toEqual(['y'])
  gone.client.destroy() // the socket dies; no bye is sent
  await expect.poll(() => a.events, { timeout: 5_000 }).toContain('-y')
})

test('peers with another room key never see each other', async () => {
  const a = await bus('p', crypto.getRandomValues(new Uint8Array(32)))
  const b = await bus('q', crypto.getRandomValues(new Uint8Array(32)))
  await new Promise((r) => setTimeout(r, 800))
  expect(a.b.peers.size).toBe(0)
  expect(b.b.peers.size).toBe(0)
  expect(a.client.stats.openFailures).toBeGreaterThan(0)
})
