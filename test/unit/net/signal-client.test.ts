import { describe, expect, it, vi } from 'vitest'
import { retryDelay } from '../../../src/base/retry.ts'
import { deriveSignalKey, sealPayload } from '../../../src/net/room-crypto.ts'
import {
  DEFAULT_BACKOFF,
  SignalClient,
  SignalError,
  type SignalClientOptions,
  type Timers,
} from '../../../src/net/signal-client.ts'

/** Manual timers: nothing runs until `advance`, and `pending` shows what is left. */
class FakeTimers implements Timers {
  now = 0
  private seq = 0
  private readonly queue = new Map<number, { at: number; fn: () => void }>()
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq
    this.queue.set(id, { at: this.now + ms, fn })
    return id
  }
  clearTimeout(handle: unknown): void {
    this.queue.delete(handle as number)
  }
  get pending(): number {
    return this.queue.size
  }
  /** Delays of the timers currently scheduled. */
  get delays(): number[] {
    return [...this.queue.values()].map((t) => t.at - this.now)
  }
  advance(ms: number): void {
    const until = this.now + ms
    for (;;) {
      const next = [...this.queue.entries()].sort((a, b) => a[1].at - b[1].at)[0]
      if (!next || next[1].at > until) break
      this.queue.delete(next[0])
      this.now = next[1].at
      next[1].fn()
    }
    this.now = until
  }
}

class FakeSocket {
  static all: FakeSocket[] = []
  readyState = 0
  sent: unknown[] = []
  closedWith: [number | undefined, string | undefined] | null = null
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  constructor(readonly url: string) {
    FakeSocket.all.push(this)
  }
  send(data: string) {
    if (this.readyState !== 1) throw new Error('not open')
    this.sent.push(JSON.parse(data))
  }
  close(code?: number, reason?: string) {
    this.closedWith = [code, reason]
    this.readyState = 3
  }
  // test side
  open() {
    this.readyState = 1
    this.onopen?.({})
  }
  receive(msg: unknown) {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) })
  }
  fail() {
    this.readyState = 3
    this.onerror?.({ error: new Error('ECONNREFUSED') })
    this.onclose?.({ code: 1006, reason: '' })
  }
  serverClose(code: number, reason = '') {
    this.readyState = 3
    this.onclose?.({ code, reason })
  }
}

function setup(opts: Partial<SignalClientOptions> = {}) {
  FakeSocket.all = []
  const timers = new FakeTimers()
  const client = new SignalClient({
    url: 'ws://127.0.0.1:1/signal',
    WebSocket: FakeSocket,
    timers,
    random: () => 0,
    backoff: { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 },
    pingIntervalMs: 1000,
    connectTimeoutMs: 500,
    ...opts,
  })
  const events: unknown[] = []
  client.on('open', () => events.push('open'))
  client.on('close', (e) => events.push(['close', e.code, e.willReconnect]))
  client.on('error', (e) => events.push(['error', e.code]))
  client.on('message', (e) => events.push(['message', e.topic, e.data, e.clients]))
  const sock = () => FakeSocket.all[FakeSocket.all.length - 1]!
  return { client, timers, events, sock }
}

const flush = () => new Promise((r) => setTimeout(r, 20))

describe('retryDelay', () => {
  it('grows exponentially up to the cap, jitter only shortens', () => {
    const b = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 }
    expect([0, 1, 2, 3, 4, 10].map((n) => retryDelay(b, n, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000])
    expect(retryDelay(b, 2, () => 1)).toBe(200)
    expect(retryDelay(DEFAULT_BACKOFF, 0, () => 0.5)).toBeGreaterThan(0)
  })
})

