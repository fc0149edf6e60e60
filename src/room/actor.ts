/**
 * The actor API: every room action for one identity, as signed entries
 * appended to the log. Misuse that could never produce a valid entry throws a
 * `RoomError` with a stable code up front; a valid-looking action can still
 * lose a race (e.g. the author's moderator grant is revoked concurrently), in
 * which case every replica ignores it the same way.
 *
 * Each action waits for the replica to settle first (so checks see every
 * entry already in the doc) and again after writing (so `replica.state`
 * reflects the action when the promise resolves). Multi-entry actions (accept
 * + lower hand) are one Yjs transaction, hence one update on the wire.
 *
 * Free text (title, topic, display name) is sealed under the newest epoch's
 * secret the actor is given (`texts`, docs/room-rules.md §9) before it is signed:
 * the log, and so every relay that stores it, holds no plain text (actor-text.ts).
 * The epoch actions live in actor-epochs.ts, chat and moderation in
 * actor-moderation.ts; creating a room in create-room.ts.
 */
import { keyId, randomBytes, verifySignature, type Identity } from '../identity/index.ts'
import { MAX_PREV, signEntry, type Entry, type EntryBody } from './entry.ts'
import { RoomError } from './errors.ts'
import { createLinkGrant, decodeLinkGrant, signRedeemProof, HOLDER_SEED_BYTES, type LinkPass, type LinkRole } from './link-grant.ts'
import type { RoomReplica } from './replica.ts'
import { byTimeThenId, roleOf, type Role, type RoomState } from './state.ts'
import { blobId } from './codec.ts'
import type { TextKeys } from './reveal.ts'
import { EntryTextWriter } from './actor-text.ts'
import * as epochs from './actor-epochs.ts'
import * as moderation from './actor-moderation.ts'

export interface LinkGrantOptions {
  role: LinkRole
  /** Absolute expiry (ms). */
  expiresAt?: number
  /** Default true. */
  singleUse?: boolean
}

const err = (code: ConstructorParameters<typeof RoomError>[0], message: string) => new RoomError(code, message)

export class RoomActor {
  readonly replica: RoomReplica
  readonly identity: Identity
  readonly key: string
  private readonly now: () => number
  /** The epoch secrets free text is sealed with (§9); without them no text can be written. */
  private readonly texts: TextKeys | null
  private readonly text: EntryTextWriter

  constructor(replica: RoomReplica, identity: Identity, opts: { now?: () => number; texts?: TextKeys } = {}) {
    this.replica = replica
    this.identity = identity
    this.key = keyId(identity.publicKey)
    this.now = opts.now ?? Date.now
    this.texts = opts.texts ?? null
    this.text = new EntryTextWriter(this.texts, replica.roomId, this.key)
  }

  get state(): RoomState {
    return this.replica.state
  }

  get role(): Role {
    return roleOf(this.replica.state, this.key)
  }

  // ---- self ------------------------------------------------------------------

  async raiseHand(): Promise<string> {
    const s = await this.live()
    if (s.seatOf.has(this.key)) throw err('already-on-stage', 'You are already on stage')
    if (s.openRaises.has(this.key)) throw err('hand-already-raised', 'Your hand is already raised')
    return (await this.write([{ kind: 'raise', nonce: randomBytes(16) }]))[0]!
  }

  async lowerHand(): Promise<string[]> {
    const s = await this.member()
    const open = s.openRaises.get(this.key)
    if (!open) throw err('hand-not-raised', 'Your hand is not raised')
    return this.write(open.map((raise) => ({ kind: 'lower', raise })))
  }

  /** Accepts a pending invite (the given one, or the earliest) and lowers the hand in the same transaction. */
  async acceptInvite(inviteId?: string): Promise<string> {
    const s = await this.live()
    const inv = this.pendingInvite(s, inviteId)
    const bodies: EntryBody[] = [{ kind: 'accept', invite: inv.id }]
    for (const raise of s.openRaises.get(this.key) ?? []) bodies.push({ kind: 'lower', raise })
    return (await this.write(bodies))[0]!
  }

  async declineInvite(inviteId?: string): Promise<string> {
    const s = await this.member()
    const inv = this.pendingInvite(s, inviteId)
    return (await this.write([{ kind: 'decline', invite: inv.id }]))[0]!
  }

  async leaveStage(): Promise<string[]> {
    const s = await this.member()
    const seats = s.liveSeats.get(this.key)
    if (!seats) throw err('not-on-stage', 'You are not on stage')
    return this.write(seats.map((seat) => ({ kind: 'leave', seat })))
  }

