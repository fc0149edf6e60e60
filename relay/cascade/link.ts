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
 * Vouches (relay/rooms/vouch.ts): B authenticates with its room's vouch (A
 * admits it only with one of A's current epoch), and sends A nothing of the
 * room, no sync and no subscribe, until A proved in its welcome that it holds
 * the key its challenge named (a signature over B's hello nonce and the host
 * B dialled) and that a member vouched for that key in B's current epoch. A relay announced on the
 * swarm without a vouch is dialled and given nothing. After a rotation, B
 * waits up to `vouchGraceMs` for A's vouch of the new epoch (A pushes it when
 * its members prove the new epoch), and tells A its own newer vouch when its
 * members give it one; the link stays up through a rotation when both
 * relays' members prove within the grace. Meanwhile the sync keeps running:
 * the new epoch itself reaches members of the other relay through it.
 *
 * One failure path: the socket closing, A's bye, the media connection failing
 * or A's missing vouch all end in `destroy(err)`, which withdraws the link's
 * publishers from the room and calls `onClose` once.
 */
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { RTCPeerConnection, type RTCPeerConnectionConfig, type RTCRtpTransceiver, type MediaStreamTrack } from 'werift'
import { CodedError } from '../../src/base/errors.ts'
import { toBase64url, type Identity } from '../../src/identity/index.ts'
import { RelaySocket, type RelayWebSocketClass } from '../../src/net/relay-socket.ts'
import { hostOf, type RelayMessage } from '../../src/net/relay-protocol.ts'
import { DEFAULT_PEER_CONFIG } from '../sfu/forwarder.ts'
import { EPOCH_PROVE_GRACE_MS, type RelayRoom, type RoomPeer } from '../rooms/room.ts'
import { checkRelayProof, vouches } from '../rooms/vouch.ts'

/** The dialled relay did not prove a member's vouch of this room's current epoch for its key. */
export class CascadeError extends CodedError<'not-vouched'> {}

/** Vouches of the dialled relay remembered (the newest few: one relay may be an epoch ahead of the other). */
const KEEP_VOUCHES = 4

export interface CascadeLinkOptions {
  url: string
  room: RelayRoom
  identity: Identity
  peerConfig?: Partial<RTCPeerConnectionConfig>
  sdpFilter?: (sdp: string) => string
  onClose: (link: CascadeLink, err: Error | null) => void
  /** How long to wait for the dialled relay's vouch of our current epoch. Default: the relays' grace for proofs (5 s). */
  vouchGraceMs?: number
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
  /** The dialled relay's key, once its welcome proved it, and its vouches seen (newest last). */
  #peerKey: string | null = null
  #peerVouches: string[] = []
  /** Sync attached and subscribed (the dialled relay was vouched for at least once). */
  #open = false
  #wait: NodeJS.Timeout | null = null
  #offs: Array<() => void> = []
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
    const store = room.epochs.vouches
    this.#socket.on('close', (err) => this.destroy(err ?? new Error('cascade socket closed')))
    this.#socket.on('message', (msg) => this.#onMessage(msg))
    const nonce = toBase64url(randomBytes(32))
    await this.#socket.connect(this.url, Buffer.from(room.discovery, 'hex'), identity, { cascade: true, nonce, vouch: () => store.latest })
    if (this.#destroyed) return
    const proof = this.#socket.relayProof
    // The host was checked against the URL dialled (RelaySocket): a proof passed through from elsewhere names another.
    if (!proof || !(await checkRelayProof(room.discovery, nonce, proof.key, hostOf(this.url), proof.sig))) {
      return this.destroy(new CascadeError('not-vouched', `${this.url} did not prove the relay key its challenge named`))
    }
    if (this.#destroyed) return
    this.#peerKey = proof.key
    if (proof.vouch !== undefined) this.#heard(proof.vouch)
    this.#offs.push(
      store.on('epoch', () => this.#check()),
      // A's gate may be waiting for our vouch of a new epoch: an answer it did not ask for is ignored.
      store.on('vouched', (sig) => void this.#socket.send({ type: 'member', sig })),
    )
    this.#check()
  }

  get destroyed(): boolean {
    return this.#destroyed
  }

  destroy(err: Error | null = null): void {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const off of this.#offs.splice(0)) off()
    if (this.#wait) clearTimeout(this.#wait)
    this.#opts.room.detachSync(this.#stub)
    this.#opts.room.setRemoteSource(this.url, [])
    this.#socket.destroy()
    void this.#pc.close()
    this.#opts.onClose(this, err)
  }

  #heard(vouch: string): void {
    this.#peerVouches = [...this.#peerVouches.filter((v) => v !== vouch), vouch].slice(-KEEP_VOUCHES)
  }

  /**
   * Whether the dialled relay is vouched for in our room's current epoch: the sync and the
   * subscription start the first time it is; while it is not, it has `vouchGraceMs` to become so.
   */
  #check(): void {
    const { room } = this.#opts
    if (this.#destroyed || this.#peerKey === null) return
    const cur = room.state?.epochs.current
    if (cur && this.#peerVouches.some((v) => vouches(cur, room.discovery, this.#peerKey!, v))) {
      if (this.#wait) clearTimeout(this.#wait)
      this.#wait = null
      if (this.#open) return
      this.#open = true
      room.attachSync(this.#stub, this.#socket.link)
      this.#socket.send({ type: 'subscribe' })
      return
    }
    if (this.#wait) return
    this.#wait = setTimeout(() => this.destroy(new CascadeError('not-vouched', `${this.url} holds no vouch of this room's current epoch`)), this.#opts.vouchGraceMs ?? EPOCH_PROVE_GRACE_MS)
    this.#wait.unref()
  }

  #onMessage(msg: RelayMessage): void {
    if (msg.type === 'vouch' && !this.#destroyed) {
      this.#heard(msg.sig)
      return this.#check()
    }
    // Before it was vouched for, the dialled relay's audio is not taken either (it could name any speaker).
    if (msg.type !== 'offer' || this.#destroyed || !this.#open) return
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
