/**
 * What this device remembers of a room it is in: its entry in the recent-rooms list
 * (title, topic, who is on stage, whether it ended) and the link to get back in.
 *
 * Invariants:
 * - A room is listed (and its link kept) only once its key has proved itself: this device
 *   knew the room before, or a peer connected over a topic sealed with the link's key. So
 *   a mistyped link neither adds a room nor replaces the working link of a known one.
 * - The kept link moves with the room's epochs: the same room with the current epoch's
 *   secret and no pass (the pass was redeemed).
 * - Writes happen only when what the entry shows changed.
 */
import type { Invite } from '../invite/index.ts'
import type { RoomClient } from '../participant/room-client.ts'
import type { RecentRooms } from './local-stores.ts'
import { roomLink } from './room-links.ts'

export interface RoomMemoryOptions {
  client: RoomClient
  recent: RecentRooms
  invite: Invite
  origin: string
  /** The link the room was opened with. */
  link: string
  secretVerified: boolean
  /** This device had the room in its recent-rooms list before. */
  knownRoom: boolean
  fingerprintOf: (id: string) => string
  now: () => number
  /** Counts a failed write (the list is a convenience; the room goes on). */
  count: (what: string) => void
}

export class RoomMemory {
  readonly #o: RoomMemoryOptions
  #link: string
  #secretVerified: boolean
  #key = ''

  constructor(opts: RoomMemoryOptions) {
    this.#o = opts
    this.#link = opts.link
    this.#secretVerified = opts.secretVerified
  }

  /** A peer answered on the topic sealed with the link's key: the key works. */
  verifySecret(): void {
    if (this.#secretVerified) return
    this.#secretVerified = true
    const { invite, recent } = this.#o
    recent.update(invite.roomId, { verifiedSecret: invite.secret }).catch(() => this.#o.count('recent-store'))
    this.save()
  }

  /** The room moved to epoch `n`: keep its link with that epoch's secret. */
  onEpoch(secret: Uint8Array, n: number): void {
    this.#link = roomLink(this.#o.invite, this.#o.origin, secret, n)
    this.#key = ''
    this.save()
  }

  /** Updates the entry if what it shows changed (failures are counted). */
  save(): void {
    this.#write(false).catch(() => this.#o.count('recent-store'))
  }

  /** The last write, made when leaving (with a fresh `lastSeen` even when nothing else changed). */
  final(): Promise<void> {
    return this.#write(true)
  }

  async #write(force: boolean): Promise<void> {
    const s = this.#o.client.state
    if (!s.exists || !(this.#secretVerified || this.#o.knownRoom)) return
    const speakers = s.stage.map((seat) => s.profiles.get(seat.key)?.name || `Guest ${this.#o.fingerprintOf(seat.key).slice(0, 4)}`)
    const entry = { title: s.title, topic: s.topic, speakers, ended: s.ended, ...(this.#secretVerified ? { link: this.#link } : {}) }
    const key = JSON.stringify(entry)
    if (key === this.#key && !force) return
    this.#key = key
    await this.#o.recent.update(s.roomId, { ...entry, lastSeen: this.#o.now() })
  }
}
