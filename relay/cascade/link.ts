/**
 * CascadeLink: this relay's subscription to another relay of the same room.
 *
 * Relay B dials relay A's `/relay` endpoint like a client, authenticated with
 * B's own relay identity key, with `cascade: true` in its hello. A then:
 * refuses publishes from it, and forwards it only A's LOCAL publishers (never
 * streams A itself got from another relay), so cascades cannot loop and each
 * speaker's packets cross each relay pair once per direction.
 *
 * B, over the link:
 * - syncs its room doc replica with A (the same gated star sync clients use),
 *   so both relays validate speakers against the same log;
 * - subscribes, answers A's offers with a werift connection (non-trickle) and
 *   hands every received RTP packet, payload untouched, to its own room as a
 *   remote publisher (`RelayRoom.injectRemote`). The publisher of a section is
 *   the MediaStream id in A's offer (msid), read from each offer;
 * - B forwards a remote publisher to its local listeners only while it is a
 *   speaker in B's own validated state (RelayRoom.setRemoteSource).
 *
 * One failure path: the socket closing, A's bye or the media connection
 * failing all end in `destroy(err)`, which withdraws the link's publishers
 * from the room and calls `onClose` once.
 */
import WebSocket from 'ws'
import { RTCPeerConnection, type RTCPeerConnectionConfig, type RTCRtpTransceiver, type MediaStreamTrack } from 'werift'
import type { Identity } from '../../src/identity/index.ts'
import { RelaySocket, type RelayWebSocketClass } from '../../src/net/relay-socket.ts'
import type { RelayMessage } from '../../src/net/relay-protocol.ts'
import { DEFAULT_PEER_CONFIG } from '../sfu/forwarder.ts'
import type { RelayRoom, RoomPeer } from '../rooms/room.ts'

export interface CascadeLinkOptions {
  url: string
  room: RelayRoom
  identity: Identity
  peerConfig?: Partial<RTCPeerConnectionConfig>
  sdpFilter?: (sdp: string) => string
  onClose: (link: CascadeLink, err: Error | null) => void
}

/** mid -> publisher id of each section A sends on, from an offer. */
export function sendingSections(sdp: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /^a=mid:(\S+)/m.exec(section)?.[1]
    const msid = /^a=msid:(\S+)/m.exec(section)?.[1]
    const sending = /^a=(sendonly|sendrecv)\s*$/m.test(section)
    if (mid && msid && msid !== '-' && sending) out.set(mid, msid)
  }
  return out
}

export class CascadeLink {
  readonly url: string
  readonly #opts: CascadeLinkOptions
  readonly #socket: RelaySocket
  readonly #pc: RTCPeerConnection
  readonly #stub: RoomPeer
  #sections = new Map<string, string>()
  #queue: Promise<void> = Promise.resolve()
  #destroyed = false
  packets = 0

  constructor(opts: CascadeLinkOptions) {
    this.#opts = opts
    this.url = opts.url
    this.#socket = new RelaySocket({ WebSocket: WebSocket as unknown as RelayWebSocketClass })
    this.#pc = new RTCPeerConnection({ ...DEFAULT_PEER_CONFIG, ...opts.peerConfig })
    this.#stub = { key: `cascade:${opts.url}`, cascade: true, send: () => undefined, close: () => this.destroy(new Error('closed by the room')) }
    const seen = new WeakSet<MediaStreamTrack>()
    this.#pc.ontrack = ({ track, transceiver }: { track: MediaStreamTrack; transceiver: RTCRtpTransceiver }) => {
      if (seen.has(track)) return
      seen.add(track)
      track.onReceiveRtp.subscribe((rtp) => {
        const id = transceiver.mid === null ? undefined : this.#sections.get(transceiver.mid)
        if (!id || this.#destroyed) return
        this.packets++
        opts.room.injectRemote(id, rtp)
      })
    }
    this.#pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed') this.destroy(new Error(`cascade media connection to ${opts.url} failed`))
    })
  }

  async start(): Promise<void> {
    const { room, identity } = this.#opts
    this.#socket.on('close', (err) => this.destroy(err ?? new Error('cascade socket closed')))
    this.#socket.on('message', (msg) => this.#onMessage(msg))
    await this.#socket.connect(this.url, Buffer.from(room.discovery, 'hex'), identity, { cascade: true })
    if (this.#destroyed) return
    room.attachSync(this.#stub, this.#socket.link)
    this.#socket.send({ type: 'subscribe' })
  }

  get destroyed(): boolean {
    return this.#destroyed
  }

  destroy(err: Error | null = null): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#opts.room.detachSync(this.#stub)
    this.#opts.room.setRemoteSource(this.url, [])
    this.#socket.destroy()
    void this.#pc.close()
    this.#opts.onClose(this, err)
  }

  #onMessage(msg: RelayMessage): void {
    if (msg.type !== 'offer' || this.#destroyed) return
    this.#queue = this.#queue
      .then(async () => {
        if (this.#destroyed) return
        const sections = sendingSections(msg.sdp)
        await this.#pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp })
        await this.#pc.setLocalDescription(await this.#pc.createAnswer())
        if (this.#destroyed) return
        this.#sections = sections
        this.#opts.room.setRemoteSource(this.url, [...new Set(sections.values())])
        const sdp = this.#pc.localDescription!.sdp
        this.#socket.send({ type: 'answer', sdp: this.#opts.sdpFilter ? this.#opts.sdpFilter(sdp) : sdp })
      })
      .catch((err: unknown) => this.destroy(new Error(`answering ${this.url} failed`, { cause: err })))
  }
}
