/**
 * Test doubles for mesh unit tests: an in-memory signalling bus and a scripted
 * RTCPeerConnection that "connects" once it has completed an offer/answer exchange.
 *
 * The hub delivers like the WebSocket bus does (ws-bus.ts): the sender id a
 * receiver sees is whatever the sender wrote, so `forge` is what any member
 * holding the room key can do by publishing `{t:'msg', from: <anyone>, ...}`.
 */
import { TypedEmitter } from '../../../src/base/emitter.ts'
import type { BusMessage, SignalBus, SignalBusEvents } from '../../../src/net/bus.ts'
import type { PeerWrtc } from '../../../src/net/peer.ts'

export interface Sent {
  from: string
  to: string
  msg: BusMessage
}

export class MemoryHub {
  readonly buses = new Map<string, MemoryBus>()
  /** Every message sent by a bus, in order (what a member on the topic can read). */
  readonly log: Sent[] = []

  join(id: string): MemoryBus {
    const bus = new MemoryBus(this, id)
    for (const other of this.buses.values()) {
      other.arrive(id)
      bus.arrive(other.selfId)
    }
    this.buses.set(id, bus)
    return bus
  }

  /** Delivers `msg` to `to` as coming from `from`, whoever really sent it. */
  forge(from: string, to: string, msg: BusMessage): void {
    const bus = this.buses.get(to)
    if (!bus) return
    bus.arrive(from)
    bus.deliver(from, msg)
  }

  leave(id: string): void {
    this.buses.delete(id)
    for (const other of this.buses.values()) other.depart(id)
  }
}

export class MemoryBus extends TypedEmitter<SignalBusEvents> implements SignalBus {
  readonly #peers = new Set<string>()
  #destroyed = false

  constructor(
    readonly hub: MemoryHub,
    readonly selfId: string,
  ) {
    super()
  }

  get peers(): ReadonlySet<string> {
    return this.#peers
  }

