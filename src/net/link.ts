/**
 * Link: a reliable, ordered, binary message channel to one remote peer.
 *
 * Everything above the transport (Yjs sync, signalling, relay control) talks to
 * a `Link`; a WebRTC data channel, a hyperswarm connection and an in-memory
 * pair for tests all become Links.
 *
 * Invariants:
 * - Messages arrive whole, in order, at most once; a Link never splits or merges them.
 * - 'close' is emitted exactly once; after it no 'message' is emitted and
 *   `send` drops silently (a race with the remote closing is not misuse).
 * - `close()` is idempotent.
 * - A Link delivers as soon as it exists and does not buffer for late
 *   listeners: attach (e.g. `attachSync`) in the tick the link is created.
 *
 * Byte streams (hyperswarm, TCP) carry messages as length-prefixed frames:
 * a 4-byte big-endian length, then that many bytes. A frame longer than
 * `maxFrameBytes` is refused before its body is buffered: the receiving link
 * closes with `ERR_FRAME_TOO_LARGE` and counts it; sending one throws (misuse).
 */
import { TypedEmitter } from '../base/emitter.ts'
import { CodedError } from '../base/errors.ts'

/** Events of a {@link Link}. */
export interface LinkEvents {
  /** One whole message from the remote peer. */
  message: (data: Uint8Array) => void
  /** The link is gone, for good. `reason` is set when a transport failure closed it. */
  close: (reason?: Error) => void
}

/** A reliable, ordered, binary message channel to one remote peer. */
export interface Link {
  readonly closed: boolean
  /** Queue one message. Dropped (not thrown) once the link is closed. */
  send(data: Uint8Array): void
  /** Close the link; idempotent. */
  close(reason?: Error): void
  on<K extends keyof LinkEvents>(name: K, fn: LinkEvents[K]): () => void
  off<K extends keyof LinkEvents>(name: K, fn: LinkEvents[K]): void
}

/** Error codes thrown or passed to 'close' by links. */
export const ERR_FRAME_TOO_LARGE = 'frame-too-large'

/** Default cap for one framed message: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1 << 20
/** Bytes of the length prefix in front of every frame. */
export const FRAME_HEADER_BYTES = 4

export class LinkError extends CodedError {}

/** Base class: event plumbing and exactly-once close. Subclasses implement `_send` and `_teardown`. */
export abstract class BaseLink extends TypedEmitter<LinkEvents> implements Link {
  #closed = false

  get closed(): boolean {
    return this.#closed
  }

  send(data: Uint8Array): void {
    if (this.#closed) return
    this._send(data)
  }

  close(reason?: Error): void {
    if (this.#closed) return
    this.#closed = true
    this._teardown(reason)
    this.emit('close', reason)
    this.removeAllListeners()
  }

  /** Deliver an incoming message to listeners (ignored once closed). */
  protected _receive(data: Uint8Array): void {
    if (!this.#closed) this.emit('message', data)
  }

  protected abstract _send(data: Uint8Array): void
  protected abstract _teardown(reason?: Error): void
}

// ---------------------------------------------------------------------------
// In-memory pair (tests, same-process wiring)

/** Runs a delivery later; must run callbacks in the order it was given them. */
export type Deliver = (fn: () => void) => void

export interface LinkPairOptions {
  /**
   * How messages and the close travel to the other end:
   * - 'microtask' (default): on a microtask, like a real transport, so both
   *   ends can attach (and send) in the same tick without losing anything.
   * - 'sync': inside `send`. Anything sent before the other end listens is lost.
   * - a function: through it, e.g. a test network that holds messages and
   *   releases them in a seeded random order (FIFO per pair).
   */
  deliver?: 'microtask' | 'sync' | Deliver
}

class MemoryLink extends BaseLink {
  peer: MemoryLink | null = null
  constructor(private readonly deliver: Deliver | null) {
    super()
  }

  protected _send(data: Uint8Array): void {
    const peer = this.peer
    if (peer === null) return
    const copy = data.slice()
    if (this.deliver === null) peer._receive(copy)
    else this.deliver(() => peer._receive(copy))
  }

  protected _teardown(reason?: Error): void {
    const peer = this.peer
    this.peer = null
    if (peer === null) return
    if (this.deliver === null) peer.close(reason)
    else this.deliver(() => peer.close(reason))
  }
}

/** Two Links wired to each other in memory: what one sends, the other receives. */
export function createLinkPair(options: LinkPairOptions = {}): [Link, Link] {
  const mode = options.deliver ?? 'microtask'
  const deliver = mode === 'sync' ? null : mode === 'microtask' ? queueMicrotask : mode
  const a = new MemoryLink(deliver)
  const b = new MemoryLink(deliver)
  a.peer = b
  b.peer = a
  return [a, b]
}

// ---------------------------------------------------------------------------
// Framing over a byte stream

/** Encode one frame: 4-byte big-endian length, then the payload. */
export function encodeFrame(payload: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  if (payload.byteLength > maxFrameBytes) {
    throw new LinkError(ERR_FRAME_TOO_LARGE, `frame of ${payload.byteLength} bytes exceeds ${maxFrameBytes}`)
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength)
  new DataView(out.buffer).setUint32(0, payload.byteLength, false)
  out.set(payload, FRAME_HEADER_BYTES)
  return out
}

/**
 * Incremental frame parser. Feed it chunks as they come off the stream; it
 * returns every complete frame. Buffers at most one frame plus one header, and
 * throws `ERR_FRAME_TOO_LARGE` as soon as a header announces an oversize frame.
 */
export class FrameDecoder {
  #chunks: Uint8Array[] = []
  #buffered = 0
  #need = -1 // body length of the frame being read, -1 while reading a header

  constructor(readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#buffered
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk)
      this.#buffered += chunk.byteLength
    }
    const frames: Uint8Array[] = []
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < FRAME_HEADER_BYTES) break
        const header = this.#take(FRAME_HEADER_BYTES)
        const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0, false)
        if (length > this.maxFrameBytes) {
          this.#chunks = []
          this.#buffered = 0
          throw new LinkError(ERR_FRAME_TOO_LARGE, `incoming frame of ${length} bytes exceeds ${this.maxFrameBytes}`)
        }
        this.#need = length
      }
      if (this.#buffered < this.#need) break
      frames.push(this.#take(this.#need))
      this.#need = -1
    }
    return frames
  }

  /** Remove exactly `n` bytes from the front of the buffer (a copy, so callers may keep it). */
  #take(n: number): Uint8Array {
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const head = this.#chunks[0]!
      const want = n - filled
      if (head.byteLength <= want) {
        out.set(head, filled)
        filled += head.byteLength
        this.#chunks.shift()
      } else {
        out.set(head.subarray(0, want), filled)
        this.#chunks[0] = head.subarray(want)
        filled += want
      }
    }
    this.#buffered -= n
    return out
  }
}

