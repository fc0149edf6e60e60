/**
 * The one way this project makes a hyperswarm: with the DHT bootstrap nodes of
 * the deployment (tests: a local testnet), never the public DHT by accident.
 * Used by the swarm bus, relay discovery and the relay finder.
 */
import Hyperswarm from 'hyperswarm'
import HyperDHT from 'hyperdht'
import { CodedError } from '../base/errors.ts'

/** A DHT bootstrap node. */
export interface BootstrapNode {
  host: string
  port: number
}

export type DhtErrorCode = 'no-bootstrap' | 'bad-bootstrap'

/**
 * A swarm on a DHT bootstrapped from `bootstrap` ('public': hyperdht's default nodes, only
 * when asked for by name). A DHT whose bootstrap nodes are all on this machine binds to
 * loopback, so a test never listens on another interface; `host` overrides.
 */
export function createSwarm(opts: { bootstrap: readonly BootstrapNode[] | 'public' | undefined; host?: string }, what: string): InstanceType<typeof Hyperswarm> {
  const { bootstrap } = opts
  if (bootstrap === undefined || (bootstrap !== 'public' && bootstrap.length === 0)) {
    throw new CodedError<DhtErrorCode>('no-bootstrap', `${what} needs DHT bootstrap nodes (host:port)`)
  }
  const host = opts.host ?? (bootstrap !== 'public' && bootstrap.every((b) => /^(127\.|::1$|localhost$)/.test(b.host)) ? '127.0.0.1' : undefined)
  const dht = new HyperDHT({ ...(bootstrap === 'public' ? {} : { bootstrap: [...bootstrap] }), ...(host === undefined ? {} : { host }) })
  return new Hyperswarm({ dht })
}

/** Parses `--bootstrap host:port[,host:port]` (IPv6 as `[::1]:port`); throws `bad-bootstrap` on anything else. */
export function parseBootstrap(value: string): BootstrapNode[] {
  const nodes = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(part)
      const port = match === null ? NaN : Number(match[3])
      if (match === null || !(port >= 1 && port <= 65535)) {
        throw new CodedError<DhtErrorCode>('bad-bootstrap', `bad bootstrap node "${part}" (want host:port)`)
      }
      return { host: (match[1] ?? match[2])!, port }
    })
  if (nodes.length === 0) throw new CodedError<DhtErrorCode>('bad-bootstrap', 'no bootstrap nodes given')
  return nodes
}