  /** Writes a new profile; omitted fields keep their current values (a kept name is sealed again in the newest epoch, §9). */
  async setProfile(p: { name?: string; muted?: boolean }): Promise<string> {
    const s = await this.member()
    const cur = s.profiles.get(this.key)
    const name = p.name !== undefined ? await this.text.seal('name', p.name) : await this.text.keep('name', cur?.nameSealed, cur?.name ?? '', this.key)
    const body: EntryBody = { kind: 'profile', seq: (cur?.seq ?? 0) + 1, name, muted: p.muted ?? cur?.muted ?? false }
    return (await this.write([body]))[0]!
  }

  /** Redeems a link pass (from an invite link). A speaker grant puts us on stage directly. */
  async redeemLinkGrant(pass: LinkPass): Promise<string> {
    const s = await this.member()
    const link = decodeLinkGrant(pass.grant)
    if (!link || pass.holderSeed.length !== HOLDER_SEED_BYTES) throw err('bad-grant', 'The invite grant is damaged or not a Stoop grant')
    if (link.roomId !== s.roomId) throw err('bad-grant', 'The invite grant is for a different room')
    if (!(await verifySignature(link.issuerKey, link.signed, link.sig))) throw err('bad-grant', 'The invite grant signature does not verify')
    const t = this.now()
    if (link.expiresAt !== undefined && t > link.expiresAt) throw err('expired', 'The invite grant has expired')
    if (s.ended) throw err('room-ended', 'The room has ended')
    let proof: Uint8Array
    try {
      proof = await signRedeemProof(pass, s.roomId, this.identity.publicKey)
    } catch (cause) {
      throw new RoomError('bad-grant', 'The invite grant does not match its holder key', { cause })
    }
    const bodies: EntryBody[] = [{ kind: 'redeem', grant: pass.grant, proof }]
    if (link.role === 'speaker') for (const raise of s.openRaises.get(this.key) ?? []) bodies.push({ kind: 'lower', raise })
    return (await this.write(bodies, t))[0]!
  }

  // ---- moderation --------------------------------------------------------------

  async inviteToStage(subject: string): Promise<string> {
    const s = await this.live()
    const auth = this.authority(s)
    if (s.banned.has(subject)) throw err('banned', 'That person is banned')
    if (s.seatOf.has(subject)) throw err('already-on-stage', 'That person is already on stage')
    return (await this.write([{ kind: 'invite', auth, subject }]))[0]!
  }

  async moveToAudience(subject: string): Promise<string[]> {
    const s = await this.member()
    const auth = this.authority(s)
    if (subject === s.owner && this.key !== s.owner) throw err('cannot-target-owner', 'Moderators cannot move the owner')
    const seats = s.liveSeats.get(subject)
    if (!seats) throw err('not-on-stage', 'That person is not on stage')
    return this.write(seats.map((seat) => ({ kind: 'move', auth, seat })))
  }

  async ban(subject: string): Promise<string> {
    const s = await this.member()
    const auth = this.authority(s)
    if (subject === s.owner) throw err('cannot-target-owner', 'The owner cannot be banned')
    if (subject === this.key) throw err('bad-argument', 'You cannot ban yourself')
    if (this.key !== s.owner && s.moderators.has(subject)) throw err('cannot-target-moderator', 'Moderators cannot ban moderators')
    return (await this.write([{ kind: 'ban', auth, subject }]))[0]!
  }

  /** Lifts every ban on `subject` that this actor may lift. */
  async unban(subject: string): Promise<string[]> {
    const s = await this.member()
    const auth = this.authority(s)
    const bans = s.banned.get(subject)
    if (!bans) throw err('unknown-target', 'That person is not banned')
    // An owner's ban (§10: any owner's, under the genesis or a transfer) is lifted by the owner only.
    const byOwner = (id: string): boolean => {
      const b = this.replica.get(id)
      return b?.kind === 'ban' && (b.auth === s.genesisId || this.replica.get(b.auth)?.kind === 'transfer')
    }
    const liftable = bans.filter((id) => this.key === s.owner || !byOwner(id))
    if (liftable.length < bans.length) throw err('not-owner', 'Only the owner can lift a ban the owner set')
    return this.write(liftable.map((target) => ({ kind: 'unban', auth, target })))
  }

