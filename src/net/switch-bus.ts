/**
 * A SignalBus that can move to another topic and key without dropping the
 * mesh: when the room enters a new epoch (docs/room-rules.md §8) its members
 * meet on the new epoch's topic under the new key, while the peer
 * connections they already have stay up (the mesh counts a connected peer as
 * present whatever the bus says).
 *
 * `switchTo(next)` starts forwarding `next` and destroys the old bus, unless
 * `keep` takes it over (a member answering old links on the old epoch's topic,
 * src/participant/epoch-responder.ts): then it is released by the function
 * `keep` returns, at the latest when this bus is destroyed.
 *
 * The old bus's peers are moving too: members learn the new epoch within moments of each other
 * (over the mesh or the relay's sync) and switch alike. So a peer of the old topic not yet on
 * the new one stays joined (in `peers`, no event) for `CARRY_MS`, and is reported left only if it
 * has not appeared on the new topic by then. Reporting them left at once made a room on a relay
 * (no mesh connections to count people by) look empty for a moment at every rotation: the plan
 * fell back to the mesh, stopped the relay and came back to it, a second or more of silence.
 * `current.peers` is what the new topic alone holds (who has moved).
 *
 * `intercept(fn)` takes messages off the bus before its listeners see them
 * (`fn` returns true for those it consumed): the epoch handoff rides the same
 * signalling as the mesh, which must not count it as a malformed message.
 */
import { TypedEmitter } from '../base/emitter.ts'
import { realTimers, type Timers } from '../base/timers.ts'
import type { BusMessage, SignalBus, SignalBusEvents } from './bus.ts'

/** How long a peer of the old topic counts as joined while it moves to the new one (see above). */
export const CARRY_MS = 10_000

export class SwitchBus extends TypedEmitter<SignalBusEvents> implements SignalBus {
  #inner: SignalBus
  readonly #timers: Timers
  /** Peers of an old topic not yet seen on the current one: id -> the timer that reports them left. */
  readonly #carried = new Map<string, unknown>()
  #offs: Array<() => void> = []
  #destroyed = false
  readonly #interceptors = new Set<(from: string, msg: BusMessage) => boolean>()
  /** Releases of old buses handed to `keep`. */
  readonly #kept = new Set<() => unknown>()

  constructor(first: SignalBus, opts: { timers?: Timers } = {}) {
    super()
    this.#timers = opts.timers ?? realTimers
    this.#inner = first
    this.#attach(first)
  }

  get selfId(): string {
    return this.#inner.selfId
  }

  get peers(): ReadonlySet<string> {
    if (this.#carried.size === 0) return this.#inner.peers
    return new Set([...this.#inner.peers, ...this.#carried.keys()])
  }

  /** The bus messages go through now. */
  get current(): SignalBus {
    return this.#inner
  }

  publish(msg: BusMessage): void {
    this.#inner.publish(msg)
  }

  send(peerId: string, msg: BusMessage): boolean {
    return this.#inner.send(peerId, msg)
  }

  /**
   * Moves to `next`. The old bus is destroyed, or handed to `keep`, which returns the function
   * that releases it (null: not kept after all).
   */
  async switchTo(next: SignalBus, keep?: (old: SignalBus) => (() => unknown) | null): Promise<void> {
    if (this.#destroyed) {
      await next.destroy()
      return
    }
    const old = this.#inner
    for (const off of this.#offs) off()
    this.#inner = next
    this.#attach(next)
    for (const id of old.peers) if (!next.peers.has(id)) this.#carry(id)
    for (const id of next.peers) if (!old.peers.has(id) && !this.#uncarry(id)) this.emit('peer-joined', id)
    const release = keep?.(old) ?? null
    if (release) this.#kept.add(release)
    else await old.destroy()
  }

  /** Messages `fn` returns true for are taken off the bus (its listeners never see them). Returns the function that stops. */
  intercept(fn: (from: string, msg: BusMessage) => boolean): () => void {
    this.#interceptors.add(fn)
    return () => this.#interceptors.delete(fn)
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const release of this.#kept) release()
    this.#kept.clear()
    this.#interceptors.clear()
    for (const off of this.#offs) off()
    const peers = [...this.#inner.peers, ...[...this.#carried.keys()].filter((id) => !this.#inner.peers.has(id))]
    for (const t of this.#carried.values()) this.#timers.clearTimeout(t)
    this.#carried.clear()
    await this.#inner.destroy()
    for (const id of peers) this.emit('peer-left', id)
    this.removeAllListeners()
  }

  #attach(bus: SignalBus): void {
    const joined = (id: string): void => {
      if (!this.#uncarry(id)) this.emit('peer-joined', id)
    }
    const left = (id: string): void => this.emit('peer-left', id)
    const message = (from: string, msg: BusMessage): void => {
      for (const fn of this.#interceptors) if (fn(from, msg)) return
      this.emit('message', from, msg)
    }
    this.#offs = [bus.on('peer-joined', joined), bus.on('peer-left', left), bus.on('message', message)]
  }

  #carry(id: string): void {
    if (this.#carried.has(id)) return
    const timer = this.#timers.setTimeout(() => {
      if (this.#carried.delete(id)) this.emit('peer-left', id)
    }, CARRY_MS)
    this.#carried.set(id, timer)
  }

  /** Whether `id` was carried (it has arrived: already joined for our listeners). */
  #uncarry(id: string): boolean {
    if (!this.#carried.has(id)) return false
    this.#timers.clearTimeout(this.#carried.get(id))
    this.#carried.delete(id)
    return true
  }
}
