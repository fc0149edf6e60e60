/**
 * Relay discovery on hyperswarm: relays serving the same room find each other.
 *
 * While a room is loaded, the relay joins the room's relay topic as server
 * and client. On every swarm connection both sides send a hello
 * (src/node/relay-hello.ts), and send it again whenever their set of topics
 * changes. A relay learns "the relay at `url` serves the rooms behind `topics`" and reports,
 * per topic it has joined itself, the set of other relays' URLs. Malformed
 * lines close the connection and are counted. Connections are Noise-encrypted
 * by hyperswarm; the URL is only a hint: whoever dials it authenticates with
 * its relay key and the dialled relay validates everything it forwards
 * against its own copy of the room log.
 *
 * Never falls back to the public DHT: `bootstrap` is required.
 */
import type Hyperswarm from 'hyperswarm'
import { createSwarm, type BootstrapNode } from '../../src/node/dht.ts'
import { readRelayHellos, relayTopic, type DiscoveryConn } from '../../src/node/relay-hello.ts'

export interface RelayDiscoveryOptions {
  bootstrap: BootstrapNode[]
  /** DHT bind host (tests: 127.0.0.1). */
  host?: string
  /** The WebSocket URL of this relay's `/relay` endpoint, as other relays reach it. */
  url: string
  /** The set of other relays serving room `discovery` changed. */
  onRelays: (discovery: string, urls: string[]) => void
  /** A connection was closed for a protocol error (counted by the caller). */
  onRejected?: (reason: string, err?: unknown) => void
}

interface Remote {
  url: string | null
  topics: Set<string>
}

export class RelayDiscovery {
  readonly #opts: RelayDiscoveryOptions
  readonly #swarm: InstanceType<typeof Hyperswarm>
  /** topic hex -> room discovery hex, for the topics joined. */
  readonly #joined = new Map<string, string>()
  readonly #conns = new Map<DiscoveryConn, Remote>()
  /** Last reported URL set per room, to report changes only. */
  readonly #reported = new Map<string, string>()
  #destroyed = false

  constructor(opts: RelayDiscoveryOptions) {
    this.#opts = opts
    this.#swarm = createSwarm(opts, 'relay discovery')
    this.#swarm.on('connection', (conn: DiscoveryConn) => this.#onConnection(conn))
  }

  /** Other relays known to serve room `discovery` now. */
  relaysFor(discovery: string): string[] {
    const topic = relayTopic(discovery).toString('hex')
    const urls = new Set<string>()
    for (const r of this.#conns.values()) if (r.url && r.url !== this.#opts.url && r.topics.has(topic)) urls.add(r.url)
    return [...urls].sort()
  }

  /** Announces this relay for room `discovery` and looks for the others. */
  join(discovery: string): void {
    if (this.#destroyed) return
    const topic = relayTopic(discovery)
    const hex = topic.toString('hex')
    if (this.#joined.has(hex)) return
    this.#joined.set(hex, discovery)
    const session = this.#swarm.join(topic, { server: true, client: true })
    // Two relays joining together both look up before either announced: look again soon.
    session
      .flushed()
      .then(() => this.#destroyed || !this.#joined.has(hex) || session.refresh())
      .catch((err: unknown) => this.#opts.onRejected?.(`join`, err))
    this.#broadcast()
    this.#report()
  }

  leave(discovery: string): void {
    const topic = relayTopic(discovery)
    const hex = topic.toString('hex')
    if (!this.#joined.delete(hex) || this.#destroyed) return
    this.#reported.delete(discovery)
    this.#swarm.leave(topic).catch((err: unknown) => this.#opts.onRejected?.(`leave`, err))
    this.#broadcast()
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const conn of this.#conns.keys()) conn.destroy()
    this.#conns.clear()
    await this.#swarm.destroy()
  }

  #hello(): string {
    return JSON.stringify({ v: 1, url: this.#opts.url, topics: [...this.#joined.keys()] }) + '\n'
  }

  #broadcast(): void {
    const line = this.#hello()
    for (const conn of this.#conns.keys()) conn.write(line)
  }

  #onConnection(conn: DiscoveryConn): void {
    if (this.#destroyed) return conn.destroy()
    // A client looking for relays (relay-finder.ts) connects too and never says anything.
    const remote: Remote = { url: null, topics: new Set() }
    this.#conns.set(conn, remote)
    readRelayHellos(
      conn,
      (hello) => {
        remote.url = hello.url
        remote.topics = hello.topics
        this.#report()
      },
      (reason) => this.#opts.onRejected?.(reason),
    )
    conn.on('error', () => this.#opts.onRejected?.('connection-error'))
    conn.on('close', () => {
      if (this.#conns.delete(conn)) this.#report()
    })
    conn.write(this.#hello())
  }

  #report(): void {
    if (this.#destroyed) return
    for (const discovery of this.#joined.values()) {
      const urls = this.relaysFor(discovery)
      const key = urls.join(' ')
      if (this.#reported.get(discovery) === key) continue
      this.#reported.set(discovery, key)
      this.#opts.onRelays(discovery, urls)
    }
  }
}
