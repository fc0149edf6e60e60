/**
 * A SignalBus that can move to another topic and key without dropping the
 * mesh: when the room enters a new epoch (docs/room-rules.md §8) its members
 * meet on the new epoch's topic under the new key, while the peer
 * connections they already have stay up (the mesh counts a connected peer as
 * present whatever the bus says).
 *
 * `switchTo(next)` starts forwarding `next`, reports the old bus's peers as
 * left (each once, keeping the bus contract) and destroys the old bus.
 */
import { TypedEmitter } from '../base/emitter.ts'
import type { BusMessage, SignalBus, SignalBusEvents } from './bus.ts'

export class SwitchBus extends TypedEmitter<SignalBusEvents> implements SignalBus {
  #inner: SignalBus
  #offs: Array<() => void> = []
  #destroyed = false

  constructor(first: SignalBus) {
    super()
    this.#inner = first
    this.#attach(first)
  }

  get selfId(): string {
    return this.#inner.selfId
  }

  get peers(): ReadonlySet<string> {
    return this.#inner.peers
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

  /** Moves to `next`; the old bus is destroyed. */
  async switchTo(next: SignalBus): Promise<void> {
    if (this.#destroyed) {
      await next.destroy()
      return
    }
    const old = this.#inner
    for (const off of this.#offs) off()
    this.#inner = next
    this.#attach(next)
    for (const id of old.peers) if (!next.peers.has(id)) this.emit('peer-left', id)
    for (const id of next.peers) if (!old.peers.has(id)) this.emit('peer-joined', id)
    await old.destroy()
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const off of this.#offs) off()
    const peers = [...this.#inner.peers]
    await this.#inner.destroy()
    for (const id of peers) this.emit('peer-left', id)
    this.removeAllListeners()
  }

  #attach(bus: SignalBus): void {
    const joined = (id: string): void => this.emit('peer-joined', id)
    const left = (id: string): void => this.emit('peer-left', id)
    const message = (from: string, msg: BusMessage): void => this.emit('message', from, msg)
    this.#offs = [bus.on('peer-joined', joined), bus.on('peer-left', left), bus.on('message', message)]
  }
}
