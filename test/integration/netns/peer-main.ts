/**
 * A headless peer (`stoop peer`'s core, startHeadlessPeer) for a process inside a lab
 * namespace. Same as `stoop peer --json`, plus the one thing the CLI does not take: remote
 * ICE candidates are kept only inside the lab's subnet.
 *
 *   node --import tsx peer-main.ts '<json options>'
 *
 * Options: link, subnet, and any of signal, relay, ice, name, speak (hz), record, key,
 * meshSize. Events: one JSON line each on stdout; exit 0 on SIGTERM, 1 on failure. SIGUSR2
 * raises the peer's hand (then `hand-raised`), for tests that raise it at a moment they choose.
 */
import { startHeadlessPeer, type HeadlessPeerOptions } from '../../../src/headless/headless-peer.ts'
import { candidateInSubnets } from '../../../src/net/ice.ts'
import { DEFAULT_LIMITS } from '../../../src/net/topology.ts'

interface Args {
  link: string
  subnet: string
  signal?: string
  relay?: string[] | false
  ice?: string[]
  name?: string
  speak?: number
  record?: string
  key?: string
  meshSize?: number
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args
const opts: HeadlessPeerOptions = {
  link: args.link,
  acceptCandidate: candidateInSubnets([args.subnet]),
  onEvent: (ev) => process.stdout.write(JSON.stringify(ev) + '\n'),
  ...(args.signal ? { signal: args.signal } : {}),
  ...(args.relay !== undefined ? { relay: args.relay } : {}),
  ...(args.ice ? { ice: args.ice } : {}),
  ...(args.name ? { name: args.name } : {}),
  ...(args.speak ? { speak: { kind: 'tone' as const, freq: args.speak } } : {}),
  ...(args.record ? { record: args.record } : {}),
  ...(args.key ? { keyFile: args.key } : {}),
  ...(args.meshSize ? { limits: { ...DEFAULT_LIMITS, meshSize: args.meshSize, hardCap: Math.max(DEFAULT_LIMITS.hardCap, args.meshSize) } } : {}),
}

try {
  const peer = await startHeadlessPeer(opts)
  const stop = (): void => void peer.stop()
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  process.on('SIGUSR2', () => {
    const sent = Date.now()
    peer.client.actor.raiseHand().then(
      () => opts.onEvent?.({ event: 'hand-raised', t: Date.now(), signalled: sent }),
      (err: Error) => opts.onEvent?.({ event: 'warning', t: Date.now(), code: 'raise-failed', message: err.message }),
    )
  })
  await peer.done
  process.exit(0)
} catch (err) {
  process.stderr.write(`peer-main: ${err instanceof Error ? err.message : String(err)}\n`)
  // Exit explicitly: @roamhq/wrtc can crash in its native teardown otherwise (see src/cli/stoop.js).
  process.exit(1)
}
