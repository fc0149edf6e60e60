/**
 * A Peer's data channel as a Link, so Yjs sync (sync.ts) runs over the same
 * RTCPeerConnection as the audio: one connection per pair of peers.
 *
 * Data channel messages are capped (Peer's 64 KiB; ~256 KiB in browsers) but a
 * first sync of a large room is megabytes, so messages are cut into chunks:
 * one header byte (1 = more follows, 0 = last) then up to `CHUNK_BYTES`.
 * Reassembly is bounded by `maxMessageBytes`; a peer that exceeds it is cut off.
 */
import { BaseLink, ERR_FRAME_TOO_LARGE, LinkError } from './link.ts'
import type { Peer } from './peer.ts'

export const CHUNK_BYTES = 16 * 1024
export const DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024

export class PeerLink extends BaseLink {
  /** Messages the data channel refused (closing, over size); counted, never thrown into Yjs. */
  dropped = 0
  readonly #peer: Peer
  readonly #max: number
  readonly #offs: Array<() => void>
  #parts: Uint8Array[] = []
  #partBytes = 0

  constructor(peer: Peer, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {
    super()
    this.#peer = peer
    this.#max = maxMessageBytes
    this.#offs = [peer.on('data', (bytes) => this.#onChunk(bytes)), peer.on('close', () => this.close())]
  }

  protected _send(data: Uint8Array): void {
    try {
      for (let at = 0; at < data.byteLength || at === 0; at += CHUNK_BYTES) {
        const end = Math.min(at + CHUNK_BYTES, data.byteLength)
        const chunk = new Uint8Array(1 + end - at)
        chunk[0] = end < data.byteLength ? 1 : 0
        chunk.set(data.subarray(at, end), 1)
        this.#peer.send(chunk)
        if (end === data.byteLength) break
      }
    } catch {
      this.dropped++
    }
  }

  #onChunk(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return this.close(new LinkError('bad-chunk', 'empty data channel chunk'))
    this.#partBytes += chunk.byteLength - 1
    if (this.#partBytes > this.#max) return this.close(new LinkError(ERR_FRAME_TOO_LARGE, `message over ${this.#max} bytes`))
    this.#parts.push(chunk.subarray(1))
    if (chunk[0] === 1) return
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

  protected _teardown(): void {
    for (const off of this.#offs) off()
    this.#parts = []
  }
}
