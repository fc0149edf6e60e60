/**
 * In-order reading of one link's sync messages around an async gate, kept apart
 * from attachSync (sync.ts): while the gate decides on one message, the later ones
 * wait here, bounded in bytes (BACKLOG_MESSAGES_FACTOR whole messages; past that
 * they are dropped as 'overloaded' and asked for again once the backlog is read).
 */
import { decodeSyncMessage, type SyncStats } from './sync-protocol.ts'
import { readSyncMessage, type ReadResult, type SyncContext } from './sync-read.ts'

/** While an async gate decides, a link may queue this many times `maxMessageBytes` more. */
export const BACKLOG_MESSAGES_FACTOR = 4

/**
 * Reads messages in order: one whose gate answers later holds the next ones back until it has.
 * A remote sends a large step 2 all at once, more than the backlog holds: what overflowed is
 * asked for again with a step 1 once the backlog is read (the answer is what this doc still lacks).
 */
export function orderedReader(ctx: SyncContext, maxBytes: number, stats: SyncStats, finish: (r: ReadResult) => void, detached: () => boolean, resync: () => void): Backlog {
  const read = (bytes: Uint8Array): void => {
    const decoded = decodeSyncMessage(bytes, maxBytes)
    if (!decoded.ok) {
      stats.rejected[decoded.reason]++
      return
    }
    const result = readSyncMessage(decoded.message, ctx)
    // Once detached, a late verdict only counts: no reply, no onSynced.
    if (result instanceof Promise) backlog.wait(result.then((r) => (detached() ? undefined : finish(r))))
    else finish(result)
  }
  let lost = false
  const overflow = (): void => {
    stats.rejected.overloaded++
    lost = true
  }
  const idle = (): void => {
    if (!lost || detached()) return
    lost = false
    resync()
  }
  const backlog = new Backlog(read, maxBytes * BACKLOG_MESSAGES_FACTOR, overflow, idle)
  return backlog
}

/** In-order reading around async gates: while one decides, later messages wait here (bounded in bytes). */
class Backlog {
  #queue: Uint8Array[] = []
  #bytes = 0
  #waiting = false
  #cleared = false

  constructor(
    private readonly read: (bytes: Uint8Array) => void,
    private readonly maxBytes: number,
    private readonly overflow: () => void,
    /** Everything queued has been read. */
    private readonly idle: () => void,
  ) {}

  push(bytes: Uint8Array): void {
    if (!this.#waiting) return this.read(bytes)
    if (this.#bytes + bytes.byteLength > this.maxBytes) return this.overflow()
    this.#queue.push(bytes)
    this.#bytes += bytes.byteLength
  }

  /** Holds every later message until `pending` settles (it never rejects). */
  wait(pending: Promise<void>): void {
    this.#waiting = true
    void pending.then(() => this.#drain())
  }

  clear(): void {
    this.#cleared = true
    this.#queue = []
    this.#bytes = 0
  }

  #drain(): void {
    this.#waiting = false
    while (!this.#waiting && !this.#cleared && this.#queue.length > 0) {
      const next = this.#queue.shift()!
      this.#bytes -= next.byteLength
      this.read(next)
    }
    if (!this.#waiting && !this.#cleared) this.idle()
  }
}
