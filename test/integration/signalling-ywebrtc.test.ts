/**
 * Stock y-webrtc clients against OUR /signal endpoint: two WebrtcProviders (real WebRTC through
 * @roamhq/wrtc, same room name and password) find each other through the relay and sync a Y.Text.
 *
 * Each provider runs in its own Node process: y-webrtc keeps a module-level room map (one doc
 * per room name per process) and would otherwise sync the two docs over an in-process
 * BroadcastChannel, bypassing signalling. The Node globals y-webrtc needs (WebSocket) are set
 * in the child script here, never in product code.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../relay/log.ts'
import { startRelay, type Relay } from '../../relay/server.ts'
import { waitFor as waitUntil } from '../helpers/wait.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

const PEER_SCRIPT = `
import { WebSocket } from 'ws'
import wrtc from '@roamhq/wrtc'
import * as Y from 'yjs'
globalThis.WebSocket = WebSocket // lib0/websocket (used by y-webrtc) expects a browser-style global
const { WebrtcProvider } = await import('y-webrtc')
const { SIGNAL_URL, ROOM, PASSWORD, NAME } = process.env
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
const doc = new Y.Doc()
// Keep every ICE check on loopback: drop remote candidates on the machine's other addresses.
class LoopbackPC extends wrtc.RTCPeerConnection {
  addIceCandidate(c) {
    const line = c?.candidate ?? ''
    return line && !/ (127\\.0\\.0\\.1|::1) \\d+ typ /.test(line) ? Promise.resolve() : super.addIceCandidate(c)
  }
}
const provider = new WebrtcProvider(ROOM, doc, { signaling: [SIGNAL_URL], password: PASSWORD, peerOpts: { wrtc: { ...wrtc, RTCPeerConnection: LoopbackPC } } })
const text = doc.getText('t')
text.observe(() => out({ text: text.toString() }))
provider.on('peers', (e) => out({ peers: e.webrtcPeers.length }))
text.insert(0, '[' + NAME + ']')
process.stdin.setEncoding('utf8')
process.stdin.on('data', (d) => {
  if (!d.includes('quit')) return
  provider.destroy()
  doc.destroy()
  // wrtc keeps native threads alive; give y-webrtc's async destroy a moment, then leave.
  setTimeout(() => { out({ destroyed: true }); process.exit(0) }, 300)
})
out({ ready: true })
`

interface Peer {
  proc: ChildProcess
  lines: Array<Record<string, unknown>>
  exited: Promise<number | null>
}

function spawnPeer(env: Record<string, string>): Peer {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', PEER_SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines: Array<Record<string, unknown>> = []
  let buf = ''
  proc.stdout!.on('data', (d: Buffer) => {
    buf += String(d)
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        lines.push({ log: line }) // y-webrtc or wrtc chatter
      }
    }
  })
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)))
  return { proc, lines, exited }
}

/** The shared wait, with this file's argument order; `what` may be computed at timeout (the lines seen by then). */
const waitFor = (cond: () => boolean, ms: number, what: string | (() => string)): Promise<void> => waitUntil(what, cond, ms, 25)

const lastText = (p: Peer) => [...p.lines].reverse().find((l) => typeof l.text === 'string')?.text as string | undefined

describe('stock y-webrtc providers through our /signal', () => {
  let relay: Relay
  const peers: Peer[] = []
  beforeAll(async () => {
    relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  })
  afterAll(async () => {
    for (const p of peers) if (p.proc.exitCode === null) p.proc.kill('SIGKILL')
    await relay.close()
  })

  it('two WebrtcProviders sync a Y.Text', async () => {
    const env = {
      SIGNAL_URL: relay.url.replace('http://', 'ws://') + '/signal',
      ROOM: `stoop-test-${process.pid}`,
      PASSWORD: 'correct horse battery staple',
    }
    // B starts once A is in the room. Started together, both may receive the other's announce
    // and both offer: y-webrtc's glare handling then left a connection that reported a peer but
    // never synced (1 run in 4 here, with the stock client's own logic, whatever the server).
    // The protocol this test is about is the same either way.
    const a = spawnPeer({ ...env, NAME: 'A' })
    peers.push(a)
    await waitFor(() => a.lines.some((l) => l.ready), 30_000, 'A ready')
    await waitFor(() => relay.metrics.value('stoop_signal_topics') === 1, 10_000, "A's subscription")
    const b = spawnPeer({ ...env, NAME: 'B' })
    peers.push(b)
    const synced = (p: Peer) => {
      const t = lastText(p)
      return t !== undefined && t.includes('[A]') && t.includes('[B]')
    }
    await waitFor(() => synced(a) && synced(b), 45_000, () => `sync (A: ${JSON.stringify(a.lines)}, B: ${JSON.stringify(b.lines)})`)
    expect(lastText(a)).toBe(lastText(b))
    expect(a.lines.some((l) => l.peers === 1)).toBe(true)

    const m = relay.metrics
    expect(m.value('stoop_signal_connections_total')).toBeGreaterThanOrEqual(2)
    expect(m.value('stoop_signal_messages_total', { type: 'publish' })).toBeGreaterThan(2)
    expect(m.value('stoop_signal_delivered_total')).toBeGreaterThan(2)
    for (const reason of ['bad-json', 'not-object', 'unknown-type', 'bad-field', 'too-large', 'rate-limited'])
      expect(m.value('stoop_signal_rejected_total', { reason })).toBe(0)

    for (const p of [a, b]) p.proc.stdin!.write('quit\n')
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0])
    expect(a.lines.some((l) => l.destroyed)).toBe(true)
    await waitFor(() => m.value('stoop_signal_connections') === 0 && m.value('stoop_signal_topics') === 0, 10_000, 'relay cleanup')
  })
})