describe('SignalClient', () => {
  it('subscribes on open, pings, publishes and emits topic messages', () => {
    const { client, events, sock } = setup()
    client.subscribe('room-a')
    sock().open()
    expect(sock().sent).toEqual([{ type: 'subscribe', topics: ['room-a'] }, { type: 'ping' }])
    client.subscribe('room-b')
    expect(sock().sent.at(-1)).toEqual({ type: 'subscribe', topics: ['room-b'] })
    void client.publish('room-a', { hi: 1 })
    expect(sock().sent.at(-1)).toEqual({ type: 'publish', topic: 'room-a', data: { hi: 1 } })
    sock().receive({ type: 'publish', topic: 'room-a', data: 'x', clients: 2 })
    sock().receive({ type: 'publish', topic: 'elsewhere', data: 'x' })
    sock().receive('garbage')
    sock().receive({ type: 'subscribe', topics: ['x'] })
    expect(events).toEqual(['open', ['message', 'room-a', 'x', 2]])
    expect(client.stats.dropped).toEqual({ 'unknown-topic': 1, 'bad-json': 1, 'unexpected-type': 1 })
    client.unsubscribe('room-b')
    expect(sock().sent.at(-1)).toEqual({ type: 'unsubscribe', topics: ['room-b'] })
    client.destroy()
  })

  it('reconnects with exponential backoff and resubscribes all topics', () => {
    const { client, timers, events, sock } = setup()
    client.subscribe('a')
    client.subscribe('b')
    const first = sock()
    first.open()
    first.receive({ type: 'pong' })
    first.serverClose(1006)
    expect(events).toEqual(['open', ['close', 1006, true]])
    expect(timers.delays).toEqual([100])
    timers.advance(100)
    sock().fail() // second failure in a row: longer wait
    expect(timers.delays).toEqual([200])
    timers.advance(200)
    const third = sock()
    expect(third).not.toBe(first)
    third.open()
    expect(third.sent[0]).toEqual({ type: 'subscribe', topics: ['a', 'b'] })
    expect(client.stats.reconnects).toBe(1)
    third.receive({ type: 'pong' }) // server answered: backoff resets
    third.serverClose(1001)
    expect(timers.delays).toEqual([100])
    client.destroy()
    expect(timers.pending).toBe(0)
  })

  it('reconnect() replaces an open socket at once (the network changed under it) and resubscribes', () => {
    const { client, timers, events, sock } = setup()
    client.subscribe('a')
    const first = sock()
    first.open()
    client.reconnect()
    expect(first.closedWith).toEqual([4000, 'network changed'])
    expect(events).toEqual(['open', ['close', 4000, true]])
    const second = sock()
    expect(second).not.toBe(first)
    first.serverClose(1006) // the old socket's late close changes nothing
    second.open()
    expect(second.sent[0]).toEqual({ type: 'subscribe', topics: ['a'] })
    expect(events).toEqual(['open', ['close', 4000, true], 'open'])
    // One socket, one ping timer and nothing else: the old socket's timers went with it.
    expect(timers.delays).toEqual([1000])
    client.destroy()
    expect(() => client.reconnect()).toThrow(SignalError)
  })

  it('reconnect() while waiting to retry connects now', () => {
    const { client, timers, sock } = setup()
    sock().fail()
    expect(timers.delays).toEqual([100])
    const before = FakeSocket.all.length
    client.reconnect()
    expect(FakeSocket.all.length).toBe(before + 1)
    expect(timers.delays).toEqual([500]) // the connect timeout only
    client.destroy()
  })

  it('does not reset the backoff for a server that accepts and closes at once (server full)', () => {
    const { client, timers, sock } = setup()
    for (const expected of [100, 200, 400]) {
      sock().open()
      sock().serverClose(4004, 'server full')
      expect(timers.delays).toEqual([expected])
      timers.advance(expected)
    }
    client.destroy()
  })

  it('reports signal-unreachable once per outage, after the first failure', () => {
    const { client, timers, events, sock } = setup()
    sock().fail()
    expect(events).toEqual([['error', 'signal-unreachable']])
    timers.advance(100)
    sock().fail()
    timers.advance(200)
    expect(events.length).toBe(1)
    sock().open()
    sock().serverClose(1006)
    timers.advance(400)
    sock().fail()
    expect(events).toEqual([['error', 'signal-unreachable'], 'open', ['close', 1006, true], ['error', 'signal-unreachable']])
    client.destroy()
  })

  it('gives up on a connect that hangs and on a socket that stops answering pings', () => {
    const { client, timers, events, sock } = setup()
    const hung = sock()
    timers.advance(500)
    expect(hung.closedWith?.[0]).toBe(4000)
    expect(events).toEqual([['error', 'signal-unreachable']])
    timers.advance(100)
    const live = sock()
    live.open()
    timers.advance(999)
    expect(live.sent).toEqual([{ type: 'ping' }])
    live.receive({ type: 'pong' })
    timers.advance(1)
    expect(live.sent).toEqual([{ type: 'ping' }, { type: 'ping' }])
    timers.advance(1000) // no pong this time
    expect(live.closedWith?.[0]).toBe(4000)
    expect(events.at(-1)).toEqual(['close', 1006, true])
    expect(FakeSocket.all.length).toBe(2)
    expect(timers.delays).toEqual([100]) // the pong had reset the backoff
    timers.advance(100)
    expect(FakeSocket.all.length).toBe(3)
    client.destroy()
  })

  it('reports limit closes from the server as signal-rejected', () => {
    const { client, events, sock } = setup()
    sock().open()
    sock().serverClose(4003, 'rate-limited')
    expect(events.slice(1)).toEqual([['close', 4003, true], ['error', 'signal-rejected']])
    client.destroy()
  })

  it('destroy is idempotent, closes the socket, emits close and leaves no timers', () => {
    const { client, timers, events, sock } = setup()
    sock().open()
    client.destroy()
    client.destroy()
    expect(sock().closedWith).toEqual([1000, 'client destroyed'])
    expect(events).toEqual(['open', ['close', 1000, false]])
    expect(timers.pending).toBe(0)
    sock().receive({ type: 'pong' })
    expect(() => client.subscribe('x')).toThrow(expect.objectContaining({ code: 'destroyed' }))
    // Destroy while connecting, and while waiting to reconnect.
    const a = setup()
    a.client.destroy()
    expect(a.timers.pending).toBe(0)
    const b = setup()
    b.sock().fail()
    b.client.destroy()
    expect(b.timers.pending).toBe(0)
    expect(FakeSocket.all.length).toBe(1)
  })

  it('throws on misuse with stable codes', () => {
    expect(() => setup({ url: 'http://example.invalid/' })).toThrow(expect.objectContaining({ code: 'invalid-url' }))
    expect(() => setup({ url: 'not a url' })).toThrow(SignalError)
    const { client } = setup()
    return expect(client.publish('nope', 1)).rejects.toMatchObject({ code: 'not-subscribed' }).finally(() => client.destroy())
  })

  it('publishing while disconnected is dropped and counted, not queued', async () => {
    const { client, sock } = setup()
    client.subscribe('a')
    expect(await client.publish('a', 1)).toBe(false)
    expect(client.stats.dropped['not-open']).toBe(1)
    sock().open()
    expect(await client.publish('a', 1)).toBe(true)
    client.destroy()
  })

  describe('sealed topics', () => {
    const secretA = new Uint8Array(32).fill(7)
    const secretB = new Uint8Array(32).fill(8)

    it('seals on publish, opens on receipt, skips its own echoes', async () => {
      const key = await deriveSignalKey(secretA)
      const { client, events, sock } = setup()
      client.subscribe('t', { key })
      sock().open()
      await client.publish('t', { type: 'announce', from: 'me' })
      const sent = sock().sent.at(-1) as { data: string }
      expect(typeof sent.data).toBe('string')
      expect(sent.data).not.toContain('announce')
      sock().receive({ type: 'publish', topic: 't', data: sent.data, clients: 2 }) // echo
      sock().receive({ type: 'publish', topic: 't', data: await sealPayload(key, { from: 'peer' }), clients: 2 })
      // Opening is WebCrypto, off the test's clock: wait for the outcome rather than a fixed time.
      await vi.waitFor(() => expect(events).toEqual(['open', ['message', 't', { from: 'peer' }, 2]]))
      expect(client.stats.echoes).toBe(1)
      client.destroy()
    })

    it('junk on the topic, however much and before anything good, is dropped and counted, never a wrong-secret verdict', async () => {
      // The server lets anyone publish on a topic without subscribing: a stranger who knows only
      // the topic (the room id's discovery key) sends junk before any member says anything.
      const mine = await deriveSignalKey(secretA)
      const theirs = await deriveSignalKey(secretB)
      const { client, events, sock } = setup()
      const errors: SignalError[] = []
      client.on('error', (e) => errors.push(e))
      client.subscribe('t', { key: mine })
      sock().open()
      await client.publish('t', { hello: 1 })
      sock().receive(sock().sent.at(-1)) // our echo: not a success, not a failure
      for (let i = 0; i < 40; i++) sock().receive({ type: 'publish', topic: 't', data: i % 2 ? 'junk' : await sealPayload(theirs, { i }) })
      await vi.waitFor(() => expect(client.stats.openFailures).toBe(40))
      await flush()
      expect(errors.map((e) => [e.code, e.message])).toEqual([])
      expect(client.stats.dropped['open-failed']).toBe(40)
      // The members are still heard afterwards.
      sock().receive({ type: 'publish', topic: 't', data: await sealPayload(mine, 'ok') })
      await vi.waitFor(() => expect(events.at(-1)).toEqual(['message', 't', 'ok', undefined]))
      expect(events.filter((e) => Array.isArray(e) && e[0] === 'error')).toEqual([])
      client.destroy()
    })

    it('a good session survives garbage from a stranger, but every failure is counted', async () => {
      const key = await deriveSignalKey(secretA)
      const { client, events, sock } = setup()
      client.subscribe('t', { key })
      sock().open()
      sock().receive({ type: 'publish', topic: 't', data: 'garbage' })
      sock().receive({ type: 'publish', topic: 't', data: await sealPayload(key, 'ok') })
      for (let i = 0; i < 5; i++) sock().receive({ type: 'publish', topic: 't', data: { not: 'a string' } })
      await vi.waitFor(() => expect(client.stats.openFailures).toBe(6))
      expect(events.filter((e) => Array.isArray(e) && e[0] === 'error')).toEqual([])
      expect(client.stats.dropped['open-failed']).toBe(6)
      client.destroy()
    })
  })
})
