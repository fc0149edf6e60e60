/**
 * Relay discovery on hyperswarm: relays serving the same room find each other.
 *
 * While a room is loaded, the relay joins the topic
 * `relayTopic(discovery) = sha256("stoop/relays" || discovery key)` (a
 * one-way hash of the discovery key, which is itself a hash of the room id),
 * as server and client. On every swarm connection both sides send, and send
 * again whenever their set of topics changes, one line of JSON:
 *
 *   {"v":1,"url":"ws://host:port/relay","topics":["<64 hex>", ...]}
 *
 * (newline-delimited, at most 64 KiB a line, at most 1000 topics). A relay
 * learns "the relay at `url` serves the rooms behind `topics`" and reports,
 * per topic it has joined itself, the set of other relays' URLs. Malformed
 * lines close the connection and are counted. Connections are Noise-encrypted
 * by hyperswarm; the URL is only a hint: whoever dials it authenticates with
 * its relay key and the dialled relay validates everything it forwards
 * against its own copy of the room log.
 *
 * Never falls back to the public DHT: `bootstrap` is required.
 */
import { createHash } from 'node:crypto'
import Hyperswarm from 'hyperswarm'
import HyperDHT from 'hyperdht'
import type { BootstrapNode } from '../swarm.ts'

export const RELAY_TOPIC_PREFIX = 'stoop/relays'
export const MAX_LINE_BYTES = 64 * 1024
export const MAX_TOPICS = 1000
const HEX64 = /^[0-9a-f]{64}$/

/** The hyperswarm topic of the relays serving the room with `discovery` (hex). */
export function relayTopic(discovery: string): Buffer {
  return createHash('sha256').update(RELAY_TOPIC_PREFIX).update(Buffer.from(discovery, 'hex')).digest()
}

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

/** What a relay says of itself on a discovery connection. */
export interface RelayHello {
  url: string
  /** Relay topics (hex) it serves. */
  topics: Set<string>
}

interface Remote {
  url: string | null
  topics: Set<string>
}

/** A hyperswarm connection, as far as discovery uses it. */
export interface DiscoveryConn {
  write(data: string): unknown
  on(ev: string, fn: (arg: never) => void): unknown
  destroy(err?: Error): void
}

/** Parses one hello line; null when it is not one (the caller closes the connection). */
export function parseRelayHello(line: string): RelayHello | null {
  if (line.length > MAX_LINE_BYTES) return null
  let msg: unknown
  try {
    msg = JSON.parse(line)
  } catch {
    return null
  }
  if (typeof msg !== 'object' || msg === null) return null
  const m = msg as { v?: unknown; url?: unknown; topics?: unknown }
  if (m.v !== 1 || typeof m.url !== 'string' || !/^wss?:\/\/[^\s]{1,500}$/.test(m.url) || !Array.isArray(m.topics) || m.topics.length > MAX_TOPICS) return null
  if (!m.topics.every((t) => typeof t === 'string' && HEX64.test(t))) return null
  return { url: m.url, topics: new Set(m.topics as string[]) }
}

/**
 * Feeds every hello line `conn` sends to `onHello`. A malformed line or an over-long one
 * closes the connection and is reported (`bad-line`, `too-large`).
 */
export function readRelayHellos(conn: DiscoveryConn, onHello: (hello: RelayHello) => void, onRejected?: (reason: string) => void): void {
  let buffered = ''
  conn.on('data', (chunk: never) => {
    buffered += (chunk as Buffer).toString('utf8')
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const hello = parseRelayHello(buffered.slice(0, nl))
      buffered = buffered.slice(nl + 1)
      if (!hello) {
        onRejected?.('bad-line')
        conn.destroy()
        return
      }
      onHello(hello)
    }
    if (buffered.length > MAX_LINE_BYTES) {
      onRejected?.('too-large')
      conn.destroy()
    }
  })
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
    if (!Array.isArray(opts.bootstrap) || opts.bootstrap.length === 0) throw Object.assign(new Error('relay discovery needs bootstrap nodes'), { code: 'ERR_NO_BOOTSTRAP' })
    this.#opts = opts
    const dht = new HyperDHT({ bootstrap: opts.bootstrap, ...(opts.host ? { host: opts.host } : {}) })
    this.#swarm = new Hyperswarm({ dht })
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
