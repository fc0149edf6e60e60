/**
 * Our SignalClient against y-webrtc's stock signalling server (node_modules/y-webrtc/bin/server.js,
 * unmodified), spawned as a child process. A preload pins it to 127.0.0.1 and port 0 and reports
 * the port it got (the stock script listens on all interfaces and does not print the real port).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { deriveSignalKey } from '../../src/net/room-crypto.ts'
import { SignalClient, type SignalError, type SignalMessageEvent } from '../../src/net/signal-client.ts'
import { waitFor as waitUntil } from '../helpers/wait.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PIN_TO_LOOPBACK =
  'data:text/javascript,import http from "node:http";' +
  'const listen = http.Server.prototype.listen;' +
  'http.Server.prototype.listen = function (port) {' +
  '  this.once("listening", () => process.stdout.write("LISTENING " + this.address().port + "\\n"));' +
  '  return listen.call(this, Number(port), "127.0.0.1") }'

async function spawnStockServer(): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, ['--import', PIN_TO_LOOPBACK, 'node_modules/y-webrtc/bin/server.js'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise<number>((ok, fail) => {
    let out = ''
    const timer = setTimeout(() => fail(new Error(`stock server did not start: ${out}`)), 20_000)
    proc.once('exit', (code) => fail(new Error(`stock server exited with ${code}: ${out}`)))
    proc.stdout!.on('data', (d: Buffer) => {
      out += String(d)
      const m = /LISTENING (\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        ok(Number(m[1]))
      }
    })
  })
  return { proc, url: `ws://127.0.0.1:${port}` }
}

/** The shared wait, with this file's argument order and defaults. */
const waitFor = (cond: () => boolean, ms = 15_000, what = 'condition'): Promise<void> => waitUntil(what, cond, ms, 10)

/** A loopback port nobody listens on (bound with port 0, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok))
  const { port } = srv.address() as AddressInfo
  await new Promise<void>((ok) => srv.close(() => ok()))
  return port
}

describe('SignalClient against the stock y-webrtc signalling server', () => {
  let stock: { proc: ChildProcess; url: string }
  beforeAll(async () => {
    stock = await spawnStockServer()
  })
  afterAll(async () => {
    if (stock.proc.exitCode === null) {
      const exited = new Promise((ok) => stock.proc.once('exit', ok))
      stock.proc.kill('SIGTERM')
      await exited
    }
  })

  it('two clients subscribe to a topic and exchange sealed payloads', async () => {
    const key = await deriveSignalKey(crypto.getRandomValues(new Uint8Array(32)))
    const topic = 'c0ffee'.repeat(10)
    const a = new SignalClient({ url: stock.url, WebSocket })
    const b = new SignalClient({ url: stock.url, WebSocket })
    const errors: SignalError[] = []
    const got: Record<'a' | 'b', SignalMessageEvent[]> = { a: [], b: [] }
    for (const [name, c] of [['a', a], ['b', b]] as const) {
      c.on('error', (e) => errors.push(e))
      c.on('message', (e) => got[name].push(e))
      c.subscribe(topic, { key })
    }
    await waitFor(() => a.connected && b.connected, 15_000, 'both connected')
    // The stock server sends nothing back for a subscribe; publish until the other side hears.
    const offer = { type: 'signal', from: 'a', signal: { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' } }
    await waitFor(() => {
      if (got.b.length === 0) void a.publish(topic, offer)
      return got.b.length > 0
    }, 15_000, 'b hears a')
    await b.publish(topic, { type: 'signal', from: 'b', signal: { type: 'answer' } })
    await waitFor(() => got.a.some((e) => (e.data as { from?: string }).from === 'b'), 15_000, 'a hears b')
    expect(got.b[0]).toEqual({ topic, data: offer, clients: 2 })
    // Own echoes never surface as messages.
    expect(got.a.every((e) => (e.data as { from: string }).from === 'b')).toBe(true)
    expect(got.b.every((e) => (e.data as { from: string }).from === 'a')).toBe(true)
    expect(a.stats.echoes).toBeGreaterThan(0)
    expect(a.stats.openFailures + b.stats.openFailures).toBe(0)
    expect(errors).toEqual([])
    a.destroy()
    b.destroy()
    expect(stock.proc.exitCode).toBeNull()
  })

  it('an unreachable URL gives one signal-unreachable error to exit on', async () => {
    const port = await closedPort()
    const c = new SignalClient({ url: `ws://127.0.0.1:${port}/signal`, WebSocket, backoff: { initialMs: 50, maxMs: 100 } })
    const errors: SignalError[] = []
    c.on('error', (e) => errors.push(e))
    await waitFor(() => errors.length > 0, 15_000, 'unreachable error')
    expect(errors[0]!.code).toBe('signal-unreachable')
    expect(errors[0]!.message).toBe(`cannot reach the signalling server at ws://127.0.0.1:${port}/signal`)
    await new Promise((r) => setTimeout(r, 300)) // several retries: still one error per outage
    expect(errors.length).toBe(1)
    c.destroy()
  })
})
