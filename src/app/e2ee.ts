/**
 * End-to-end encrypted audio in the browser: every audio RTCRtpSender of the session seals its
 * frames with this participant's SFrame key, and every RTCRtpReceiver opens them with the key of
 * the participant its track is attributed to, on the mesh and on the relay alike. The frames
 * pass through one dedicated worker (src/media/sframe-worker.ts) that derives and holds the
 * keys; this side only posts epoch secrets and reads counters.
 *
 * It hooks in as the WebRTC implementation: `wrap(wrtc)` makes RTCPeerConnections that give
 * both ends (sender and receiver) of every audio transceiver a transform as soon as the
 * transceiver exists: after `addTrack`/`addTransceiver`, on 'track' (registered before
 * anyone else's listener) and after `setRemoteDescription`, and again before any offer or
 * answer. Early on purpose: Chromium 156 ignores an `RTCRtpScriptTransform` set on a transceiver
 * after its first negotiation, and then sends and plays frames *untransformed* (seen with a
 * transceiver created by a remote offer and later reused by `addTrack`: the sender's transform
 * got no frame and the peer received plain Opus). Who a track is from is the RoomClient's call
 * (a mesh peer, a relay's publisher); the session passes it on with `attribute(track, id)`, and
 * a track's frames are dropped until then.
 *
 * Modes: `RTCRtpScriptTransform` where the browser has it, else Chromium's
 * `createEncodedStreams()` (with `encodedInsertableStreams: true` on every connection, which
 * plays nothing a transform did not pass). Both fail closed: a sender whose transform cannot be
 * attached sends nothing, a receiver's track is disabled.
 */
import type { PeerWrtc } from '../net/peer.ts'
import type { SframeDrop } from '../media/sframe.ts'
import type { E2eeRole, FromWorker, ToWorker, TransformOptions, WorkerStats } from '../media/worker-protocol.ts'
import { BypassWatch } from './e2ee-watch.ts'

export type E2eeMode = 'script-transform' | 'encoded-streams'
/** The session option: 'auto' (the default) encrypts with what the browser has. */
export type E2eeSetting = 'auto' | 'off' | E2eeMode

interface TransformGlobals {
  RTCRtpScriptTransform?: unknown
  RTCRtpSender?: { prototype: object }
}

/** The mode a setting gives in this browser; null when off or not possible here. */
export function e2eeMode(setting: E2eeSetting = 'auto', g: TransformGlobals = globalThis as TransformGlobals): E2eeMode | null {
  if (setting === 'off') return null
  const script = typeof g.RTCRtpScriptTransform === 'function'
  const encoded = typeof (g.RTCRtpSender?.prototype as { createEncodedStreams?: unknown } | undefined)?.createEncodedStreams === 'function'
  if (setting === 'script-transform') return script ? setting : null
  if (setting === 'encoded-streams') return encoded ? setting : null
  return script ? 'script-transform' : encoded ? 'encoded-streams' : null
}

export interface E2eeStats {
  mode: E2eeMode
  encrypted: number
  decrypted: number
  dropped: Partial<Record<SframeDrop, number>>
  /** Frames attributed to a participant that did not open (or were replays), by participant. */
  undecryptable: Record<string, number>
  /** Mean worker time per frame, µs (null before the first frame). */
  encryptUs: number | null
  decryptUs: number | null
  /** Transforms the browser refused to attach (those tracks send or play nothing). */
  attachFailures: number
  /** Receivers found playing without their transform (e2ee-watch.ts), silenced. */
  bypassed: number
}

export interface BrowserE2eeOptions {
  mode: E2eeMode
  /** This participant's public key. */
  self: Uint8Array
  /** Default: the bundled SFrame worker. */
  worker?: Worker
  /** Called when the counters change (at most about once a second). */
  onchange?: () => void
}

type EncodedStreams = { readable: ReadableStream; writable: WritableStream }
type Endpoint = RTCRtpSender | RTCRtpReceiver

export class BrowserE2ee {
  readonly mode: E2eeMode
  readonly #worker: Worker
  /** Transform id per sender or receiver (each gets one, once). */
  readonly #ids = new WeakMap<Endpoint, number>()
  /** Receiving transform id per remote track. */
  readonly #tracks = new WeakMap<MediaStreamTrack, number>()
  #next = 1
  #last: WorkerStats | null = null
  #attachFailures = 0
  #closed = false
  readonly #watch = new BypassWatch((id) => this.#last?.frames[id] ?? 0)
  readonly #watchTimer: ReturnType<typeof setInterval>

