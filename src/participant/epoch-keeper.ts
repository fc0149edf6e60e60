/**
 * EpochKeeper: one participant's side of the room's epochs (docs/room-rules.md §8).
 *
 * - Knows which secret the room uses now: the link's, one opened before, or
 *   the one in our box of the current epoch; says so with `epoch` whenever it
 *   changes (the session then moves signalling to the epoch's topic and key,
 *   and the relay path proves membership with it).
 * - Says `replaced` when the room moved on to an epoch we hold no box of and we
 *   are not banned: the link we came with was replaced (after `replacedGraceMs`,
 *   since a moderator may still be sealing to us).
 * - Announces our encryption key once the room exists, so the next rotation
 *   seals to us.
 * - For moderators: writes epoch 0 when the log has none, rotates when a
 *   banned key may hold the current secret, and seals to members who joined
 *   after the rotation. The moderator who wrote the newest ban acts at once;
 *   others wait a random moment and look again, so that several moderators
 *   online rarely rotate twice (if they do, the chain picks one: §8).
 * - Holds the secret of every epoch it can open (`secretOf`), for reading the
 *   room's sealed text (§9), and says `secrets` when it learns one. After a
 *   rotation it seals its own name again in the new epoch, and a moderator
 *   the title and topic, so members who join with the new link can read them
 *   (the banned member could read the old text anyway; it cannot read the new).
 */
import { TypedEmitter } from '../base/emitter.ts'
import { realTimers, type Timers } from '../base/timers.ts'
import { bytesEqual, randomBytes } from '../identity/index.ts'
import {
  decodeEntry, encryptionKey, epochFromHandoff, epochSecret, keyCheck, verifyEntry, type Entry, epochTopic, membershipKey, roleOf, RoomError, type EncryptionKey, type MembershipKey, type RoomActor,
  type RoomReplica, type RoomState, type Epoch,
} from '../room/index.ts'
import { openField, type SealingKey } from '../room/reveal.ts'
import { sealedEpoch } from '../room/sealed-text.ts'

/** What a member whose link was replaced is told (the CLI and the app say the same). */
export const REPLACED_MESSAGE = 'This link was replaced; ask a moderator for a new one.'

export interface EpochKeeperOptions {
  replica: RoomReplica
  actor: RoomActor
  /** The secret of the link we joined with ... */
  linkSecret: Uint8Array
  /** ... and its epoch (the link's `e=`; 0 when absent). */
  linkEpoch?: number
  /** Secrets opened in earlier sessions (stored by the app). */
  known?: readonly Uint8Array[]
  timers?: Timers
  now?: () => number
  random?: () => number
  /** How long a moderator who did not write the newest ban waits before rotating (max, ms). */
  dutyDelayMs?: number
  replacedGraceMs?: number
}

export interface CurrentEpoch {
  /** The epoch entry's id; null while the room has none (the link's secret). */
  id: string | null
  /** -1: the room has no epoch entry yet. */
  n: number
  secret: Uint8Array
  /** Signalling / hyperswarm topic: null means the room's discovery key (epochs 0 and -1). */
  topic: Uint8Array | null
  member: MembershipKey
}

export interface EpochKeeperEvents {
  epoch: (epoch: CurrentEpoch) => void
  /** We learned the secret of an epoch (sealed text of it may open now). */
  secrets: () => void
  replaced: () => void
  error: (err: Error) => void
}

export class EpochKeeper extends TypedEmitter<EpochKeeperEvents> {
  readonly #o: EpochKeeperOptions
  readonly #timers: Timers
  readonly #known: Uint8Array[]
  #enc: EncryptionKey | null = null
  #current: CurrentEpoch
  /** Epoch id -> its secret, for every epoch of the chain we can open. */
  readonly #byEpoch = new Map<string, Uint8Array>()
  /** Re-seals tried (entry id + epoch id), so one that cannot be written is not retried forever. */
  readonly #resealed = new Set<string>()
  #duty: unknown = null
  #replacedTimer: unknown = null
  #announced = false
  #busy = false
  #again = false
  #destroyed = false
  readonly #off: () => void

  constructor(opts: EpochKeeperOptions) {
    super()
    this.#o = opts
    this.#timers = opts.timers ?? realTimers
    this.#known = [opts.linkSecret, ...(opts.known ?? [])]
    const n = opts.linkEpoch ?? 0
    this.#current = { id: null, n: n > 0 ? n : -1, secret: opts.linkSecret, topic: n > 0 ? epochTopic(opts.linkSecret) : null, member: membershipKey(opts.linkSecret) }
    this.#off = opts.replica.on('change', () => void this.#check())
    void this.#check()
  }

  /** The log it follows (the mesh's handoff responder answers from it). */
  get replica(): RoomReplica {
    return this.#o.replica
  }

  /** The epoch in use (the link's until the log says otherwise). */
  get current(): CurrentEpoch {
    return this.#current
  }

