/**
 * "Reconnecting…" after a network switch (network-signals.ts): shown from the moment a switch
 * starts until it has restarted the links (signalling is back by then, or was waited for long
 * enough) and, while the relay carries the room, until the relay path is ready again (it is
 * made anew: socket, ICE, DTLS, sync). Mesh links restart ICE in place with their data
 * channels open, and a healthy link may report no state change at all, so nothing later is
 * waited for on the mesh. At most `maxMs`: past it the usual modes (offline, connecting) say
 * what is wrong.
 *
 * Invariants: `close()` is idempotent, clears the timer and the relay listener; nothing is
 * reported after it.
 */
import { realTimers, type Timers } from '../base/timers.ts'
import type { RelayPath } from '../participant/relay-path.ts'
import type { Via } from '../participant/room-client.ts'

/** The longest "Reconnecting…" of one switch. */
export const RECONNECTING_MAX_MS = 20_000

export interface ReconnectingOptions {
  /** The path audio plays from now (RoomClient.via). */
  via: () => Via
  /** The relay path, whose readiness ends a switch while the relay carries the room. */
  relay: Pick<RelayPath, 'state' | 'on'> | null
  /** `active` changed. */
  onchange: () => void
  timers?: Timers
  maxMs?: number
}

export class Reconnecting {
  readonly #o: ReconnectingOptions
  readonly #timers: Timers
  #phase: 'idle' | 'switching' | 'restarted' = 'idle'
  #timer: unknown = null
  #off: (() => void) | null
  #closed = false

  constructor(opts: ReconnectingOptions) {
    this.#o = opts
    this.#timers = opts.timers ?? realTimers
    this.#off = opts.relay?.on('state', () => this.#check()) ?? null
  }

  get active(): boolean {
    return this.#phase !== 'idle'
  }

  /** A switch started: signalling is being replaced, the links restart next. */
  switched(): void {
    if (this.#closed) return
    const was = this.active
    this.#phase = 'switching'
    this.#timers.clearTimeout(this.#timer)
    this.#timer = this.#timers.setTimeout(() => this.#end(), this.#o.maxMs ?? RECONNECTING_MAX_MS)
    if (!was) this.#o.onchange()
  }

  /** The switch restarted every link. */
  restarted(): void {
    if (this.#phase !== 'switching') return
    this.#phase = 'restarted'
    this.#check()
  }

  close(): void {
    this.#closed = true
    this.#phase = 'idle'
    this.#off?.()
    this.#off = null
    this.#timers.clearTimeout(this.#timer)
    this.#timer = null
  }

  #check(): void {
    if (this.#phase !== 'restarted') return
    if (this.#o.via() === 'relay' && this.#o.relay?.state !== 'ready') return
    this.#end()
  }

  #end(): void {
    if (this.#phase === 'idle') return
    this.#phase = 'idle'
    this.#timers.clearTimeout(this.#timer)
    this.#timer = null
    this.#o.onchange()
  }
}
