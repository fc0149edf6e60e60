/**
 * What this device remembers outside room docs: its profile (display name,
 * preferred microphone) and the rooms it has been in (last known title,
 * speakers and whether the room ended, plus the link to get back in).
 *
 * A recent room also remembers the room secret that is known to work (it
 * created the room with it, or a peer answered with it), so a link is only
 * listed, or replaces the working link of a known room, once its key proved itself.
 */
import type { RecentRoom } from './types.ts'
import type { KvDb } from './kv.ts'

export interface StoredRoom extends RecentRoom {
  /** The room secret (base64url) that opened this room at least once. */
  verifiedSecret?: string
}

export interface DeviceProfile {
  id: string
  name: string
  microphoneId?: string
  /** ICE servers from the settings (stun:/turn: URLs); none: the relay's own STUN. */
  iceServers?: string[]
  /** Relays from the settings (`/relay` WebSocket URLs), used after the one that served the page. */
  relays?: string[]
}

export class RecentRooms {
  #queue: Promise<void> = Promise.resolve()

  constructor(readonly db: KvDb) {}

  async list(): Promise<RecentRoom[]> {
    const rooms = await this.db.all<StoredRoom>('rooms')
    return rooms.map((r) => ({
      roomId: r.roomId,
      title: r.title,
      topic: r.topic,
      link: r.link,
      lastSeen: r.lastSeen,
      speakers: r.speakers,
      ended: r.ended,
    }))
  }

  get(roomId: string): Promise<StoredRoom | undefined> {
    return this.db.get<StoredRoom>('rooms', roomId)
  }

  /** Merges `patch` into the stored entry (creating it). Updates run one at a time (read-modify-write). */
  update(roomId: string, patch: Partial<StoredRoom>): Promise<void> {
    const run = this.#queue.then(() => this.#merge(roomId, patch))
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #merge(roomId: string, patch: Partial<StoredRoom>): Promise<void> {
    const cur = await this.get(roomId)
    const next: StoredRoom = {
      roomId,
      title: '',
      topic: '',
      link: '',
      lastSeen: 0,
      speakers: [],
      ended: false,
      ...cur,
      ...patch,
    }
    await this.db.put('rooms', roomId, next)
  }

  forget(roomId: string): Promise<void> {
    return this.db.delete('rooms', roomId)
  }
}

export class ProfileStore {
  constructor(
    readonly db: KvDb,
    readonly id: () => Promise<string>,
  ) {}

  async get(): Promise<DeviceProfile> {
    const [id, stored] = await Promise.all([this.id(), this.db.get<Omit<DeviceProfile, 'id'>>('kv', 'profile')])
    return { name: '', ...stored, id }
  }

  async set(patch: Partial<Omit<DeviceProfile, 'id'>>): Promise<DeviceProfile> {
    const cur = await this.get()
    const next = {
      name: patch.name ?? cur.name,
      microphoneId: 'microphoneId' in patch ? patch.microphoneId : cur.microphoneId,
      iceServers: 'iceServers' in patch ? patch.iceServers : cur.iceServers,
      relays: 'relays' in patch ? patch.relays : cur.relays,
    }
    await this.db.put('kv', 'profile', next)
    return { ...next, id: cur.id }
  }
}
