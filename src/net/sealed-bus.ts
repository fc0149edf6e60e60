/**
 * A SignalBus whose messages are sealed with the room key (room-crypto.ts).
 * For transports that do not seal on their own (hyperswarm: its connections are
 * encrypted, but anyone who knows the discovery key can open one). Knowing the
 * room secret is what makes a peer a member; messages that do not open are
 * dropped and counted (`stats.unopenable`), never a verdict on our own key:
 * the discovery key derives from the room id alone, so strangers can send them.
 *
 * Sealing and opening are async, so each direction keeps its own order with a
 * per-peer promise chain.
 */
import { TypedEmitter } from '../base/emitter.ts'
import type { BusMessage, SignalBus, SignalBusEvents } from './bus.ts'
import { openPayload, sealPayload } from './room-crypto.ts'

export class SealedBus extends TypedEmitter<SignalBusEvents> implements SignalBus {
  readonly stats = { sealed: 0, opened: 0, unopenable: 0 }
  readonly #inner: SignalBus
  readonly #key: CryptoKey
  readonly #chainsOut = new Map<string, Promise<void>>()
  readonly #chainsIn = new Map<string, Promise<void>>()

  constructor(inner: SignalBus, key: CryptoKey) {
    super()
    this.#inner = inner
    this.#key = key
    inner.on('peer-joined', this.#onJoined)
    inner.on('peer-left', this.#onLeft)
    inner.on('message', this.#onMessage)
  }

  get selfId(): string {
    return this.#inner.selfId
  }

  get peers(): ReadonlySet<string> {
    return this.#inner.peers
  }

  publish(msg: BusMessage): void {
    for (const id of this.#inner.peers) this.send(id, msg)
  }

  send(peerId: string, msg: BusMessage): boolean {
    if (!this.#inner.peers.has(peerId)) return false
    const body = typeof msg === 'string' ? { s: msg } : { b: Array.from(msg) }
    this.#chain(this.#chainsOut, peerId, async () => {
      const sealed = await sealPayload(this.#key, body)
      this.stats.sealed++
      this.#inner.send(peerId, sealed)
    })
    return true
  }

  async destroy(): Promise<void> {
    this.#inner.off('peer-joined', this.#onJoined)
    this.#inner.off('peer-left', this.#onLeft)
    this.#inner.off('message', this.#onMessage)
    await this.#inner.destroy()
    this.removeAllListeners()
  }

  #chain(chains: Map<string, Promise<void>>, id: string, task: () => Promise<void>): void {
    const next = (chains.get(id) ?? Promise.resolve()).then(task, task)
    chains.set(id, next)
  }

  readonly #onJoined = (id: string): void => this.emit('peer-joined', id)
  readonly #onLeft = (id: string): void => {
    this.#chainsIn.delete(id)
    this.#chainsOut.delete(id)
    this.emit('peer-left', id)
  }

  readonly #onMessage = (from: string, msg: BusMessage): void => {
    this.#chain(this.#chainsIn, from, async () => {
      const opened = typeof msg === 'string' ? await openPayload(this.#key, msg) : null
      const body = parseBody(opened)
      if (body === null) {
        this.stats.unopenable++
        return
      }
      this.stats.opened++
      if (this.#inner.peers.has(from)) this.emit('message', from, body)
    })
  }
}

function parseBody(x: unknown): BusMessage | null {
  if (typeof x !== 'object' || x === null) return null
  const o = x as { s?: unknown; b?: unknown }
  if (typeof o.s === 'string') return o.s
  if (Array.isArray(o.b) && o.b.every((n) => Number.isInteger(n) && n >= 0 && n < 256)) return Uint8Array.from(o.b as number[])
  return null
}
