/**
 * Binary frames of welcomed /relay connections: the room's Yjs sync. A
 * connection's sync is attached at its first binary frame (the client's step
 * 1), so a client that attaches late loses nothing and one that never syncs
 * costs the relay nothing.
 */
import { createSyncStats, SYNC_REJECT_REASONS } from '../../src/net/sync.ts'
import type { Metrics } from '../metrics.ts'
import { ServerLink, type Conn } from './conn.ts'
import type { RelayRoom } from './room.ts'

export class SyncFrames {
  /** Shared by the sync of every room (RelayRoomOptions.syncStats). */
  readonly stats = createSyncStats()
  /** Rejections already mirrored into the metrics registry. */
  readonly #seen = createSyncStats().rejected
  readonly #metrics: Metrics
  readonly #send: (conn: Conn, data: Uint8Array) => void

  constructor(metrics: Metrics, send: (conn: Conn, data: Uint8Array) => void) {
    this.#metrics = metrics
    this.#send = send
  }

  receive(conn: Conn, room: RelayRoom, data: Buffer): void {
    if (!conn.link) {
      const link = new ServerLink((bytes) => this.#send(conn, bytes))
      // A banned key gets no sync (nor presence): the room cuts it off instead.
      if (!room.attachSync(conn, link)) return link.close()
      conn.link = link
    }
    // A copy: Yjs keeps views of what it decodes, which must not pin the socket's buffers.
    conn.link.receive(new Uint8Array(data))
    this.collect()
  }

  /** Mirrors the shared sync rejection counters into the registry. */
  collect(): void {
    for (const r of SYNC_REJECT_REASONS) {
      const d = this.stats.rejected[r] - this.#seen[r]
      if (d > 0) {
        this.#seen[r] = this.stats.rejected[r]
        this.#metrics.counter('stoop_relay_rejected_total', { reason: `sync:${r}` }).inc(d)
      }
    }
  }
}
