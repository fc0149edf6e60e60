/**
 * Our /signal endpoint under bad input and abuse, with raw `ws` sockets on 127.0.0.1:
 * every limit closes with its documented code and moves its counter, bad frames are
 * dropped and counted, and the server keeps serving good clients afterwards.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { silentLogger } from '../../relay/log.ts'
import { createMetrics, type Metrics } from '../../relay/metrics.ts'
import { startRelay } from '../../relay/server.ts'
import { attachSignalling, type Signalling, type SignallingOptions } from '../../relay/signalling.ts'
import { deriveSignalKey, sealPayload } from '../../src/net/room-crypto.ts'
import { SignalClient, type SignalError, type SignalMessageEvent } from '../../src/net/signal-client.ts'
import { SignalCloseCode } from '../../src/net/signal-protocol.ts'
import { waitFor as waitUntil } from '../helpers/wait.ts'

interface TestServer {
  url: string
  metrics: Metrics
  signalling: Signalling
  close(): Promise<void>
}

async function startServer(opts: Partial<SignallingOptions> = {}): Promise<TestServer> {
  const metrics = createMetrics()
  const server: Server = createServer((_req, res) => res.end('ok'))
  const signalling = attachSignalling(server, { log: silentLogger, metrics, ...opts })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}/signal`,
    metrics,
    signalling,
    close: async () => {
      await signalling.close()
      await new Promise<void>((ok) => server.close(() => ok()))
    },
  }
}

async function raw(url: string, opts: { autoPong?: boolean } = {}): Promise<{ ws: WebSocket; inbox: unknown[]; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url, opts)
  const inbox: unknown[] = []
  ws.on('message', (d) => inbox.push(JSON.parse(String(d))))
  const closed = new Promise<{ code: number; reason: string }>((ok) => ws.on('close', (code, reason) => ok({ code, reason: String(reason) })))
  ws.on('error', () => {}) // surfaced through `closed`
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok())
    ws.once('error', fail)
  })
  return { ws, inbox, closed }
}

/** The shared wait, with this file's argument order and defaults. */
const waitFor = (cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> => waitUntil(what, cond, ms, 10)

/** Sends a ping and waits for the pong: proves the connection is still served. */
async function roundTrip(c: { ws: WebSocket; inbox: unknown[] }): Promise<void> {
  const before = c.inbox.length
  c.ws.send('{"type":"ping"}')
  await waitFor(() => c.inbox.slice(before).some((m) => (m as { type: string }).type === 'pong'), 10_000, 'pong')
}

const rejected = (m: Metrics, reason: string) => m.value('stoop_signal_rejected_total', { reason })

function openClient(url: string): Promise<SignalClient> {
  const c = new SignalClient({ url, WebSocket })
  return new Promise((ok, fail) => {
    c.on('open', () => ok(c))
    c.on('error', (e) => fail(e))
  })
}

describe('signalling server limits and bad input', () => {
  let s: TestServer
  beforeAll(async () => {
    s = await startServer({ maxMessageBytes: 1024, maxTopicsPerConnection: 4, ratePerSecond: 20, burst: 30 })
  })
  afterAll(() => s.close())

  it('behaves like the stock server: fan-out to all subscribers incl. sender, with clients and extra fields', async () => {
    const a = await raw(s.url)
    const b = await raw(s.url)
    const outsider = await raw(s.url)
    a.ws.send(JSON.stringify({ type: 'subscribe', topics: ['t'] }))
    b.ws.send(JSON.stringify({ type: 'subscribe', topics: ['t', 'u'] }))
    await roundTrip(a)
    await roundTrip(b)
    outsider.ws.send(JSON.stringify({ type: 'publish', topic: 't', data: { x: 1 }, extra: 'kept' }))
    await waitFor(() => a.inbox.length >= 2 && b.inbox.length >= 2)
    const expected = { type: 'publish', topic: 't', data: { x: 1 }, extra: 'kept', clients: 2 }
    expect(a.inbox.at(-1)).toEqual(expected)
    expect(b.inbox.at(-1)).toEqual(expected)
    a.ws.send(JSON.stringify({ type: 'publish', topic: 't', data: 'from a' }))
    await waitFor(() => a.inbox.length >= 3 && b.inbox.length >= 3)
    expect(a.inbox.at(-1)).toMatchObject({ data: 'from a', clients: 2 }) // sender gets its own
    a.ws.send(JSON.stringify({ type: 'unsubscribe', topics: ['t'] }))
    await roundTrip(a)
    const aCount = a.inbox.length
    b.ws.send(JSON.stringify({ type: 'publish', topic: 't', data: 'after' }))
    await waitFor(() => (b.inbox.at(-1) as { data?: string }).data === 'after')
    expect(b.inbox.at(-1)).toMatchObject({ clients: 1 })
    await roundTrip(a)
    expect(a.inbox.length).toBe(aCount + 1) // only the pong
    expect(outsider.inbox).toEqual([])
    for (const c of [a, b, outsider]) c.ws.close()
    await Promise.all([a.closed, b.closed, outsider.closed])
    await waitFor(() => s.signalling.topicCount === 0 && s.signalling.connectionCount === 0, 5000, 'cleanup')
  })

  it('drops and counts malformed frames without closing the connection', async () => {
    const c = await raw(s.url)
    const frames = [
      'not json',
      '{"type":',
      'null',
      '[1,2]',
      '42',
      '{"type":"frobnicate"}',
      '{"no":"type"}',
      '{"type":"subscribe","topics":"t"}',
      '{"type":"subscribe","topics":[1]}',
      '{"type":"publish","topic":7}',
      `{"type":"publish","topic":"t","data":${'['.repeat(100)}${']'.repeat(100)}}`,
    ]
    for (const f of frames) c.ws.send(f)
    c.ws.send(Buffer.from('{"type":"ping"}'), { binary: true }) // stock server accepts binary JSON too
    await waitFor(() => c.inbox.length === 1, 10_000, 'pong to binary ping')
    await roundTrip(c)
    expect(rejected(s.metrics, 'bad-json')).toBe(2)
    expect(rejected(s.metrics, 'not-object')).toBe(3)
    expect(rejected(s.metrics, 'unknown-type')).toBe(1)
    expect(rejected(s.metrics, 'bad-field')).toBe(4)
    expect(rejected(s.metrics, 'too-deep')).toBe(1)
    expect(c.ws.readyState).toBe(WebSocket.OPEN)
    c.ws.close()
    await c.closed
  })

  it('does not amplify: a publish that re-serialises past the cap is dropped and counted (attack found by the fuzzer)', async () => {
    const sub = await raw(s.url)
    sub.ws.send('{"type":"subscribe","topics":["amp"]}')
    await roundTrip(sub)
    const before = rejected(s.metrics, 'amplified')
    // 150 numbers written as 9e20 (4 chars) come out as 1e+21-ish (21 chars): under 1 KiB in, over it out.
    const attacker = await raw(s.url)
    attacker.ws.send(`{"type":"publish","topic":"amp","data":[${Array(150).fill('9e20').join(',')}]}`)
    await roundTrip(attacker)
    await roundTrip(sub)
    expect(rejected(s.metrics, 'amplified')).toBe(before + 1)
    expect(sub.inbox.filter((m) => (m as { type: string }).type === 'publish')).toEqual([])
    expect(attacker.ws.readyState).toBe(WebSocket.OPEN)
    attacker.ws.close()
    sub.ws.close()
  })

  it('closes 4001 for a frame over the size cap and 1009 above the hard frame ceiling', async () => {
    const a = await raw(s.url)
    a.ws.send(JSON.stringify({ type: 'publish', topic: 't', data: 'x'.repeat(2000) }))
    expect(await a.closed).toEqual({ code: SignalCloseCode.TooLarge, reason: 'too-large' })
    const b = await raw(s.url)
    b.ws.send('x'.repeat(10_000))
    expect((await b.closed).code).toBe(1009)
    expect(rejected(s.metrics, 'too-large')).toBe(2)
  })

  it('closes 4002 when a connection subscribes to too many topics', async () => {
    const c = await raw(s.url)
    c.ws.send(JSON.stringify({ type: 'subscribe', topics: ['1', '2', '3'] }))
    c.ws.send(JSON.stringify({ type: 'subscribe', topics: ['1', '2', '3', '4'] })) // still 4: fine
    await roundTrip(c)
    c.ws.send(JSON.stringify({ type: 'subscribe', topics: ['5'] }))
    expect(await c.closed).toEqual({ code: SignalCloseCode.TooManyTopics, reason: 'too-many-topics' })
    expect(rejected(s.metrics, 'too-many-topics')).toBe(1)
    await waitFor(() => s.signalling.topicCount === 0, 5000, 'topics released')
  })

  it('closes 4003 on a flood past the token bucket', async () => {
    const c = await raw(s.url)
    for (let i = 0; i < 200; i++) c.ws.send('{"type":"ping"}')
    expect(await c.closed).toEqual({ code: SignalCloseCode.RateLimited, reason: 'rate-limited' })
    expect(rejected(s.metrics, 'rate-limited')).toBe(1)
    // The burst was answered before the cut; nothing after it.
    expect(c.inbox.length).toBeLessThanOrEqual(40)
  })

  it('still serves good clients afterwards, and the counters show in Prometheus text', async () => {
    const key = await deriveSignalKey(new Uint8Array(32).fill(3))
    const a = await openClient(s.url)
    const b = await openClient(s.url)
    const got: SignalMessageEvent[] = []
    const subscribes = () => s.metrics.value('stoop_signal_messages_total', { type: 'subscribe' })
    const before = subscribes()
    a.subscribe('room', { key })
    b.subscribe('room', { key })
    b.on('message', (e) => got.push(e))
    await waitFor(() => subscribes() === before + 2)
    await a.publish('room', { hello: 'b' })
    await waitFor(() => got.length === 1)
    expect(got[0]).toEqual({ topic: 'room', data: { hello: 'b' }, clients: 2 })
    a.destroy()
    b.destroy()
    const text = s.metrics.render()
    expect(text).toContain('# TYPE stoop_signal_rejected_total counter')
    expect(text).toMatch(/^stoop_signal_rejected_total\{reason="rate-limited"\} 1$/m)
    expect(text).toMatch(/^stoop_signal_delivered_total \d+$/m)
  })
})

describe('signalling server connection limits and liveness', () => {
  it('closes 4004 past maxConnections', async () => {
    const s = await startServer({ maxConnections: 2 })
    const a = await raw(s.url)
    const b = await raw(s.url)
    const c = await raw(s.url)
    expect(await c.closed).toEqual({ code: SignalCloseCode.ServerFull, reason: 'server full' })
    expect(rejected(s.metrics, 'server-full')).toBe(1)
    a.ws.close()
    await a.closed
    await waitFor(() => s.signalling.connectionCount === 1)
    const d = await raw(s.url)
    await roundTrip(d)
    await s.close()
    expect((await b.closed).code).toBe(1001)
    expect((await d.closed).code).toBe(1001)
  })

  it('pings idle connections and drops the ones that never answer', async () => {
    const s = await startServer({ pingIntervalMs: 150 })
    const deadPeer = await raw(s.url, { autoPong: false })
    const livePeer = await raw(s.url)
    deadPeer.ws.send(JSON.stringify({ type: 'subscribe', topics: ['t'] }))
    const closed = await deadPeer.closed
    expect(closed.code).toBe(1006) // terminated, no close handshake
    expect(s.metrics.value('stoop_signal_dead_total')).toBe(1)
    await new Promise((r) => setTimeout(r, 600)) // several intervals: the live peer answers pings
    expect(livePeer.ws.readyState).toBe(WebSocket.OPEN)
    expect(s.signalling.topicCount).toBe(0)
    await s.close()
  })
})

describe('wrong room secret over a real server', () => {
  // No client is ever told "wrong secret" by the network: anyone may publish on a topic, so that
  // verdict would be a stranger's to give (a wrong key is caught by the link's key check instead).
  it('frames that do not open are counted, never an error, for a client with another key or a good one', async () => {
    const s = await startServer()
    const good = await deriveSignalKey(new Uint8Array(32).fill(1))
    const bad = await deriveSignalKey(new Uint8Array(32).fill(2))
    const alice = await openClient(s.url)
    const bob = await openClient(s.url)
    const mallory = await openClient(s.url)
    const errors: Record<string, SignalError[]> = { alice: [], bob: [], mallory: [] }
    alice.on('error', (e) => errors.alice!.push(e))
    bob.on('error', (e) => errors.bob!.push(e))
    mallory.on('error', (e) => errors.mallory!.push(e))
    const bobGot: unknown[] = []
    bob.on('message', (e) => bobGot.push(e.data))
    alice.subscribe('topic', { key: good })
    bob.subscribe('topic', { key: good })
    mallory.subscribe('topic', { key: bad })
    await waitFor(() => s.metrics.value('stoop_signal_messages_total', { type: 'subscribe' }) === 3)
    // A stranger's garbage arrives before anything valid.
    const stranger = await raw(s.url)
    const noise = await deriveSignalKey(new Uint8Array(32).fill(9))
    stranger.ws.send(JSON.stringify({ type: 'publish', topic: 'topic', data: await sealPayload(noise, 'noise') }))
    for (let i = 0; i < 3; i++) await alice.publish('topic', { n: i })
    await waitFor(() => bobGot.length === 3 && mallory.stats.openFailures === 4, 10_000, 'delivery, and failures counted')
    expect(bobGot).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }])
    expect(errors.mallory).toEqual([])
    expect(errors.alice).toEqual([])
    expect(errors.bob).toEqual([])
    expect(bob.stats.openFailures).toBe(1)
    for (const c of [alice, bob, mallory]) c.destroy()
    stranger.ws.close()
    await s.close()
  })
})

describe('relay wiring', () => {
  it('startRelay serves /signal and /metrics', async () => {
    const relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
    const url = relay.url.replace('http://', 'ws://') + '/signal'
    const c = await raw(url)
    c.ws.send('garbage')
    await roundTrip(c)
    const res = await fetch(relay.url + '/metrics')
    expect(res.headers.get('content-type')).toContain('text/plain')
    const text = await res.text()
    expect(text).toMatch(/^stoop_signal_rejected_total\{reason="bad-json"\} 1$/m)
    expect(text).toMatch(/^stoop_signal_connections 1$/m)
    await relay.close()
    expect((await c.closed).code).toBe(1001)
  })
})