  arrive(id: string): void {
    if (this.#peers.has(id) || id === this.selfId) return
    this.#peers.add(id)
    this.emit('peer-joined', id)
  }

  deliver(from: string, msg: BusMessage): void {
    if (!this.#destroyed) this.emit('message', from, msg)
  }

  depart(id: string): void {
    if (this.#peers.delete(id)) this.emit('peer-left', id)
  }

  publish(msg: BusMessage): void {
    for (const id of this.#peers) this.send(id, msg)
  }

  send(to: string, msg: BusMessage): boolean {
    if (this.#destroyed || !this.#peers.has(to)) return false
    this.hub.log.push({ from: this.selfId, to, msg })
    setImmediate(() => this.hub.buses.get(to)?.deliver(this.selfId, msg))
    return true
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    this.hub.leave(this.selfId)
    for (const id of [...this.#peers]) this.depart(id)
    this.removeAllListeners()
  }
}

const SDP = (tag: string): string =>
  `v=0\r\no=- ${tag} 1 IN IP4 127.0.0.1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n`
let sdpCounter = 0

/**
 * Carries bytes to the data channel of the connection it was paired with (same SDPs), in order,
 * while both are open: what is still in flight when the sender closes is lost, as with pc.close().
 */
class FakeDC extends EventTarget {
  readyState: RTCDataChannelState = 'connecting'
  binaryType = 'blob'
  bufferedAmount = 0
  partner: FakeDC | null = null
  /** Arrived before this end opened (a real channel holds them the same way). */
  readonly #early: ArrayBuffer[] = []
  send(data: Uint8Array): void {
    const to = this.partner
    const copy = data.slice().buffer
    if (!to) return
    if (FakePC.latencyMs > 0) setTimeout(() => to.receive(copy), FakePC.latencyMs)
    else setImmediate(() => to.receive(copy))
  }
  receive(data: ArrayBuffer): void {
    if (this.readyState === 'connecting') this.#early.push(data)
    else if (this.readyState === 'open' && this.partner?.readyState !== 'closed') this.dispatchEvent(new MessageEvent('message', { data }))
  }
  close(): void {
    this.readyState = 'closed'
  }
  open(partner: FakeDC | null): void {
    this.readyState = 'open'
    this.partner = partner
    this.dispatchEvent(new Event('open'))
    for (const data of this.#early.splice(0)) this.receive(data)
  }
}

/** Completes an exchange like a real connection would, and then opens its data channel. */
export class FakePC extends EventTarget {
  static instances: FakePC[] = []
  /** Data channel delivery delay (0: the next turn of the event loop). */
  static latencyMs = 0
  signalingState: RTCSignalingState = 'stable'
  connectionState: RTCPeerConnectionState = 'new'
  localDescription: RTCSessionDescriptionInit | null = null
  remoteDescription: RTCSessionDescriptionInit | null = null
  /** Remote descriptions applied, in order. */
  readonly applied: string[] = []
  /** Every description set on either side: two connections made for each other share one. */
  readonly sdps: string[] = []
  dc = new FakeDC()
  closed = false
  // What peer.ts's offerNeeded reads: track changes count up, and an offer/answer exchange that
  // completes settles the changes its description carried (none made after it was created).
  #changes = 1 // the data channel's SCTP m-line
  #described = 0
  #settled = 0

  constructor() {
    super()
    FakePC.instances.push(this)
    // A negotiated data channel needs an SCTP m-line: real implementations ask to negotiate.
    queueMicrotask(() => this.dispatchEvent(new Event('negotiationneeded')))
  }
  createDataChannel(): FakeDC {
    return this.dc
  }
  get sctp(): object | null {
    return this.#settled > 0 ? {} : null
  }
  getTransceivers(): Array<Pick<RTCRtpTransceiver, 'mid' | 'direction' | 'currentDirection'>> {
    const settled = this.#settled >= this.#changes
    return [{ mid: settled ? '0' : null, direction: 'sendrecv', currentDirection: settled ? 'sendrecv' : null }]
  }
  async createOffer(): Promise<RTCSessionDescriptionInit> {
    this.#described = this.#changes
    return { type: 'offer', sdp: SDP(`offer${++sdpCounter}`) }
  }
  async createAnswer(): Promise<RTCSessionDescriptionInit> {
    if (this.signalingState !== 'have-remote-offer') throw new Error('createAnswer in ' + this.signalingState)
    this.#described = this.#changes
    return { type: 'answer', sdp: SDP(`answer${++sdpCounter}`) }
  }
  async setLocalDescription(d: RTCSessionDescriptionInit): Promise<void> {
    if (d.type === 'rollback') {
      this.signalingState = 'stable'
      return
    }
    this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable'
    if (d.type === 'answer') this.#settled = this.#described
    this.localDescription = d
    this.sdps.push(d.sdp ?? '')
    queueMicrotask(() =>
      this.dispatchEvent(
        Object.assign(new Event('icecandidate'), { candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' } }),
      ),
    )
    this.#maybeOpen()
  }
  async setRemoteDescription(d: RTCSessionDescriptionInit): Promise<void> {
    const s = this.signalingState
    if ((d.type === 'offer' && s !== 'stable') || (d.type === 'answer' && s !== 'have-local-offer')) throw new Error(`SRD ${d.type} in ${s}`)
    this.signalingState = d.type === 'offer' ? 'have-remote-offer' : 'stable'
    if (d.type === 'answer') this.#settled = this.#described
    this.remoteDescription = d
    this.sdps.push(d.sdp ?? '')
    this.applied.push(d.type ?? '')
    this.#maybeOpen()
  }
  async addIceCandidate(): Promise<void> {
    if (!this.remoteDescription) throw new Error('no remote description')
  }
  addTrack(track: MediaStreamTrack): RTCRtpSender {
    this.#changes++
    queueMicrotask(() => this.dispatchEvent(new Event('negotiationneeded')))
    return { track } as unknown as RTCRtpSender
  }
  removeTrack(): void {
    this.#changes++
    queueMicrotask(() => this.dispatchEvent(new Event('negotiationneeded')))
  }
  async getStats(): Promise<Map<string, unknown>> {
    return new Map()
  }
  close(): void {
    this.closed = true
    this.signalingState = 'closed'
    this.connectionState = 'closed'
  }
  #maybeOpen(): void {
    if (this.signalingState !== 'stable' || !this.localDescription || !this.remoteDescription || this.dc.readyState !== 'connecting') return
    setImmediate(() => {
      if (this.closed) return
      this.connectionState = 'connected'
      this.dispatchEvent(new Event('connectionstatechange'))
      const partner = FakePC.instances.find((pc) => pc !== this && pc.sdps.some((sdp) => this.sdps.includes(sdp)))
      this.dc.open(partner?.dc ?? null)
    })
  }
}

export const fakeWrtc: PeerWrtc = { RTCPeerConnection: FakePC as unknown as PeerWrtc['RTCPeerConnection'] }

/** Lets queued microtasks, immediates and the async crypto they start run out. */
export async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 1))
}
