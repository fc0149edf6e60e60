/**
 * A Peer's data channel as a Link, so Yjs sync (sync.ts) runs over the same
 * RTCPeerConnection as the audio: one connection per pair of peers.
 *
 * Data channel messages are capped (Peer's 64 KiB; ~256 KiB in browsers) but a
 * sync message may be up to 1 MiB, so messages are cut into chunks: one header
 * byte (1 = more follows, 0 = last) then up to `CHUNK_BYTES`.
 *
 * Invariants: reassembly holds at most `maxMessageBytes` of payload in at most
 * `maxChunks` chunks, so a remote sending tiny "more follows" chunks forever
 * costs a bounded amount of memory (each held chunk is an object, whatever its
 * size). A message over either bound is dropped, counted by reason, and the
 * rest of it skipped up to its last chunk; the link stays open. Nothing here
 * throws because of remote bytes.
 */
import { BaseLink, DEFAULT_MAX_FRAME_BYTES } from './link.ts'
import type { Peer } from './peer.ts'

export const CHUNK_BYTES = 16 * 1024
/** One sync message (sync.ts caps them at 1 MiB; larger logs are sent as several). */
export const DEFAULT_MAX_MESSAGE_BYTES = DEFAULT_MAX_FRAME_BYTES

const HEADER_MORE = 1
const HEADER_LAST = 0

/** Why an incoming message was dropped. */
export type PeerLinkRejectReason = 'oversize' | 'too-many-chunks' | 'malformed'

export interface PeerLinkStats {
  rejected: Record<PeerLinkRejectReason, number>
}

export interface PeerLinkOptions {
  /** Largest reassembled message. Default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  maxMessageBytes?: number
  /** Most chunks one message may take. Default: what an honest sender needs for `maxMessageBytes`. */
  maxChunks?: number
}

export class PeerLink extends BaseLink {
  /** Messages the data channel refused (closing, over size); counted, never thrown into Yjs. */
  dropped = 0
  readonly stats: PeerLinkStats
  readonly #peer: Peer
  readonly #maxBytes: number
  readonly #maxChunks: number
  readonly #offs: Array<() => void>
  #parts: Uint8Array[] = []
  #partBytes = 0
  /** The message being received was dropped: ignore chunks up to its last one. */
  #skipping = false

  constructor(peer: Peer, opts: PeerLinkOptions = {}) {
    super()
    this.#peer = peer
    this.#maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.#maxChunks = opts.maxChunks ?? Math.max(1, Math.ceil(this.#maxBytes / CHUNK_BYTES))
    this.stats = { rejected: { oversize: 0, 'too-many-chunks': 0, malformed: 0 } }
    this.#offs = [peer.on('data', (bytes) => this.#onChunk(bytes)), peer.on('close', () => this.close())]
  }

  /** What reassembly holds now. */
  get held(): { bytes: number; chunks: number } {
    return { bytes: this.#partBytes, chunks: this.#parts.length }
  }

  protected _send(data: Uint8Array): void {
    try {
      for (let at = 0; at < data.byteLength || at === 0; at += CHUNK_BYTES) {
        const end = Math.min(at + CHUNK_BYTES, data.byteLength)
        const chunk = new Uint8Array(1 + end - at)
        chunk[0] = end < data.byteLength ? HEADER_MORE : HEADER_LAST
        chunk.set(data.subarray(at, end), 1)
        this.#peer.send(chunk)
        if (end === data.byteLength) break
      }
    } catch {
      this.dropped++
    }
  }

  #onChunk(chunk: Uint8Array): void {
    const header = chunk.byteLength === 0 ? -1 : chunk[0]!
    if (header !== HEADER_MORE && header !== HEADER_LAST) return this.#drop('malformed', false)
    const last = header === HEADER_LAST
    if (this.#skipping) {
      if (last) this.#skipping = false
      return
    }
    if (this.#partBytes + chunk.byteLength - 1 > this.#maxBytes) return this.#drop('oversize', !last)
    if (this.#parts.length + 1 > this.#maxChunks) return this.#drop('too-many-chunks', !last)
    this.#parts.push(chunk.subarray(1))
    this.#partBytes += chunk.byteLength - 1
    if (!last) return
    const parts = this.#parts
    this.#parts = []
    this.#partBytes = 0
    if (parts.length === 1) return this._receive(parts[0]!)
    const whole = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
    let at = 0
    for (const p of parts) {
      whole.set(p, at)
      at += p.byteLength
    }
    this._receive(whole)
  }

  /** Drops the message being reassembled; `skipRest` ignores its chunks up to its last one. */
  #drop(reason: PeerLinkRejectReason, skipRest: boolean): void {
    this.stats.rejected[reason]++
    this.#parts = []
    this.#partBytes = 0
    this.#skipping = skipRest
  }

  protected _teardown(): void {
    for (const off of this.#offs) off()
    this.#parts = []
    this.#partBytes = 0
  }
}
