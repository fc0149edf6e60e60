/**
 * RelayFinder: a Node participant (`stoop peer --swarm`) finds the relays
 * serving its room on hyperswarm, the way relays find each other
 * (cascade/discovery.ts): it joins the room's relay topic as a client only and
 * reads each relay's hello line. It sends nothing, so relays learn nothing
 * from it but that someone looked. A relay only announces a room while it
 * serves it, which may start after we joined, and a client-side join looks up
 * once, so the lookup is repeated: every `refreshMs` while no relay is known,
 * ten times less often after. A relay URL found this way is only a hint:
 * the client authenticates the relay's challenge against the host it dials,
 * and validates every speaker against its own copy of the room log.
 *
 * Never falls back to the public DHT: `bootstrap` is required.
 */
import type Hyperswarm from 'hyperswarm'
import { createSwarm, type BootstrapNode } from './dht.ts'
import { readRelayHellos, relayTopic, type DiscoveryConn } from './relay-hello.ts'

export interface RelayFinderOptions {
  /** The room's discovery key, hex. */
  discovery: string
  bootstrap: BootstrapNode[]
  /** DHT bind host (tests: 127.0.0.1). */
  host?: string
  /** The relays serving the room changed (sorted `/relay` WebSocket URLs). */
  onRelays: (urls: string[]) => void
  /** A connection was closed for a protocol error. */
  onRejected?: (reason: string) => void
  /** Lookup interval while no relay is known. Default 3 s. */
  refreshMs?: number
}

export class RelayFinder {
  readonly #opts: RelayFinderOptions
  readonly #swarm: InstanceType<typeof Hyperswarm>
  readonly #topic: string
  readonly #relays = new Map<DiscoveryConn, string>()
  #reported = ''
  #destroyed = false
  #refresh: NodeJS.Timeout | null = null

  constructor(opts: RelayFinderOptions) {
    this.#opts = opts
    const topic = relayTopic(opts.discovery)
    this.#topic = topic.toString('hex')
    this.#swarm = createSwarm(opts, 'finding relays')
    this.#swarm.on('connection', (conn: DiscoveryConn) => this.#onConnection(conn))
    const session: { refresh(): Promise<void> } = this.#swarm.join(topic, { server: false, client: true })
    const again = (): void => {
      const ms = (opts.refreshMs ?? 3000) * (this.#relays.size > 0 ? 10 : 1)
      this.#refresh = setTimeout(() => {
        if (this.#destroyed) return
        session.refresh().catch(() => this.#opts.onRejected?.('lookup'))
        again()
      }, ms)
      this.#refresh.unref()
    }
    again()
  }

  /** Relays serving the room now. */
  get relays(): string[] {
    return [...new Set(this.#relays.values())].sort()
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    if (this.#refresh) clearTimeout(this.#refresh)
    this.#relays.clear()
    await this.#swarm.destroy()
  }

  #onConnection(conn: DiscoveryConn): void {
    if (this.#destroyed) return conn.destroy()
    readRelayHellos(
      conn,
      (hello) => {
        if (hello.topics.has(this.#topic)) this.#relays.set(conn, hello.url)
        else this.#relays.delete(conn)
        this.#report()
      },
      (reason) => this.#opts.onRejected?.(reason),
    )
    conn.on('error', () => this.#opts.onRejected?.('connection-error'))
    conn.on('close', () => {
      if (this.#relays.delete(conn)) this.#report()
    })
  }

  #report(): void {
    const urls = this.relays
    const key = urls.join(' ')
    if (this.#destroyed || key === this.#reported) return
    this.#reported = key
    this.#opts.onRelays(urls)
  }
}
