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
 * - Quota: the stored docs take at most `quotaBytes` together. A write that
 *   would pass it first deletes the docs of rooms not in use, least recently
 *   used first; if that is not enough it is refused ('quota': the doc stays in
 *   memory, and the write is tried again at the room's next change).
 * - Expiry: the doc of a room not used (loaded or written) for `expireMs` is
 *   deleted, at start and then every EXPIRY_SWEEP_MS. Use is the file's mtime,
 *   touched when a room loads, so it survives restarts.
 */
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { isDiscoveryHex } from '../../src/net/relay-protocol.ts'

/** How often stored rooms are checked for expiry (at most; shorter when `expireMs` is). */
export const EXPIRY_SWEEP_MS = 60 * 60 * 1000

export type WriteResult = 'ok' | 'error' | 'quota'

export interface RoomStoreOptions {
  dir: string
  debounceMs?: number
  maxDelayMs?: number
  /** Bytes all stored docs may take together. Default: no limit. */
  quotaBytes?: number
  /** Delete a stored room unused this long. Default (or Infinity): never. */
  expireMs?: number
  /** Rooms loaded now: never deleted by quota or expiry. */
  inUse?: (room: string) => boolean
  now?: () => number
  /** Called after each write attempt (metrics, logs). */
  onWrite?: (room: string, result: WriteResult, bytes: number, err?: unknown) => void
  /** A stored room was deleted (expired, or to make room under the quota). */
  onEvict?: (room: string, reason: 'expired' | 'quota', bytes: number) => void
}

interface Stored {
  bytes: number
  usedAt: number
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
  /** What is on disk, once scanned. */
  private stored: Promise<Map<string, Stored>> | null = null
  private scanned: Map<string, Stored> | null = null
  private sweeper: NodeJS.Timeout | null = null
  private readonly now: () => number

  constructor(private readonly opts: RoomStoreOptions) {
    this.dir = opts.dir
    this.debounceMs = opts.debounceMs ?? 1000
    this.maxDelayMs = opts.maxDelayMs ?? 5000
    this.now = opts.now ?? Date.now
  }

  /** Scans the folder, deletes expired rooms, and keeps doing so. Idempotent. */
  start(): Promise<void> {
    if (this.opts.expireMs !== undefined && Number.isFinite(this.opts.expireMs) && !this.sweeper) {
      this.sweeper = setInterval(() => void this.expire(), Math.min(EXPIRY_SWEEP_MS, this.opts.expireMs))
      this.sweeper.unref()
    }
    return this.expire()
  }

  /** Stops the expiry sweeps. */
  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper)
    this.sweeper = null
  }

  /** What is stored now; null until the folder has been scanned. */
  usage(): { rooms: number; bytes: number } | null {
    if (!this.scanned) return null
    let bytes = 0
    for (const s of this.scanned.values()) bytes += s.bytes
    return { rooms: this.scanned.size, bytes }
  }

  /** The stored doc of `room`, or null when there is none. Throws on I/O errors other than "missing". */
  async load(room: string): Promise<Uint8Array | null> {
    const file = this.file(room)
    try {
      const bytes = new Uint8Array(await readFile(file))
      await this.touch(room, file)
      return bytes
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  }

  /** Deletes the stored rooms unused for `expireMs` (not those in use). */
  async expire(): Promise<void> {
    const stored = await this.scan()
    const max = this.opts.expireMs
    if (max === undefined) return
    const before = this.now() - max
    for (const [room, s] of [...stored]) if (s.usedAt < before && !this.opts.inUse?.(room) && !this.pending.has(room)) await this.evict(room, 'expired')
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
    if (!(await this.makeRoom(room, bytes.byteLength))) return this.opts.onWrite?.(room, 'quota', bytes.byteLength)
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
      ;(await this.scan()).set(room, { bytes: bytes.byteLength, usedAt: this.now() })
      this.opts.onWrite?.(room, 'ok', bytes.byteLength)
    } catch (err) {
      this.ready = null
      await rm(tmp, { force: true }).catch((cleanupErr: unknown) => this.opts.onWrite?.(room, 'error', 0, cleanupErr))
      this.opts.onWrite?.(room, 'error', bytes.byteLength, err)
    }
  }

  /** Whether `bytes` for `room` fit the quota, once rooms not in use are deleted, least recently used first. */
  private async makeRoom(room: string, bytes: number): Promise<boolean> {
    const quota = this.opts.quotaBytes
    if (quota === undefined) return true
    const stored = await this.scan()
    let total = bytes
    for (const [r, s] of stored) if (r !== room) total += s.bytes
    if (total <= quota) return true
    const victims = [...stored].filter(([r]) => r !== room && !this.opts.inUse?.(r) && !this.pending.has(r)).sort((a, b) => a[1].usedAt - b[1].usedAt)
    // Deleting every candidate would not be enough: delete nothing.
    if (total - victims.reduce((n, [, s]) => n + s.bytes, 0) > quota) return false
    for (const [victim, s] of victims) {
      if (total <= quota) break
      total -= s.bytes
      await this.evict(victim, 'quota')
    }
    return total <= quota
  }

  private async evict(room: string, reason: 'expired' | 'quota'): Promise<void> {
    const stored = await this.scan()
    const bytes = stored.get(room)?.bytes ?? 0
    stored.delete(room)
    await rm(this.file(room), { force: true })
    this.opts.onEvict?.(room, reason, bytes)
  }

  private async touch(room: string, file: string): Promise<void> {
    const at = this.now()
    const s = (await this.scan()).get(room)
    if (s) s.usedAt = at
    await utimes(file, at / 1000, at / 1000).catch(() => undefined)
  }

  /** What is stored, read once from the folder (sizes and mtimes). */
  private scan(): Promise<Map<string, Stored>> {
    this.stored ??= readdir(this.dir)
      .catch(() => [] as string[])
      .then(async (names) => {
        const found = new Map<string, Stored>()
        for (const name of names) {
          const room = name.endsWith('.yjs') ? name.slice(0, -4) : ''
          if (!isDiscoveryHex(room)) continue
          const st = await stat(join(this.dir, name)).catch(() => null)
          if (st) found.set(room, { bytes: st.size, usedAt: st.mtimeMs })
        }
        this.scanned = found
        return found
      })
    return this.stored
  }

  private file(room: string): string {
    if (!isDiscoveryHex(room)) throw new RangeError(`not a discovery key: ${JSON.stringify(room)}`)
    return join(this.dir, `${room}.yjs`)
  }
}
