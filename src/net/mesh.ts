/**
 * Mesh: one Peer (one RTCPeerConnection) per remote participant this peer is
 * told to connect to, found and signalled through a SignalBus. Room state syncs
 * over each peer's data channel; this peer's audio track goes to the peers the
 * plan names. What to connect to is decided elsewhere (topology.ts): the mesh
 * only carries a plan out.
 *
 * Authentication: every control message (hello, description, candidate) is signed with the
 * sender's identity key over the sender, the addressee and both nonces (mesh-wire.ts), and
 * checked against the key its participant id names before anything acts on it; unsigned or
 * badly signed ones are dropped and counted (`badSignature`). The bus itself does not say who
 * sent a message, so without this any member could speak for another, e.g. announce a "newer
 * connection" in its name and cut its link. The SDP carries the DTLS fingerprint, so a verified
 * description binds the encrypted connection to that key: a participant id on a connection is
 * proven, not claimed, and the room model's "is this a speaker" check can be applied to its audio.
 *
 * Connection identity: each Peer this mesh creates gets a nonce, increasing within a process
 * (and across restarts, being clock-based). Every message names its sender's nonce and, once
 * known, the receiver's. Two RTCPeerConnections only fit together if they were made for each
 * other, so a message from a newer remote connection (the remote process restarted, or it
 * replaced a failed connection) replaces ours with a fresh one, and a message addressed to one of
 * our older connections, or from an older remote one, is stale and dropped. Without this, a
 * restarted peer's offer landed on the old connection (wrong DTLS fingerprint) and the pair
 * could stay silent until every ICE restart had failed.
 *
 * Invariants: signals to and from each peer keep their order (signing and
 * verifying are async, so each direction runs on a per-peer promise chain; incoming messages
 * are verified before their nonces are looked at, so only the signer moves its connection);
 * messages from peers outside the plan are dropped and counted; a peer whose
 * connection is lost is recreated with backoff while the plan still names it;
 * `destroy()` is idempotent and leaves no peer, timer or listener behind.
 */
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import { keyId, type Identity } from '../identity/index.ts'
import type { BusMessage, SignalBus } from './bus.ts'
import { Peer, type PeerOptions, type PeerSignal, type PeerStats, type PeerWrtc } from './peer.ts'
import { PeerLink } from './peer-link.ts'
import { TypedEmitter } from '../base/emitter.ts'
import { realTimers, type Timers } from '../base/timers.ts'
import { backoff } from '../base/retry.ts'
import { attachSync, createSyncStats, type SyncAttachment, type SyncStats } from './sync.ts'
import { encodeWire, parseWire, verifyWire, type ReceivedWire, type WireBody } from './mesh-wire.ts'

export interface MeshPlan {
  connect: readonly string[]
  sendAudioTo: readonly string[]
}

export interface MeshOptions {
  bus: SignalBus
  wrtc: PeerWrtc
  identity: Identity
  doc: Y.Doc
  awareness: Awareness | null
  /** Gate for remote Yjs updates (the room guard). */
  acceptUpdate: (update: Uint8Array) => boolean | Promise<boolean>
  peer?: Omit<PeerOptions, 'wrtc' | 'polite'>
  /** Delay before recreating a lost connection, by attempt (1-based). */
  reconnectBackoff?: (attempt: number) => number
  timers?: Timers
}

export interface MeshEvents {
  /** Bus peers or connections changed: re-plan. */
  present: () => void
  'peer-connected': (id: string) => void
  'peer-disconnected': (id: string, reason: string | null) => void
  /** A connection's RTCPeerConnection state changed (a network switch shows as all of them 'disconnected' at once). */
  'peer-state': (id: string, state: RTCPeerConnectionState) => void
  /** The room doc finished its first sync with this peer. */
  'peer-synced': (id: string) => void
  track: (id: string, track: MediaStreamTrack, stream: MediaStream | null) => void
  'track-ended': (id: string, track: MediaStreamTrack) => void
}

export interface MeshCounters {
  malformed: number
  badSignature: number
  notPlanned: number
  reconnects: number
  /** Messages for a connection of ours, or from one of the remote's, that no longer exists. */
  stale: number
  /** Connections started over because the remote made a newer one. */
  replaced: number
}

interface PeerSlot {
  peer: Peer
  /** This connection's nonce, and the remote connection's once known. */
  nonce: number
  remote: number | null
  sync: SyncAttachment | null
  sending: boolean
  out: Promise<void>
}

let lastNonce = 0
/** Increasing within the process, and clock-based so a restarted process starts above its past self. */
function nextNonce(): number {
  lastNonce = Math.max(Date.now(), lastNonce + 1)
  return lastNonce
}

const defaultBackoff = backoff({ initialMs: 500, maxMs: 15_000, factor: 2, jitter: 0 })

