/**
 * Room doc persistence for the relay (`--data DIR`): one file per room,
 * `<discovery key hex>.yjs`, holding `Y.encodeStateAsUpdate(doc)` (V1).
 *
 * - Writes are atomic: the bytes go to `<name>.<pid>.<n>.tmp`, are fsynced and
 *   renamed over the old file, so a crash leaves the old or the new doc, never
 *   half of one.
 * - Writes are debounced per room: a change schedules a write `debounceMs`
 *   later; changes keep pushing it back, but never past `maxDelayMs` after the
 *   first unsaved change. `flush()` writes everything pending now (shutdown).
 * - File names come only from validated discovery keys (64 hex), never from
 *   anything else a client sends.
 * - A failed write is counted and logged, and retried at the next change or
 *   flush; it never throws into the caller.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isDiscoveryHex } from '../../src/net/relay-protocol.ts'

export interface RoomStoreOptions {
  dir: string
  debounceMs?: number
  maxDelayMs?: number
  /** Called after each write attempt (metrics, logs). */
  onWrite?: (room: string, ok: boolean, bytes: number, err?: unknown) => void
}

interface PendingWrite {
  read: () => Uint8Array
  timer: NodeJS.Timeout
  firstAt: number
}

export class RoomStore {
  readonly dir: string
  private readonly debounceMs: number
  private readonly maxDelayMs: number
  private readonly pending = new Map<string, PendingWrite>()
  /** Per room: the write in progress (writes to one file never overlap). */
  private readonly writing = new Map<string, Promise<void>>()
  private seq = 0
  private ready: Promise<void> | null = null

  constructor(private readonly opts: RoomStoreOptions) {
    this.dir = opts.dir
    this.debounceMs = opts.debounceMs ?? 1000
    this.maxDelayMs = opts.maxDelayMs ?? 5000
  }

  /** The stored doc of `room`, or null when there is none. Throws on I/O errors other than "missing". */
  async load(room: string): Promise<Uint8Array | null> {
    const file = this.file(room)
    try {
      return new Uint8Array(await readFile(file))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  }

  /** Schedules a write of `read()` (called when the write happens, so it is always the latest state). */
  schedule(room: string, read: () => Uint8Array): void {
    this.file(room)
    const now = Date.now()
    const prev = this.pending.get(room)
    if (prev) clearTimeout(prev.timer)
    const firstAt = prev?.firstAt ?? now
    const delay = Math.max(0, Math.min(this.debounceMs, firstAt + this.maxDelayMs - now))
    const timer = setTimeout(() => void this.writeNow(room), delay)
    timer.unref()
    this.pending.set(room, { read, timer, firstAt })
  }

  /** Writes `room` now if a write is pending. */
  async flushRoom(room: string): Promise<void> {
    if (this.pending.has(room)) await this.writeNow(room)
    else await this.writing.get(room)
  }

  /** Writes every pending room now. */
  async flush(): Promise<void> {
    await Promise.all([...this.pending.keys()].map((room) => this.writeNow(room)))
    await Promise.all([...this.writing.values()])
  }

  get pendingCount(): number {
    return this.pending.size
  }

  private async writeNow(room: string): Promise<void> {
    const p = this.pending.get(room)
    if (!p) return
    clearTimeout(p.timer)
    this.pending.delete(room)
    const before = this.writing.get(room) ?? Promise.resolve()
    const run = before.then(() => this.write(room, p.read()))
    this.writing.set(room, run)
    await run
    if (this.writing.get(room) === run) this.writing.delete(room)
  }

  private async write(room: string, bytes: Uint8Array): Promise<void> {
    const file = this.file(room)
    const tmp = `${file}.${process.pid}.${++this.seq}.tmp`
    try {
      this.ready ??= mkdir(this.dir, { recursive: true }).then(() => undefined)
      await this.ready
      const fh = await open(tmp, 'w', 0o600)
      try {
        await fh.writeFile(bytes)
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, file)
      this.opts.onWrite?.(room, true, bytes.byteLength)
    } catch (err) {
      this.ready = null
      await rm(tmp, { force: true }).catch((cleanupErr: unknown) => this.opts.onWrite?.(room, false, 0, cleanupErr))
      this.opts.onWrite?.(room, false, bytes.byteLength, err)
    }
  }

  private file(room: string): string {
    if (!isDiscoveryHex(room)) throw new RangeError(`not a discovery key: ${JSON.stringify(room)}`)
    return join(this.dir, `${room}.yjs`)
  }
}