/**
 * The part of a Node/streamx duplex stream a framed link uses (hyperswarm's
 * NoiseSecretStream, net.Socket). Kept structural so this file has no Node import.
 */
export interface ByteStream {
  write(data: Uint8Array): unknown
  destroy(err?: Error): unknown
  on(event: 'data', fn: (chunk: Uint8Array) => void): unknown
  on(event: 'close', fn: () => void): unknown
  on(event: 'error', fn: (err: Error) => void): unknown
  off(event: 'data', fn: (chunk: Uint8Array) => void): unknown
  off(event: 'close', fn: () => void): unknown
  off(event: 'error', fn: (err: Error) => void): unknown
}

/** Counters of one framed link. */
export interface StreamLinkStats {
  framesIn: number
  framesOut: number
  bytesIn: number
  bytesOut: number
  /** Incoming frames refused for exceeding `maxFrameBytes` (each closes the link). */
  oversize: number
}

export interface StreamLinkOptions {
  /** Largest payload accepted or sent in one frame. Default {@link DEFAULT_MAX_FRAME_BYTES}. */
  maxFrameBytes?: number
  /** Destroy the stream when the link closes (default true). */
  destroyStream?: boolean
}

/** A Link over a byte stream, with length-prefixed frames. */
export class StreamLink extends BaseLink {
  readonly stats: StreamLinkStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, oversize: 0 }
  readonly maxFrameBytes: number
  readonly #decoder: FrameDecoder
  readonly #destroyStream: boolean
  #error: Error | undefined

  constructor(
    readonly stream: ByteStream,
    options: StreamLinkOptions = {},
  ) {
    super()
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.#destroyStream = options.destroyStream ?? true
    this.#decoder = new FrameDecoder(this.maxFrameBytes)
    stream.on('data', this.#onData)
    stream.on('error', this.#onError)
    stream.on('close', this.#onClose)
  }

  protected _send(data: Uint8Array): void {
    const frame = encodeFrame(data, this.maxFrameBytes)
    this.stats.framesOut++
    this.stats.bytesOut += frame.byteLength
    this.stream.write(frame)
  }

  protected _teardown(reason?: Error): void {
    this.stream.off('data', this.#onData)
    this.stream.off('close', this.#onClose)
    if (this.#destroyStream) {
      // The error listener stays on a stream we destroy: a late 'error' with no
      // listener would crash the process.
      this.stream.destroy(reason)
    } else {
      this.stream.off('error', this.#onError)
    }
  }

  readonly #onData = (chunk: Uint8Array): void => {
    this.stats.bytesIn += chunk.byteLength
    let frames: Uint8Array[]
    try {
      frames = this.#decoder.push(chunk)
    } catch (err) {
      this.stats.oversize++
      this.close(err instanceof Error ? err : new LinkError(ERR_FRAME_TOO_LARGE, String(err)))
      return
    }
    for (const frame of frames) {
      if (this.closed) return
      this.stats.framesIn++
      this._receive(frame)
    }
  }

  readonly #onError = (err: Error): void => {
    this.#error ??= err
  }

  readonly #onClose = (): void => {
    this.close(this.#error)
  }
}

/** Wrap a byte stream as a framed Link. */
export function createStreamLink(stream: ByteStream, options?: StreamLinkOptions): StreamLink {
  return new StreamLink(stream, options)
}