export class Mesh extends TypedEmitter<MeshEvents> {
  readonly selfId: string
  readonly counters: MeshCounters = { malformed: 0, badSignature: 0, notPlanned: 0, reconnects: 0, stale: 0, replaced: 0 }
  /** Yjs sync counters aggregated over every peer. */
  readonly syncStats: SyncStats = createSyncStats()
  readonly #o: MeshOptions
  readonly #slots = new Map<string, PeerSlot>()
  readonly #attempts = new Map<string, number>()
  readonly #retry = new Map<string, unknown>()
  readonly #timers: Timers
  /** Per sender: incoming messages are verified one at a time, in arrival order. */
  readonly #inbox = new Map<string, Promise<void>>()
  #plan: MeshPlan = { connect: [], sendAudioTo: [] }
  #local: { track: MediaStreamTrack; stream: MediaStream } | null = null
  #destroyed = false
  readonly #offs: Array<() => void> = []

  constructor(opts: MeshOptions) {
    super()
    this.#o = opts
    this.#timers = opts.timers ?? realTimers
    this.selfId = keyId(opts.identity.publicKey)
    const onJoin = (): void => this.emit('present')
    const onLeft = (): void => this.emit('present')
    const onMessage = (from: string, msg: BusMessage): void => this.#onBusMessage(from, msg)
    opts.bus.on('peer-joined', onJoin)
    opts.bus.on('peer-left', onLeft)
    opts.bus.on('message', onMessage)
    this.#offs.push(
      () => opts.bus.off('peer-joined', onJoin),
      () => opts.bus.off('peer-left', onLeft),
      () => opts.bus.off('message', onMessage),
    )
  }

  /** Everyone reachable now: on the bus, or still connected directly (the bus may be down). */
  get present(): Set<string> {
    const ids = new Set(this.#o.bus.peers)
    for (const [id, slot] of this.#slots) if (slot.peer.connected) ids.add(id)
    return ids
  }

  /** Ids with an open data channel. */
  get connected(): string[] {
    return [...this.#slots].filter(([, s]) => s.peer.connected).map(([id]) => id)
  }

  /** The track this peer sends to the plan's `sendAudioTo` (null: send nothing). */
  setLocalAudio(local: { track: MediaStreamTrack; stream: MediaStream } | null): void {
    if (this.#local?.track === local?.track) return
    for (const slot of this.#slots.values()) this.#unsend(slot)
    this.#local = local
    this.apply(this.#plan)
  }

  apply(plan: MeshPlan): void {
    if (this.#destroyed) return
    this.#plan = plan
    const want = new Set(plan.connect)
    for (const id of [...this.#slots.keys()]) if (!want.has(id)) this.#drop(id, null)
    for (const id of [...this.#retry.keys()]) if (!want.has(id)) this.#cancelRetry(id)
    for (const id of want) if (!this.#slots.has(id) && !this.#retry.has(id) && this.#o.bus.peers.has(id)) this.#create(id)
    const sendTo = new Set(plan.sendAudioTo)
    for (const [id, slot] of this.#slots) {
      if (sendTo.has(id) && this.#local) this.#send(slot)
      else this.#unsend(slot)
    }
  }

  /**
   * The network changed under us (a new address): restarts ICE on every live connection, so
   * each gathers candidates from the new address and keeps its data channel (what was sent
   * meanwhile is retransmitted); connections not up yet are made again, and pending retries
   * run now.
   */
  restartIce(): void {
    if (this.#destroyed) return
    for (const [id, slot] of [...this.#slots]) {
      if (slot.peer.connected) slot.peer.restartIce()
      else this.#drop(id, 'network-changed')
    }
    for (const id of [...this.#retry.keys()]) this.#cancelRetry(id)
    this.#attempts.clear()
    this.apply(this.#plan)
  }

  async stats(): Promise<Map<string, PeerStats>> {
    const out = new Map<string, PeerStats>()
    await Promise.all(
      [...this.#slots].map(async ([id, slot]) => {
        if (!slot.peer.connected) return
        out.set(id, await slot.peer.getStats().catch(() => ({}) as PeerStats))
      }),
    )
    return out
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const off of this.#offs) off()
    for (const id of [...this.#retry.keys()]) this.#cancelRetry(id)
    for (const id of [...this.#slots.keys()]) this.#drop(id, null)
    this.#inbox.clear()
    this.removeAllListeners()
  }

  #create(id: string): PeerSlot {
    const peer = new Peer({ ...this.#o.peer, wrtc: this.#o.wrtc, polite: this.selfId < id })
    const slot: PeerSlot = { peer, nonce: nextNonce(), remote: null, sync: null, sending: false, out: Promise.resolve() }
    this.#slots.set(id, slot)
    peer.on('signal', (s) => {
      slot.out = slot.out.then(() => this.#sendSignal(id, slot, s))
    })
    peer.on('connect', () => {
      this.#attempts.delete(id)
      slot.sync = attachSync(this.#o.doc, this.#o.awareness, new PeerLink(peer), {
        acceptUpdate: this.#o.acceptUpdate,
        stats: this.syncStats,
        onSynced: () => this.emit('peer-synced', id),
      })
      this.emit('peer-connected', id)
      this.emit('present')
    })
    peer.on('track', (track, stream) => this.emit('track', id, track, stream))
    peer.on('state', (state) => this.emit('peer-state', id, state))
    peer.on('trackended', (track) => this.emit('track-ended', id, track))
    peer.on('close', (err) => {
      if (this.#slots.get(id) !== slot) return
      this.#slots.delete(id)
      slot.sync?.()
      this.emit('peer-disconnected', id, err?.code ?? null)
      this.emit('present')
      if (err && !this.#destroyed && this.#plan.connect.includes(id)) this.#scheduleRetry(id)
    })
    if (this.#local && this.#plan.sendAudioTo.includes(id)) this.#send(slot)
    // Announce the new connection: a polite side would otherwise say nothing until offered to,
    // and the remote may still hold a connection made for an older one of ours.
    slot.out = slot.out.then(() => this.#sendWire(id, { k: 'hi', n: slot.nonce, r: slot.remote }))
    return slot
  }

  #drop(id: string, reason: string | null): void {
    const slot = this.#slots.get(id)
    if (!slot) return
    this.#slots.delete(id)
    slot.sync?.()
    slot.peer.destroy()
    this.emit('peer-disconnected', id, reason)
  }

  #scheduleRetry(id: string): void {
    const attempt = (this.#attempts.get(id) ?? 0) + 1
    this.#attempts.set(id, attempt)
    this.counters.reconnects++
    const backoff = this.#o.reconnectBackoff ?? defaultBackoff
    this.#retry.set(
      id,
      this.#timers.setTimeout(() => {
        this.#retry.delete(id)
        this.apply(this.#plan)
      }, backoff(attempt)),
    )
  }

  #cancelRetry(id: string): void {
    this.#timers.clearTimeout(this.#retry.get(id))
    this.#retry.delete(id)
  }

  #send(slot: PeerSlot): void {
    if (slot.sending || !this.#local || slot.peer.destroyed) return
    slot.peer.addTrack(this.#local.track, this.#local.stream)
    slot.sending = true
  }

  #unsend(slot: PeerSlot): void {
    if (!slot.sending || !this.#local) return
    slot.sending = false
    if (!slot.peer.destroyed) slot.peer.removeTrack(this.#local.track)
  }

  async #sendSignal(to: string, slot: PeerSlot, s: PeerSignal): Promise<void> {
    // A candidate the other side would refuse (same filter on both ends) is not worth a message.
    const accept = this.#o.peer?.acceptCandidate
    if (s.type === 'candidate' && s.candidate !== '' && accept && !accept(s.candidate)) return
    await this.#sendWire(to, { k: 'sig', s, n: slot.nonce, r: slot.remote })
  }

  async #sendWire(to: string, body: WireBody): Promise<void> {
    const wire = await encodeWire(this.#o.identity, this.selfId, to, body)
    if (!this.#destroyed) this.#o.bus.send(to, wire)
  }

  #onBusMessage(from: string, msg: BusMessage): void {
    if (this.#destroyed) return
    const wire = parseWire(msg)
    if (!wire) {
      this.counters.malformed++
      return
    }
    // Before verifying: a stranger's flood costs a lookup, not a signature check.
    if (!this.#plan.connect.includes(from)) {
      this.counters.notPlanned++
      return
    }
    const next = (this.#inbox.get(from) ?? Promise.resolve()).then(async () => {
      const ok = wire.sig !== null && (await verifyWire(from, this.selfId, wire, wire.sig))
      if (this.#destroyed) return
      if (!ok) this.counters.badSignature++
      else this.#onVerified(from, wire)
    })
    this.#inbox.set(from, next)
    void next.finally(() => {
      if (this.#inbox.get(from) === next) this.#inbox.delete(from)
    })
  }

  /** A message its sender really sent to us: its nonces now decide which connection it is for. */
  #onVerified(from: string, wire: ReceivedWire): void {
    if (!this.#plan.connect.includes(from)) {
      this.counters.notPlanned++ // the plan changed while it was being verified
      return
    }
    let slot = this.#slots.get(from)
    if (!slot) {
      // The remote is trying now: answer at once rather than after our backoff.
      this.#cancelRetry(from)
      slot = this.#create(from)
    }
    if ((wire.r !== null && wire.r !== slot.nonce) || (slot.remote !== null && wire.n < slot.remote)) {
      this.counters.stale++
      return
    }
    if (slot.remote !== null && wire.n > slot.remote) {
      this.counters.replaced++
      this.#drop(from, 'remote-replaced')
      slot = this.#create(from)
      if (wire.r !== null) {
        this.counters.stale++ // it was addressed to the connection just dropped
        return
      }
    }
    slot.remote ??= wire.n
    if (wire.k === 'sig') slot.peer.signal(wire.s)
  }
}
