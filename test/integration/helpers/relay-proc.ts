/**
 * A relay in a child process (so a test can kill it for real, and so its
 * event loop is its own). Driven over the fork IPC channel:
 *
 *   parent -> child  {type:'start', bootstrap}          a relay on 127.0.0.1, loopback-only media, swarm on the testnet
 *   child -> parent  {type:'ready', url} | {type:'error', message}
 *   parent -> child  {type:'room', discovery}
 *   child -> parent  {type:'room', publishers, remote, links, forwarder}
 *   parent -> child  {type:'stop'}                      close the relay and exit
 */
import { startRelay, type Relay } from '../../../relay/server.ts'
import { silentLogger } from '../../../relay/log.ts'
import { loopbackSdp } from '../../../src/net/peer.ts'

type Command = { type: 'start'; bootstrap: { host: string; port: number }[] } | { type: 'room'; discovery: string } | { type: 'stop' }

let relay: Relay | null = null
const send = (msg: object): void => {
  process.send?.(msg)
}

process.on('message', (cmd: Command) => {
  if (cmd.type === 'start') {
    startRelay({
      port: 0,
      host: '127.0.0.1',
      log: silentLogger,
      swarm: { bootstrap: cmd.bootstrap, host: '127.0.0.1' },
      rooms: { peerConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }, sdpFilter: loopbackSdp },
    }).then(
      (r) => {
        relay = r
        send({ type: 'ready', url: r.url })
      },
      (err: unknown) => send({ type: 'error', message: String(err) }),
    )
  } else if (cmd.type === 'room') {
    const room = relay?.rooms.room(cmd.discovery)
    send({
      type: 'room',
      publishers: room?.publishers ?? [],
      remote: room?.remotePublishers ?? [],
      links: relay?.cascade?.links(cmd.discovery).map((l) => l.url) ?? [],
      forwarder: room?.forwarderStats ?? null,
    })
  }
})
const stop = (): void => {
  void (relay?.close() ?? Promise.resolve()).then(() => process.exit(0))
}
process.on('message', (cmd: Command) => {
  if (cmd.type === 'stop') stop()
})
process.on('disconnect', () => {
  void relay?.close().then(() => process.exit(0))
})
