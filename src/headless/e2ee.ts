/**
 * End-to-end encrypted audio for `stoop peer --media werift`, the Node counterpart of the
 * browser's src/app/e2ee.ts: every Opus frame this process sends is sealed with its own SFrame
 * key, and every frame it receives is opened with the key of the participant the RoomClient
 * attributes the track to (the mesh peer, or the publisher a relay names).
 *
 * One SframeKeyring per process (one identity): its counter is shared by all connections, so
 * (epoch, CTR) is never used twice. Keys follow the room's epochs as in the browser: the link's
 * secret counts as epoch 0 until the room has an epoch entry, and the newest epoch is sent with
 * (the one after the epoch sent with from SEND_SWITCH_DELAY_MS later, once the members hold it).
 * A track's frames are dropped (counted `no-sender`) until it is attributed; a frame that does
 * not open is dropped and counted, never played: a peer with E2EE off is not heard.
 *
 * AES-GCM is Node's own, synchronous (`nodeFrameCipher`): WebCrypto in Node runs every frame on
 * libuv's thread pool and back, measured (test/bench/e2ee.ts) at about 10 times the CPU and, on
 * a loaded machine, a median of 0.4-2.4 ms added to each frame's way instead of about 0.1 ms.
 * Its keys live in OpenSSL's memory as KeyObjects, which this process could export: in Node
 * nothing sits between the keys and the rest of the process anyway.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto'
import { counterStart, SEND_SWITCH_DELAY_MS, SframeKeyring, SframeStream, TAG_BYTES, type FrameCipherFactory, type SframeDrop } from '../media/sframe.ts'
import type { MediaTransforms } from '../node/werift-wrtc.ts'
import type { FrameTransform } from '../node/opus-sender.ts'

export interface EpochSource {
  readonly current: { n: number; secret: Uint8Array }
  on(event: 'epoch', cb: (e: { n: number; secret: Uint8Array }) => void): () => void
}

/** The `e2ee` field of the `--json` `stats` event. */
export interface NodeE2eeStats {
  encrypted: number
  decrypted: number
  /** Received frames dropped (any reason). */
  dropped: number
  /** Dropped frames by reason (non-zero ones), sending-side `no-key` included. */
  reasons: Partial<Record<SframeDrop, number>>
}

/** AES-128-GCM through node:crypto, one KeyObject per frame key. */
export const nodeFrameCipher: FrameCipherFactory = (raw) => {
  const key = createSecretKey(raw)
  const opts = { authTagLength: TAG_BYTES }
  return {
    seal(nonce, aad, plaintext) {
      const c = createCipheriv('aes-128-gcm', key, nonce, opts)
      c.setAAD(aad)
      const body = c.update(plaintext)
      c.final()
      const out = new Uint8Array(body.length + TAG_BYTES)
      out.set(body)
      out.set(c.getAuthTag(), body.length)
      return out
    },
    open(nonce, aad, sealed) {
      if (sealed.length < TAG_BYTES) return null
      const d = createDecipheriv('aes-128-gcm', key, nonce, opts)
      d.setAAD(aad)
      d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
      const plain = d.update(sealed.subarray(0, sealed.length - TAG_BYTES))
      try {
        d.final()
      } catch (err) {
        // The tag did not check (altered, forged, another key): the answer, not a fault.
        void err
        return null
      }
      return new Uint8Array(plain.buffer, plain.byteOffset, plain.length)
    },
  }
}

export class NodeE2ee {
  readonly keyring: SframeKeyring
  /** Receiving stream per remote track (werift's track object, the one the RoomClient names). */
  readonly #streams = new WeakMap<object, SframeStream>()
  readonly #onError: (err: Error) => void

  constructor(opts: { self: Uint8Array; linkSecret: Uint8Array; linkEpoch?: number; now?: number; onError?: (err: Error) => void }) {
    this.keyring = new SframeKeyring({ self: opts.self, ctrStart: counterStart(opts.now ?? Date.now()), switchDelayMs: SEND_SWITCH_DELAY_MS, cipher: nodeFrameCipher })
    this.#onError = opts.onError ?? (() => {})
    // The link's secret is its epoch's (`e=`, 0 when absent; docs/room-rules.md §8).
    this.#add(opts.linkEpoch ?? 0, opts.linkSecret)
  }

  /** The werift media hooks: seal on send, open per track on receive. */
  get transforms(): MediaTransforms {
    return {
      send: (payload) => this.keyring.encrypt(payload),
      receiveFor: (track) => this.#receiver(track),
    }
  }

  /** Adds every epoch the room moves to (the current one first); returns the unsubscribe. */
  follow(epochs: EpochSource): () => void {
    this.#add(Math.max(epochs.current.n, 0), epochs.current.secret)
    return epochs.on('epoch', (e) => this.#add(Math.max(e.n, 0), e.secret))
  }

  /** Whose frames a remote track carries; called again when the RoomClient re-attributes it. */
  attribute(track: object, sender: string): void {
    this.#stream(track).sender = sender
  }

  get stats(): NodeE2eeStats {
    const c = this.keyring.counters
    const reasons = Object.fromEntries(Object.entries(c.dropped).filter(([, n]) => n > 0)) as Partial<Record<SframeDrop, number>>
    const dropped = Object.entries(c.dropped).reduce((sum, [why, n]) => (why === 'no-key' ? sum : sum + n), 0)
    return { encrypted: c.encrypted, decrypted: c.decrypted, dropped, reasons }
  }

  #receiver(track: object): FrameTransform {
    const stream = this.#stream(track)
    return (payload) => this.keyring.decrypt(stream, payload)
  }

  #stream(track: object): SframeStream {
    let s = this.#streams.get(track)
    if (!s) this.#streams.set(track, (s = new SframeStream()))
    return s
  }

  #add(epoch: number, secret: Uint8Array): void {
    try {
      this.keyring.addEpoch(epoch, secret)
    } catch (err) {
      // A second secret for a known epoch: keep the first (frames under the other fail, counted).
      this.#onError(err as Error)
    }
  }
}