  constructor(opts: BrowserE2eeOptions) {
    this.mode = opts.mode
    this.#worker = opts.worker ?? new Worker(new URL('../media/sframe-worker.ts', import.meta.url), { type: 'module', name: 'stoop-sframe' })
    this.#worker.onmessage = (e: MessageEvent<FromWorker>) => {
      if (e.data?.t !== 'stats') return
      this.#last = e.data
      opts.onchange?.()
    }
    this.#post({ t: 'init', self: opts.self.slice() })
    this.#watchTimer = setInterval(() => void this.#watch.check(), 2000)
  }

  /** An epoch's secret (epoch 0: the link's room secret); the newest is sent with unless `send` is false. */
  setEpoch(epoch: number, secret: Uint8Array, opts: { send?: boolean } = {}): void {
    this.#post({ t: 'epoch', epoch, secret: secret.slice(), ...(opts.send === false ? { send: false } : {}) })
  }

  sendWith(epoch: number): void {
    this.#post({ t: 'send-with', epoch })
  }

  retireEpoch(epoch: number): void {
    this.#post({ t: 'retire', epoch })
  }

  /** The WebRTC implementation whose connections encrypt what they send and decrypt what they receive. */
  wrap(wrtc: PeerWrtc): PeerWrtc {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the constructor below reaches this instance's private methods
    const e2ee = this
    const Base = wrtc.RTCPeerConnection
    // Returns a plain, hooked RTCPeerConnection (not a subclass): its overloaded methods keep their types.
    class E2eePeerConnection {
      constructor(config?: RTCConfiguration) {
        const pc = new Base(e2ee.mode === 'encoded-streams' ? ({ ...config, encodedInsertableStreams: true } as RTCConfiguration) : config)
        e2ee.#hook(pc)
        return pc
      }
    }
    return { RTCPeerConnection: E2eePeerConnection as unknown as PeerWrtc['RTCPeerConnection'] }
  }

  /** Who a remote track's frames are from (opened with that participant's key). False for a track not received here. */
  attribute(track: MediaStreamTrack, sender: string): boolean {
    const id = this.#tracks.get(track)
    if (id === undefined || this.#closed) return false
    this.#post({ t: 'sender', id, sender })
    return true
  }

  get stats(): E2eeStats {
    const s = this.#last
    const c = s?.counters
    const undecryptable: Record<string, number> = {}
    for (const [id, n] of Object.entries(s?.senders ?? {})) if (n.dropped > 0) undecryptable[id] = n.dropped
    return {
      mode: this.mode,
      encrypted: c?.encrypted ?? 0,
      decrypted: c?.decrypted ?? 0,
      dropped: Object.fromEntries(Object.entries(c?.dropped ?? {}).filter(([, n]) => n > 0)),
      undecryptable,
      encryptUs: s && c?.encrypted ? (s.encryptMs * 1000) / c.encrypted : null,
      decryptUs: s && c && c.decrypted + c.dropped.auth > 0 ? (s.decryptMs * 1000) / (c.decrypted + c.dropped.auth) : null,
      attachFailures: this.#attachFailures,
      bypassed: this.#watch.silenced,
    }
  }

  /** Stops the worker (after the connections closed). Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#watchTimer)
    this.#worker.onmessage = null
    this.#worker.terminate()
  }

  /** Attaches transforms at every step where a connection may create or negotiate a transceiver. */
  #hook(pc: RTCPeerConnection): void {
    pc.addEventListener('track', (ev) => this.#onTrack(pc, ev as RTCTrackEvent))
    const all = (): void => this.#attachAll(pc)
    const addTrack = pc.addTrack.bind(pc)
    pc.addTrack = (track, ...streams) => {
      const sender = addTrack(track, ...streams)
      all()
      return sender
    }
    const addTransceiver = pc.addTransceiver.bind(pc)
    pc.addTransceiver = (trackOrKind, init) => {
      const tr = addTransceiver(trackOrKind, init)
      all()
      return tr
    }
    const setRemote = pc.setRemoteDescription.bind(pc) as (d: RTCSessionDescriptionInit) => Promise<void>
    pc.setRemoteDescription = (async (d: RTCSessionDescriptionInit) => {
      await setRemote(d)
      all()
    }) as typeof pc.setRemoteDescription
    for (const name of ['createOffer', 'createAnswer', 'setLocalDescription'] as const) {
      const orig = (pc[name] as (...args: unknown[]) => Promise<unknown>).bind(pc)
      ;(pc as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        all()
        return orig(...args)
      }
    }
  }

  #onTrack(pc: RTCPeerConnection, e: RTCTrackEvent): void {
    if (e.track.kind !== 'audio') return
    this.#attachAll(pc)
    const id = this.#ids.get(e.receiver)
    if (id === undefined) {
      e.track.enabled = false
      return
    }
    this.#tracks.set(e.track, id)
    this.#watch.watch(id, e.receiver, e.track)
  }

  /** Both ends of every audio transceiver not yet seen (see the module comment for why early). */
  #attachAll(pc: RTCPeerConnection): void {
    for (const tr of pc.getTransceivers()) {
      if (tr.receiver.track?.kind !== 'audio' || tr.currentDirection === 'stopped') continue
      this.#attach(tr.sender, 'encrypt')
      this.#attach(tr.receiver, 'decrypt')
    }
  }

  #attach(endpoint: Endpoint, role: E2eeRole): number | null {
    const known = this.#ids.get(endpoint)
    if (known !== undefined) return known
    if (this.#closed) return this.#refuse(endpoint)
    const id = this.#next++
    try {
      if (this.mode === 'script-transform') {
        endpoint.transform = new RTCRtpScriptTransform(this.#worker, { id, role } satisfies TransformOptions)
      } else {
        const { readable, writable } = (endpoint as unknown as { createEncodedStreams(): EncodedStreams }).createEncodedStreams()
        this.#post({ t: 'streams', id, role, readable, writable }, [readable, writable])
      }
    } catch (err) {
      console.warn('end-to-end encryption could not be attached', err)
      return this.#refuse(endpoint)
    }
    this.#ids.set(endpoint, id)
    return id
  }

  /** Fails closed: nothing leaves a sender without its transform. */
  #refuse(endpoint: Endpoint): null {
    this.#attachFailures++
    if ('replaceTrack' in endpoint) endpoint.replaceTrack(null).catch(() => this.#attachFailures++)
    return null
  }

  #post(msg: ToWorker, transfer: Transferable[] = []): void {
    if (!this.#closed) this.#worker.postMessage(msg, transfer)
  }
}