  /** Sets the title (and topic); an omitted one keeps its current text, sealed again in the newest epoch (§9). */
  async setTitle(title?: string, topic?: string): Promise<string> {
    const s = await this.member()
    const auth = this.authority(s)
    const keep = (field: 'title' | 'topic', text: string | undefined) =>
      text !== undefined ? this.text.seal(field, text) : this.text.keep(field, s.meta?.[field], s[field], s.meta?.author ?? '')
    return (await this.write([{ kind: 'meta', auth, title: await keep('title', title), topic: await keep('topic', topic) }]))[0]!
  }

  /** Revokes one entry by id: a moderator grant or link grant (owner), an invite or speaker link grant (owner or its issuer's authority). */
  async revoke(target: string): Promise<string> {
    const s = await this.member()
    const auth = this.authority(s)
    return (await this.write([{ kind: 'revoke', auth, target }]))[0]!
  }

  // ---- owner -------------------------------------------------------------------

  async grantModerator(subject: string): Promise<string> {
    const s = await this.live()
    this.requireOwner(s)
    if (subject === s.owner) throw err('bad-argument', 'The owner is already in charge')
    if (s.banned.has(subject)) throw err('banned', 'That person is banned')
    return (await this.write([{ kind: 'grant', auth: s.ownerAuth!, role: 'moderator', subject }]))[0]!
  }

  /** Revokes every live moderator authority of `subject` (this also voids everything issued under them). */
  async revokeModerator(subject: string): Promise<string[]> {
    const s = await this.member()
    this.requireOwner(s)
    const targets = [...s.authorities].filter(([, k]) => k === subject && k !== s.owner).map(([id]) => id)
    if (targets.length === 0) throw err('unknown-target', 'That person is not a moderator')
    return this.write(targets.map((target) => ({ kind: 'revoke', auth: s.ownerAuth!, target })))
  }

  async endRoom(): Promise<string> {
    const s = await this.live()
    this.requireOwner(s)
    return (await this.write([{ kind: 'end', auth: s.ownerAuth! }]))[0]!
  }

  /** Signs a link pass to put in an invite link. Moderator links need the owner; speaker links a moderator. */
  async createLinkGrant(opts: LinkGrantOptions): Promise<LinkPass> {
    const s = await this.live()
    if (opts.role === 'moderator') this.requireOwner(s)
    const auth = this.authority(s)
    return createLinkGrant(this.identity, {
      roomId: s.roomId,
      auth,
      role: opts.role,
      issuedAt: this.now(),
      ...(opts.expiresAt !== undefined ? { expiresAt: opts.expiresAt } : {}),
      singleUse: opts.singleUse ?? true,
    })
  }

  // ---- epochs (docs/room-rules.md §8, actor-epochs.ts) ------------------------------

  /** Writes our encryption key for this room, unless the log already has it. */
  announceKey(): Promise<string | null> {
    return epochs.announceKey(this.core())
  }

  /** Writes epoch 0 (the links' secret) when the log has no epoch yet; a moderator's client does it on join. */
  startEpochs(linkSecret: Uint8Array): Promise<string | null> {
    return epochs.startEpochs(this.core(), linkSecret)
  }

  /**
   * Starts a new epoch with `next` (32 random bytes), sealed to every member's
   * encryption key but the banned ones; writes epoch 0 first when the log has
   * none (`linkSecret` is then its secret). Returns the new epoch's id.
   */
  rotate(next: Uint8Array, linkSecret: Uint8Array): Promise<string> {
    return epochs.rotate(this.core(), next, linkSecret)
  }

  /** Seals the current epoch's `secret` to members who have no box yet (joined by link, or unbanned). */
  sealMissing(secret: Uint8Array): Promise<number> {
    return epochs.sealMissing(this.core(), secret)
  }

  // ---- chat and moderation (docs/room-rules.md §10, actor-moderation.ts) ----------

  /** Sends a chat message, sealed in the newest epoch we hold (500 characters, 5 per 10 s). */
  sendChat(text: string): Promise<string> {
    return moderation.sendChat(this.core(), text)
  }

  /** Hides a message for everyone (owner or moderator; moderators not the owner's or a moderator's). */
  hideChat(messageId: string): Promise<string> {
    return moderation.hideChat(this.core(), messageId)
  }

  /** Mutes a speaker (owner or moderator; moderators not the owner). */
  mute(subject: string): Promise<string> {
    return moderation.mute(this.core(), subject)
  }

  /** Clears a moderator's mute of us once its hold (MUTE_HOLD_MS) has passed. */
  unmute(): Promise<string> {
    return moderation.unmuteSelf(this.core())
  }

