/**
 * The input a worker is running right now, in shared memory, so the main thread can name the
 * culprit when the worker hangs (JavaScript cannot pre-empt a synchronous loop: the main thread
 * terminates the worker and reads the slot) or dies (out of memory, a native crash).
 *
 * Layout: Int32 header [heartbeat, kind (0 bytes, 1 string), length in bytes, target index,
 * truncated flag], then the input (strings as UTF-16 code units, so lone surrogates survive).
 */
import type { Input } from './target.ts'

const HEADER_BYTES = 32

export class InputSlot {
  readonly #header: Int32Array
  readonly #bytes: Uint8Array
  readonly #units: Uint16Array

  constructor(readonly sab: SharedArrayBuffer) {
    this.#header = new Int32Array(sab, 0, 8)
    this.#bytes = new Uint8Array(sab, HEADER_BYTES)
    this.#units = new Uint16Array(sab, HEADER_BYTES, Math.floor((sab.byteLength - HEADER_BYTES) / 2))
  }

  static create(capacityBytes: number): InputSlot {
    return new InputSlot(new SharedArrayBuffer(HEADER_BYTES + capacityBytes))
  }

  /** Counts one case: the heartbeat the main thread watches. */
  write(input: Input, target: number): void {
    const h = this.#header
    if (typeof input === 'string') {
      const n = Math.min(input.length, this.#units.length)
      for (let i = 0; i < n; i++) this.#units[i] = input.charCodeAt(i)
      h[1] = 1
      h[2] = n * 2
      h[4] = n < input.length ? 1 : 0
    } else {
      const n = Math.min(input.length, this.#bytes.length)
      this.#bytes.set(n < input.length ? input.subarray(0, n) : input)
      h[1] = 0
      h[2] = n
      h[4] = n < input.length ? 1 : 0
    }
    h[3] = target
    Atomics.add(h, 0, 1)
  }

  get heartbeat(): number {
    return Atomics.load(this.#header, 0)
  }

  /** The last input written, the index of its target, and whether it was cut to fit. */
  read(): { input: Input; target: number; truncated: boolean } {
    const h = this.#header
    const len = h[2]!
    let input: Input
    if (h[1] === 1) {
      input = ''
      for (let at = 0; at < len / 2; at += 0x4000) input += String.fromCharCode(...this.#units.subarray(at, Math.min(len / 2, at + 0x4000)))
    } else input = this.#bytes.slice(0, len)
    return { input, target: h[3]!, truncated: h[4] === 1 }
  }
}
