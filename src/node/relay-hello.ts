/**
 * The relay hello: what a relay says of itself on a hyperswarm connection on
 * a room's relay topic, read by other relays (relay/cascade/discovery.ts) and
 * by Node clients looking for relays (relay-finder.ts).
 *
 * The topic is `relayTopic(discovery) = sha256("stoop/relays" || discovery key)`
 * (a one-way hash of the discovery key, itself a hash of the room id). A hello is
 * one line of JSON, sent on connecting and again whenever its topics change:
 *
 *   {"v":1,"url":"ws://host:port/relay","topics":["<64 hex>", ...]}
 *
 * (newline-delimited, at most 64 KiB a line, at most 1000 topics). A malformed
 * or over-long line closes the connection.
 */
import { createHash } from 'node:crypto'

export const RELAY_TOPIC_PREFIX = 'stoop/relays'
export const MAX_LINE_BYTES = 64 * 1024
export const MAX_TOPICS = 1000
const HEX64 = /^[0-9a-f]{64}$/

/** The hyperswarm topic of the relays serving the room with `discovery` (hex). */
export function relayTopic(discovery: string): Buffer {
  return createHash('sha256').update(RELAY_TOPIC_PREFIX).update(Buffer.from(discovery, 'hex')).digest()
}

/** What a relay says of itself on a discovery connection. */
export interface RelayHello {
  url: string
  /** Relay topics (hex) it serves. */
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