  /** Removes a listener or speaker from the room for `forMs`, without a ban. */
  kick(subject: string, forMs: number): Promise<string> {
    return moderation.kick(this.core(), subject, forMs)
  }

  /** Announces a recording (null when one is already shown). */
  startRecording(): Promise<string | null> {
    return moderation.setRecording(this.core(), true)
  }

  stopRecording(): Promise<string | null> {
    return moderation.setRecording(this.core(), false)
  }

  /** Hands the room to a moderator (owner only); `stayModerator` keeps us a moderator. */
  transferOwnership(subject: string, opts?: { stayModerator?: boolean }): Promise<string> {
    return moderation.transferOwnership(this.core(), subject, opts)
  }

  // ---- internals -----------------------------------------------------------------

  private core(): moderation.ActorCore {
    return {
      key: this.key,
      identity: this.identity,
      now: () => this.now(),
      member: () => this.member(),
      live: () => this.live(),
      authority: (s) => this.authority(s),
      requireOwner: (s) => this.requireOwner(s),
      sign: (body) => this.sign(body),
      write: (bodies, at, before) => this.write(bodies, at, before),
      sealing: async () => (await this.texts?.current()) ?? null,
      setProfile: (p) => this.setProfile(p),
    }
  }

  private async member(): Promise<RoomState> {
    await this.replica.whenSettled()
    const s = this.replica.state
    if (!s.exists) throw err('not-ready', 'The room has not arrived yet (no genesis)')
    if (s.banned.has(this.key)) throw err('banned', 'You are banned from this room')
    return s
  }

  private async live(): Promise<RoomState> {
    const s = await this.member()
    if (s.ended) throw err('room-ended', 'The room has ended')
    return s
  }

  private requireOwner(s: RoomState): void {
    if (s.owner !== this.key) throw err('not-owner', 'Only the room owner can do this')
  }

  private authority(s: RoomState): string {
    if (s.owner === this.key) return s.ownerAuth!
    const auth = s.moderators.get(this.key)
    if (!auth) throw err('not-moderator', 'Only the owner or a moderator can do this')
    return auth
  }

  /**
   * What a new entry names: our latest entry (one no other of ours names) first, then the newest heads.
   * Naming our own latest keeps our entries a chain, so what we had seen only
   * grows from one entry to the next even when someone floods the log with
   * more heads than an entry can name (the issuer's view decides races, §3a).
   */
  private seen(): Entry[] {
    const mine = this.replica.index.byAuthor.get(this.key) ?? []
    const named = new Set(mine.flatMap((e) => e.prev))
    let own: Entry | undefined
    for (const e of mine) if (!named.has(e.id) && (!own || byTimeThenId(e, own) > 0)) own = e
    const heads = this.replica.index.heads()
    if (!own || heads.includes(own) || heads.some((h) => h.prev.includes(own.id))) return heads
    return [own, ...heads.slice(0, MAX_PREV - 1)]
  }

  /** Signs one entry naming what we have seen, dated no earlier than it (see `write`). */
  private sign(body: EntryBody): Promise<Uint8Array> {
    const seen = this.seen()
    return signEntry(this.identity, this.replica.roomId, Math.max(this.now(), ...seen.map((e) => e.time)), body, seen.map((e) => e.id))
  }

  private pendingInvite(s: RoomState, inviteId?: string) {
    const inv = s.invites.find((i) => i.subject === this.key && (inviteId === undefined || i.id === inviteId))
    if (!inv) throw err('no-invite', inviteId ? 'That invite is not open for you' : 'You have no open invite')
    return inv
  }

  /**
   * Signs all bodies, appends them in one transaction, waits until verified;
   * returns their ids. Each names as seen (§3a) our own latest entry and the
   * newest heads of our log, and is dated no earlier than they are: our clock
   * may run behind a peer's, and an entry dated before what it names is void.
   */
  private async write(bodies: EntryBody[], at = this.now(), before: Uint8Array[] = []): Promise<string[]> {
    const seen = this.seen()
    const prev = before.length > 0 ? [blobId(before.at(-1)!)] : seen.map((e) => e.id)
    const time = Math.max(at, ...seen.map((e) => e.time))
    const bytes = [...before, ...(await Promise.all(bodies.map((b) => signEntry(this.identity, this.replica.roomId, time, b, prev))))]
    this.replica.doc.transact(() => this.replica.log.push(bytes))
    await this.replica.whenSettled()
    return bytes.map(blobId)
  }
}
