/**
 * NetworkSwitch: what a participant does when its network changes under it (Wi-Fi to
 * cellular, a laptop waking up with a new address), with nothing asked of the user.
 *
 * Signs come from the shell: Node polls its interface addresses (src/node/network-watch.ts),
 * a browser has `online` and `navigator.connection` 'change' (src/app/network-signals.ts); and
 * from the links themselves: ICE 'disconnected' on every mesh link at once (`followLinks`),
 * which no single peer's hiccup looks like. Signs arriving together are one switch
 * (`settleMs`). A switch reconnects signalling first and waits for it to be open (at most
 * SIGNAL_WAIT_MS), since the ICE restart offers travel over it, then restarts every link
 * (`RoomClient.restartLinks`: ICE on the mesh, the relay path made anew, whose sync then
 * resyncs the room state). A sign during a switch runs one more switch after it: the network
 * may have changed again (an address gone first, the new one a moment later).
 *
 * Links going down after a switch are its own doing (the old pairs die while the new ones are
 * checked): 'links' signs are ignored for LINKS_COOLDOWN_MS after a switch.
 *
 * Invariants: `destroy()` is idempotent, clears the timer and every listener `followLinks`
 * added; nothing runs after it.
 */
import { realTimers, type Timers } from '../base/timers.ts'
import type { SignalClient } from '../net/signal-client.ts'

/** Every mesh link 'disconnected' within this window of each other is a switch. */
export const LINKS_WINDOW_MS = 2000
/** 'links' signs are not believed this long after a switch (see the module comment). */
export const LINKS_COOLDOWN_MS = 10_000
/** A switch waits this long at most for signalling before restarting the links anyway. */
export const SIGNAL_WAIT_MS = 5000

export interface NetworkSwitchOptions {
  /** Restarts every link (RoomClient.restartLinks). */
  restartLinks: () => void
  /** Replaces the signalling connection; resolves once it is open again. Absent: nothing to reconnect (hyperswarm). */
  reconnectSignalling?: () => Promise<void>
  /** Told when a switch starts, with the sign that set it off. */
  onSwitch?: (reason: string, detail: Record<string, unknown>) => void
  /** Signs within this of each other are one switch. Default 250 ms. */
  settleMs?: number
  timers?: Timers
  now?: () => number
}

/** What `followLinks` reads of a mesh. */
export interface LinkEvents {
  on(event: 'peer-state', fn: (id: string, state: RTCPeerConnectionState) => void): () => void
  on(event: 'peer-disconnected', fn: (id: string) => void): () => void
}

export class NetworkSwitch {
  /** Switches carried out. */
  switches = 0
  readonly #o: NetworkSwitchOptions
  readonly #timers: Timers
  readonly #now: () => number
  #timer: unknown = null
  #pending: { reason: string; detail: Record<string, unknown> } | null = null
  #running = false
  #lastSwitch = -Infinity
  /** Mesh links: since when each has been down (null: up). */
  readonly #links = new Map<string, number | null>()
  readonly #offs: Array<() => void> = []
  #destroyed = false

  constructor(opts: NetworkSwitchOptions) {
    this.#o = opts
    this.#timers = opts.timers ?? realTimers
    this.#now = opts.now ?? Date.now
  }

  /** A sign that the network changed; the switch runs `settleMs` later (or after the one running). */
  notice(reason: string, detail: Record<string, unknown> = {}): void {
    if (this.#destroyed) return
    this.#pending ??= { reason, detail }
    if (this.#running || this.#timer !== null) return
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null
      void this.#run()
    }, this.#o.settleMs ?? 250)
  }

  /** Watches a mesh's links for ICE 'disconnected' on all of them at once (two links at least). */
  followLinks(mesh: LinkEvents): void {
    this.#offs.push(
      mesh.on('peer-state', (id, state) => this.#linkState(id, state)),
      mesh.on('peer-disconnected', (id) => this.#links.delete(id)),
    )
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#timers.clearTimeout(this.#timer)
    this.#timer = null
    for (const off of this.#offs.splice(0)) off()
  }

  #linkState(id: string, state: RTCPeerConnectionState): void {
    if (state === 'closed') return void this.#links.delete(id)
    const down = state === 'disconnected' || state === 'failed'
    if (!down) return void this.#links.set(id, null)
    if (this.#links.get(id) == null) this.#links.set(id, this.#now())
    const since = [...this.#links.values()]
    if (since.length < 2 || since.some((t) => t === null)) return
    const times = since as number[]
    const now = this.#now()
    if (Math.max(...times) - Math.min(...times) > LINKS_WINDOW_MS || now - this.#lastSwitch < LINKS_COOLDOWN_MS) return
    this.notice('links', { links: since.length })
  }

  async #run(): Promise<void> {
    const sign = this.#take()
    if (!sign || this.#destroyed) return
    this.#running = true
    this.switches++
    this.#lastSwitch = this.#now()
    this.#o.onSwitch?.(sign.reason, sign.detail)
    try {
      await this.#signalling()
      if (!this.#destroyed) this.#o.restartLinks()
    } finally {
      this.#running = false
    }
    // Signs that came during the switch: the network may have changed again since.
    const again = this.#take()
    if (again) this.notice(again.reason, again.detail)
  }

  #take(): { reason: string; detail: Record<string, unknown> } | null {
    const sign = this.#pending
    this.#pending = null
    return sign
  }

  /** Reconnects signalling and waits for it, SIGNAL_WAIT_MS at most (a switch must not hang on it). */
  async #signalling(): Promise<void> {
    const reconnect = this.#o.reconnectSignalling
    if (!reconnect) return
    let timer: unknown = null
    const late = new Promise<void>((done) => (timer = this.#timers.setTimeout(done, SIGNAL_WAIT_MS)))
    try {
      // A signalling failure is the transport's to report; the links restart all the same.
      await Promise.race([Promise.resolve().then(reconnect).catch((err: unknown) => void err), late])
    } finally {
      this.#timers.clearTimeout(timer)
    }
  }
}

/**
 * `reconnectSignalling` for a SignalClient: a new socket now, resolved once it is open (a
 * destroyed client never opens: resolved at once).
 */
export function signallingReconnect(client: Pick<SignalClient, 'once' | 'reconnect' | 'isDestroyed'>): () => Promise<void> {
  return () =>
    new Promise<void>((done) => {
      if (client.isDestroyed) return done()
      client.once('open', () => done())
      client.reconnect()
    })
}
