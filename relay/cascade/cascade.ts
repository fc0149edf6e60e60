/**
 * Cascade: composes relay discovery (discovery.ts) and cascade links
 * (link.ts). While a room is loaded on this relay, it is announced on the
 * room's relay topic; for every other relay found there, this relay keeps one
 * CascadeLink (it subscribes to that relay's local publishers). The other
 * relay does the same towards us, so each speaker's packets cross to each
 * other relay once. A link that fails is dialled again after `retryMs` while
 * both sides still serve the room, and at once when a member gives this relay
 * a vouch of a newer epoch (the other relay refuses a cascade without one).
 * Links given up on because the other relay showed no vouch are counted in
 * `stoop_relay_cascade_rejected_total{reason="not-vouched"}`.
 */
import type { RTCPeerConnectionConfig } from 'werift'
import type { Identity } from '../../src/identity/index.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { RelayRoom } from '../rooms/room.ts'
import type { BootstrapNode } from '../../src/node/dht.ts'
import { RelayDiscovery } from './discovery.ts'
import { CascadeError, CascadeLink } from './link.ts'

export interface CascadeOptions {
  bootstrap: BootstrapNode[]
  host?: string
  /** This relay's `/relay` WebSocket URL as other relays reach it. */
  url: string
  identity: Identity
  log: Logger
  metrics: Metrics
  peerConfig?: Partial<RTCPeerConnectionConfig>
  sdpFilter?: (sdp: string) => string
  retryMs?: number
}

export class Cascade {
  readonly #opts: CascadeOptions
  readonly #discovery: RelayDiscovery
  readonly #rooms = new Map<string, RelayRoom>()
  readonly #links = new Map<string, Map<string, CascadeLink>>()
  readonly #known = new Map<string, string[]>()
  readonly #timers = new Set<NodeJS.Timeout>()
  /** Per loaded room: stop listening for its vouches. */
  readonly #offVouched = new Map<string, () => void>()
  #closed = false

  constructor(opts: CascadeOptions) {
    this.#opts = opts
    const m = opts.metrics
    for (const r of ['bad-line', 'too-large', 'connection-error', 'join', 'leave', 'not-vouched']) m.counter('stoop_relay_cascade_rejected_total', { reason: r })
    this.#discovery = new RelayDiscovery({
      bootstrap: opts.bootstrap,
      ...(opts.host ? { host: opts.host } : {}),
      url: opts.url,
      onRelays: (discovery, urls) => this.#onRelays(discovery, urls),
      onRejected: (reason, err) => {
        m.counter('stoop_relay_cascade_rejected_total', { reason }).inc()
        if (err) opts.log.warn('relay discovery', { reason, err: String(err) })
      },
    })
  }

  /** Cascade links open now (tests, metrics). */
  links(discovery: string): CascadeLink[] {
    return [...(this.#links.get(discovery)?.values() ?? [])]
  }

  roomOpened(room: RelayRoom): void {
    if (this.#closed) return
    this.#rooms.set(room.discovery, room)
    this.#offVouched.get(room.discovery)?.()
    this.#offVouched.set(room.discovery, room.epochs.vouches.on('vouched', () => this.#redial(room.discovery)))
    this.#discovery.join(room.discovery)
  }

  roomClosed(room: RelayRoom): void {
    if (this.#rooms.get(room.discovery) !== room) return
    this.#rooms.delete(room.discovery)
    this.#offVouched.get(room.discovery)?.()
    this.#offVouched.delete(room.discovery)
    this.#known.delete(room.discovery)
    this.#discovery.leave(room.discovery)
    for (const link of this.links(room.discovery)) link.destroy()
    this.#links.delete(room.discovery)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    for (const off of this.#offVouched.values()) off()
    this.#offVouched.clear()
    for (const links of this.#links.values()) for (const link of links.values()) link.destroy()
    this.#links.clear()
    await this.#discovery.destroy()
  }

  #onRelays(discovery: string, urls: string[]): void {
    this.#known.set(discovery, urls)
    this.#opts.log.info('relays serving a room', { room: discovery.slice(0, 12), relays: urls })
    for (const url of urls) this.#dial(discovery, url)
  }

  /** Every known relay of the room without a link is dialled now (this relay was just vouched for). */
  #redial(discovery: string): void {
    for (const url of this.#known.get(discovery) ?? []) this.#dial(discovery, url)
  }

  #dial(discovery: string, url: string): void {
    const room = this.#rooms.get(discovery)
    if (this.#closed || !room || url === this.#opts.url) return
    let links = this.#links.get(discovery)
    if (!links) this.#links.set(discovery, (links = new Map()))
    if (links.has(url)) return
    const m = this.#opts.metrics
    const link = new CascadeLink({
      url,
      room,
      identity: this.#opts.identity,
      ...(this.#opts.peerConfig ? { peerConfig: this.#opts.peerConfig } : {}),
      ...(this.#opts.sdpFilter ? { sdpFilter: this.#opts.sdpFilter } : {}),
      onClose: (l, err) => {
        if (this.#links.get(discovery)?.get(url) === l) this.#links.get(discovery)!.delete(url)
        m.counter('stoop_relay_cascade_closed_total').inc()
        if (err instanceof CascadeError) m.counter('stoop_relay_cascade_rejected_total', { reason: err.code }).inc()
        if (this.#closed || this.#rooms.get(discovery) !== room) return
        this.#opts.log.info('cascade link closed', { room: discovery.slice(0, 12), url, err: err ? String(err.message) : null })
        const t = setTimeout(() => {
          this.#timers.delete(t)
          if (this.#known.get(discovery)?.includes(url)) this.#dial(discovery, url)
        }, this.#opts.retryMs ?? 2000)
        t.unref()
        this.#timers.add(t)
      },
    })
    links.set(url, link)
    m.counter('stoop_relay_cascade_dials_total').inc()
    link.start().catch((err: unknown) => link.destroy(err instanceof Error ? err : new Error(String(err))))
  }
}