  /**
   * A relay's handoff (we proved an older epoch): the epoch it shows, checked against our own
   * log, and our box in it. True when it gave us the current secret (we then move to it).
   */
  async handoff(bytes: readonly Uint8Array[]): Promise<boolean> {
    const s = this.#o.replica.state
    if (this.#destroyed || !s.exists) return false
    const entries: Entry[] = []
    for (const b of bytes) {
      const e = decodeEntry(b)
      if (e && e.roomId === s.roomId && (await verifyEntry(e))) entries.push(e)
    }
    const epoch = epochFromHandoff(this.#o.replica.index.byId.values(), entries, s.roomId, (this.#o.now ?? Date.now)())
    this.#enc ??= await encryptionKey(this.#o.actor.identity, s.roomId)
    if (!epoch || epoch.id === this.#current.id || epoch.n <= this.#current.n) return false
    const secret = epochSecret(epoch, s.roomId, this.#o.actor.identity.publicKey, this.#enc, this.#known)
    if (!secret) {
      if (roleOf(s, this.#o.actor.key) !== 'banned' && this.#superseded(entries.flatMap((e) => (e.kind === 'epoch' && e.n < epoch.n ? [e.check] : [])), s.roomId)) this.emit('replaced')
      return false
    }
    this.#adopt(epoch.id, epoch.n, secret)
    return true
  }

  /** Every secret we hold, newest last (for the app to store). */
  get secrets(): readonly Uint8Array[] {
    return this.#known
  }

  /**
   * The secret of epoch `n`, when we hold it (to open sealed text, §9). A room without epoch
   * entries is in epoch 0 with the link's secret; a link newer than the log we have is its own epoch's.
   */
  secretOf(n: number): Uint8Array | null {
    const epoch = this.#o.replica.state.epochs.chain.find((e) => e.n === n)
    if (epoch) return this.#byEpoch.get(epoch.id) ?? null
    return Math.max(this.#current.n, 0) === n ? this.#current.secret : null
  }

  /**
   * The epoch to seal new text in: the room's current one (our box opened now if we have not
   * yet), or our link's when the log we have is older. Null while the room is in an epoch we
   * hold no secret of: text sealed in an older one would be readable by whom the rotation excluded.
   */
  async sealingKey(): Promise<SealingKey | null> {
    const s = this.#o.replica.state
    const cur = s.epochs.current
    const ours = { n: Math.max(this.#current.n, 0), secret: this.#current.secret }
    if (!cur || ours.n > cur.n) return ours
    if (!s.exists) return null
    this.#enc ??= await encryptionKey(this.#o.actor.identity, s.roomId)
    const secret = this.#open(cur, s.roomId)
    return secret ? { n: cur.n, secret } : null
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#off()
    this.#timers.clearTimeout(this.#duty)
    this.#timers.clearTimeout(this.#replacedTimer)
    this.removeAllListeners()
  }

  async #check(): Promise<void> {
    if (this.#destroyed) return
    if (this.#busy) {
      this.#again = true
      return
    }
    const s = this.#o.replica.state
    if (!s.exists) return
    this.#busy = true
    this.#again = false
    try {
      this.#enc ??= await encryptionKey(this.#o.actor.identity, s.roomId)
      this.#openChain(s)
      this.#follow(s)
      await this.#announce(s)
      this.#planDuties(s)
      await this.#resealName(s)
    } catch (err) {
      // A lost race (our authority revoked meanwhile) is not ours to report loudly.
      if (!(err instanceof RoomError)) this.emit('error', err as Error)
    } finally {
      this.#busy = false
    }
    if (this.#again) void this.#check()
  }

  /** Moves to the current epoch's secret when we hold it; otherwise, after a grace, `replaced`. */
  #follow(s: RoomState): void {
    const cur = s.epochs.current
    if (!cur || cur.id === this.#current.id) return
    // A handoff's epoch our log does not hold yet: the log is behind, not the room (one it holds that no longer counts was voided).
    if (this.#current.id !== null && cur.n < this.#current.n && !this.#o.replica.get(this.#current.id)) return
    const secret = epochSecret(cur, s.roomId, this.#o.actor.identity.publicKey, this.#enc!, this.#known)
    if (!secret) {
      // Only a secret we can place in an older epoch was replaced; one the log does not know yet
      // is from an epoch still on its way to us (a new link, a log still syncing).
      if (this.#superseded(s.epochs.chain.slice(0, -1).map((e) => e.check), s.roomId) && roleOf(s, this.#o.actor.key) !== 'banned' && this.#replacedTimer === null) {
        this.#replacedTimer = this.#timers.setTimeout(() => {
          this.#replacedTimer = null
          if (!this.#destroyed && this.#o.replica.state.epochs.current?.id === cur.id) this.emit('replaced')
          else void this.#check()
        }, this.#o.replacedGraceMs ?? 5_000)
      }
      return
    }
    this.#adopt(cur.id, cur.n, secret)
  }

  /** The secret of `epoch` (known, or our box); remembered by epoch id. Needs `#enc`. */
  #open(epoch: Epoch, roomId: string): Uint8Array | null {
    const held = this.#byEpoch.get(epoch.id)
    if (held) return held
    const secret = epochSecret(epoch, roomId, this.#o.actor.identity.publicKey, this.#enc!, this.#known)
    if (!secret) return null
    this.#byEpoch.set(epoch.id, secret)
    if (!this.#known.some((k) => bytesEqual(k, secret))) this.#known.push(secret)
    this.emit('secrets')
    return secret
  }

  /** Opens every epoch of the chain we can: text written in any of them is then readable. */
  #openChain(s: RoomState): void {
    for (const epoch of s.epochs.chain) this.#open(epoch, s.roomId)
  }

  /** Whether text sealed in `sealed` is in an older epoch than ours and we can read it (to seal it again). */
  #stale(sealed: Uint8Array | undefined, author: string, field: 'name' | 'title', s: RoomState): boolean {
    if (!sealed || this.#current.id === null || this.#current.id !== s.epochs.current?.id) return false
    if ((sealedEpoch(sealed) ?? this.#current.n) >= this.#current.n) return false
    return openField(sealed, { roomId: s.roomId, author, field }, (n) => this.secretOf(n)) !== null
  }

  /** Once per epoch: our name, sealed in an older epoch, is sealed again in the current one. */
  async #resealName(s: RoomState): Promise<void> {
    const me = s.profiles.get(this.#o.actor.key)
    if (!me || roleOf(s, this.#o.actor.key) === 'banned' || s.ended || !this.#stale(me.nameSealed, this.#o.actor.key, 'name', s)) return
    if (this.#once(`${me.id} ${this.#current.id}`)) await this.#o.actor.setProfile({})
  }

  #metaStale(s: RoomState): boolean {
    return s.meta !== null && !this.#resealed.has(`${s.meta.id} ${this.#current.id}`) && this.#stale(s.meta.title, s.meta.author, 'title', s)
  }

  #once(key: string): boolean {
    if (this.#resealed.has(key)) return false
    this.#resealed.add(key)
    return true
  }

  #adopt(id: string, n: number, secret: Uint8Array): void {
    if (!this.#known.some((k) => bytesEqual(k, secret))) this.#known.push(secret)
    this.#current = { id, n, secret, topic: n === 0 ? null : epochTopic(secret), member: membershipKey(secret) }
    this.emit('epoch', this.#current)
  }

  /** Whether a secret we hold is one of these older epochs' (their key checks): our link was replaced. */
  #superseded(olderChecks: readonly Uint8Array[], roomId: string): boolean {
    const ours = this.#known.map((k) => keyCheck(roomId, k))
    return olderChecks.some((c) => ours.some((o) => bytesEqual(o, c)))
  }

  async #announce(s: RoomState): Promise<void> {
    if (this.#announced || roleOf(s, this.#o.actor.key) === 'banned' || s.ended) return
    const mine = s.epochs.encKeys.get(this.#o.actor.key)
    if (!mine || !bytesEqual(mine, this.#enc!.publicKey)) await this.#o.actor.announceKey()
    this.#announced = true
  }

  #planDuties(s: RoomState): void {
    const role = roleOf(s, this.#o.actor.key)
    if ((role !== 'owner' && role !== 'moderator') || s.ended || this.#duty !== null) return
    const due = s.epochs.chain.length === 0 || s.epochs.rotationDue || (s.epochs.unsealed.length > 0 && this.#current.n > 0) || this.#metaStale(s)
    if (!due) return
    const delay = this.#wroteNewestBan(s) ? 0 : (this.#o.random ?? Math.random)() * (this.#o.dutyDelayMs ?? 3_000)
    this.#duty = this.#timers.setTimeout(() => {
      this.#duty = null
      void this.#doDuties()
    }, delay)
  }

  async #doDuties(): Promise<void> {
    if (this.#destroyed) return
    const actor = this.#o.actor
    const s = this.#o.replica.state
    try {
      if (s.epochs.rotationDue) await actor.rotate(randomBytes(32), this.#current.secret)
      else if (s.epochs.chain.length === 0) await actor.startEpochs(this.#current.secret)
      else if (s.epochs.unsealed.length > 0) await actor.sealMissing(this.#current.secret)
      else if (this.#metaStale(s) && this.#once(`${s.meta!.id} ${this.#current.id}`)) await actor.setTitle()
    } catch (err) {
      if (!(err instanceof RoomError)) this.emit('error', err as Error)
    }
    void this.#check()
  }

  #wroteNewestBan(s: RoomState): boolean {
    let newest: { time: number; author: string } | null = null
    for (const ids of s.banned.values()) {
      for (const id of ids) {
        const e = this.#o.replica.get(id)
        if (e && (!newest || e.time > newest.time)) newest = e
      }
    }
    return newest?.author === this.#o.actor.key
  }
}
