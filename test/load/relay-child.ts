/**
 * The relay of the soak tests, in a process of its own: its RSS is the relay's
 * alone (not the attacking test's heap), and a crash shows as the process
 * dying. Forked with --expose-gc so the test can let the heap settle before it
 * reads the RSS (a test-only trigger: the relay itself has none). IPC:
 *
 *   parent -> child  {type:'start', rooms?}       a relay on 127.0.0.1, loopback-only media
 *   child -> parent  {type:'ready', url} | {type:'error', message}
 *   parent -> child  {type:'gc'}                   full collections, then
 *   child -> parent  {type:'gc', rss, heapUsed, external, arrayBuffers}
 *   parent -> child  {type:'stop'}                 close the relay and exit 0
 */
import { startRelay, type Relay, type RelayOptions } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { loopbackSdp } from '../../src/net/peer.ts'

type Command = { type: 'start'; rooms?: RelayOptions['rooms'] } | { type: 'gc' } | { type: 'stop' }

let relay: Relay | null = null
const send = (msg: object): void => {
  process.send?.(msg)
}
const gc = (globalThis as { gc?: () => void }).gc

async function settle(): Promise<void> {
  // Several passes, a macrotask apart: finalizers and weak references let go over more than one.
  for (let i = 0; i < 4; i++) {
    gc?.()
    await new Promise((r) => setTimeout(r, 50))
  }
  const m = process.memoryUsage()
  send({ type: 'gc', rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })
}

process.on('message', (cmd: Command) => {
  if (cmd.type === 'start') {
    startRelay({
      port: 0,
      host: '127.0.0.1',
      log: silentLogger,
      rooms: { peerConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }, sdpFilter: loopbackSdp, ...cmd.rooms },
    }).then(
      (r) => {
        relay = r
        send({ type: 'ready', url: r.url })
      },
      (err: unknown) => send({ type: 'error', message: String(err) }),
    )
  } else if (cmd.type === 'gc') {
    void settle()
  } else if (cmd.type === 'stop') {
    void (relay?.close() ?? Promise.resolve()).then(() => process.exit(0))
  }
})
process.on('disconnect', () => {
  void (relay?.close() ?? Promise.resolve()).then(() => process.exit(0))
})
