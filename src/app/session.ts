/**
 * The browser's `RoomSession`: one RoomClient (validated room doc, signed actions, presence,
 * mesh) wired to the browser's WebSocket signalling, RTCPeerConnection, IndexedDB, microphone
 * and WebAudio, and summarised for the UI as `RoomSnapshot`s.
 *
 * Lifecycle: `openRoomSession()` (open-session.ts) restores the room doc from IndexedDB (so a
 * room opened offline shows its last state), connects signalling, seeds the doc from the link
 * and redeems its pass; it resolves once the room exists locally, or rejects with a
 * `RoomProblem` code ('unreachable'; a link whose key is not the room's was refused before, by
 * its key check in parseInvite: the signalling topic is open to strangers, so nothing on it
 * may decide that). Actions write signed entries to the local doc whether or not anyone is
 * reachable; the mesh syncs them when peers come back. `leave()` is idempotent and releases
 * sockets, peers, timers, the microphone, the audio graph and the database handle.
 *
 * Audio: the microphone is open only while this person holds a stage seat (or is accepting an
 * invite), and stays muted while a moderator's mute holds; remote audio plays through one
 * WebAudio graph whose per-person gains are 0 unless the validated state says that person is
 * a speaker (`RoomClient.mayPlay`).
 *
 * Parts kept in their own modules: what it is opened with (session-env.ts), joining
 * (session-join.ts), one-entry actions (session-actions.ts), the snapshot (session-snapshot.ts,
 * snapshot.ts, chat-view.ts), speaking levels (levels.ts), the recent-rooms entry
 * (room-memory.ts), reactions (reactions.ts), recording (session-recording.ts), the lock screen
 * and wake lock (pocket.ts), and "Reconnecting…" after a network change (reconnecting.ts).
 */
import type { SignalError } from '../net/signal-client.ts'
import type { PeerStats } from '../net/peer.ts'
import type { RoomClient } from '../participant/room-client.ts'
import { SessionJoin } from './session-join.ts'
import { Capture } from './capture.ts'
import { Microphone } from './microphone.ts'
import { Playback } from './playback.ts'
import type { E2eeStats } from './e2ee.ts'
import { inviteLink } from './room-links.ts'
import type { InviteRole, RoomSession, RoomSnapshot } from './types.ts'
import { LevelSampler } from './levels.ts'
import { RoomMemory } from './room-memory.ts'
import { Fingerprints, sessionSnapshot } from './session-snapshot.ts'
import { browserPocket, Pocket } from './pocket.ts'
import { SessionReactions } from './reactions.ts'
import { RecordingControl } from './session-recording.ts'
import { ChatView } from './chat-view.ts'
import { SessionActions } from './session-actions.ts'
import { Reconnecting } from './reconnecting.ts'
import type { SessionEnv, SessionParts } from './session-env.ts'
import { MUTE_HOLD_MS, RoomError } from '../room/index.ts'

export { sessionError, type SessionError } from './session-error.ts'
export { roomDbName, type SessionEnv, type SessionParts } from './session-env.ts'

const LEVEL_MS = 200
const STATS_MS = 2000

export class BrowserRoomSession extends SessionActions implements RoomSession {
  readonly client: RoomClient
  readonly playback: Playback
  readonly #env: SessionEnv
  readonly #p: SessionParts
  readonly #mic: Microphone
  readonly #listeners = new Set<() => void>()
  readonly #offs: Array<() => void> = []
  /** The room moved to an epoch we hold no box of. */
  #replaced = false
  readonly #fingerprints = new Fingerprints()
  readonly #memory: RoomMemory
  readonly #levels: LevelSampler
  readonly #pocket: Pocket | null
  readonly #reactions: SessionReactions
  readonly #recording: RecordingControl
  readonly #chat = new ChatView()
  readonly #reconnecting: Reconnecting
  /** Leave was asked for from the lock screen; the UI leaves. */
  #leaveRequested = false
  readonly #now: () => number
  #snapshot: RoomSnapshot
  #scheduled = false
  #left: Promise<void> | null = null
  #peerStats = new Map<string, PeerStats>()
  #signalUnreachable = false
  readonly #joining: SessionJoin
  #recheck: ReturnType<typeof setTimeout> | null = null
  /** Things that went wrong without stopping the session, by kind (debug). */
  readonly dropped: Record<string, number> = {}

  constructor(env: SessionEnv, parts: SessionParts) {
    super()
    this.#env = env
    this.#p = parts
    this.#now = env.now ?? Date.now
    this.client = parts.client
    const client = parts.client
    this.#joining = new SessionJoin({
      client,
      arrival: {
        timeoutMs: env.arriveTimeoutMs ?? 20_000,
        signalUrl: env.signalUrl,
        cutOff: () => this.#signalUnreachable || !env.online.get(),
      },
      name: () => this.#p.profileName,
      left: () => this.#left !== null,
      count: (what) => this.#count(what),
    })
    this.#memory = new RoomMemory({
      client,
      recent: env.recent,
      invite: env.invite,
      origin: env.origin,
      link: env.link,
      secretVerified: parts.secretVerified,
      knownRoom: parts.knownRoom,
      fingerprintOf: (id) => this.#fingerprints.of(id),
      now: this.#now,
      count: (what) => this.#count(what),
    })
    this.playback = new Playback({ allowed: (id, via) => client.mayPlay(id, via), onchange: () => this.#dirty() })
    const capture = new Capture(env.media, this.playback.ctx)
    this.#mic = new Microphone({
      capture,
      onStage: () => this.#onStage(),
      // A moderator's mute holds until this person unmutes after the hold (docs/room-rules.md §10).
      signedMuted: () => (client.state.profiles.get(client.selfId)?.muted ?? false) || client.state.muted.has(client.selfId),
      send: (local) => client.setLocalAudio(local),
      onchange: () => this.#dirty(),
      ...(parts.microphoneId ? { deviceId: parts.microphoneId } : {}),
    })
    this.#levels = new LevelSampler({
      selfId: client.selfId,
      self: () => this.#mic.level(),
      remote: () => this.playback.levels(),
      publish: (level) => client.setPresence({ level }),
    })
    this.#recording = new RecordingControl({
      client,
      ctx: this.playback.ctx,
      mix: this.playback.mix,
      local: () => capture.local?.stream ?? null,
      onchange: () => this.#dirty(),
      count: (what) => this.#count(what),
    })
    this.#reactions = new SessionReactions({
      selfId: client.selfId,
      peers: () => client.presence.peers.values(),
      present: () => client.mesh.present,
      publish: (p) => client.setPresence(p),
      onchange: () => this.#dirty(),
      now: this.#now,
    })
    const pocket = env.pocket === undefined ? browserPocket() : env.pocket
    this.#pocket = pocket
      ? new Pocket(pocket, {
          setMuted: (muted) => void this.setMuted(muted).catch(() => this.#count('pocket-mute')),
          leave: () => {
            this.#leaveRequested = true
            this.#dirty()
          },
        })
      : null
    this.#reconnecting = new Reconnecting({ via: () => client.via, relay: client.relay, onchange: () => this.#dirty() })
    this.#snapshot = this.#build()
    this.#pocket?.update(this.#snapshot)
    this.#wire(env, parts)
  }

  #wire(env: SessionEnv, parts: SessionParts): void {
    const client = parts.client
    const mesh = client.mesh
    this.#offs.push(
      client.on('state', () => this.#onState()),
      client.on('plan', () => this.#dirty()),
      client.on('playable', () => this.playback.refresh()),
      client.on('route', () => this.#dirty()),
      client.on('error', (err) => this.#count(`client:${err.code ?? 'error'}`)),
      client.on('track', (from, track, _stream, via) => this.playback.add(from, track, via)),
      client.on('track-ended', (_from, track) => this.playback.remove(track)),
      // Epochs (docs/room-rules.md §8): the room's link moves with them; an old one is replaced.
      client.epochs.on('epoch', (e) => this.#memory.onEpoch(e.secret, Math.max(e.n, 0))),
      client.epochs.on('replaced', () => {
        this.#replaced = true
        this.#dirty()
      }),
      mesh.on('peer-connected', () => {
        this.#memory.verifySecret()
        this.#dirty()
      }),
      // The mesh ends its tracks ('track-ended') before the connection closes; the same
      // person's relay tracks are not the mesh's to drop.
      mesh.on('peer-disconnected', (id) => {
        this.#peerStats.delete(id)
        this.#levels.forget(id)
        this.#dirty()
      }),
      mesh.on('present', () => {
        this.#reactions.refresh()
        this.#dirty()
      }),
      env.online.subscribe(() => this.#dirty()),
    )
    this.#offs.push(client.presence.on('change', () => {
      this.#reactions.refresh()
      this.#dirty()
    }))
    const onOpen = (): void => {
      this.#signalUnreachable = false
      this.#dirty()
    }
    const onClose = (): void => this.#dirty()
    const onError = (err: SignalError): void => this.#onSignalError(err)
    this.#offs.push(parts.signal.on('open', onOpen), parts.signal.on('close', onClose), parts.signal.on('error', onError))
    const reconnecting = this.#reconnecting
    if (parts.followNetwork) this.#offs.push(parts.followNetwork({ onSwitch: () => reconnecting.switched(), onRestarted: () => reconnecting.restarted() }))
    this.#offs.push(() => reconnecting.close())

    const levelTimer = setInterval(() => {
      if (this.#levels.sample()) this.#dirty()
      this.#recording.levels(this.#levels.levels, (id) => this.#nameOf(id))
    }, LEVEL_MS)
    const statsTimer = setInterval(() => void this.#sampleStats(), STATS_MS)
    this.#offs.push(() => clearInterval(levelTimer), () => clearInterval(statsTimer))
  }

  get snapshot(): RoomSnapshot {
    return this.#snapshot
  }

  /** Encryption counters (debug view); null when audio is not end-to-end encrypted. */
  get e2ee(): E2eeStats | null {
    return this.#p.e2ee?.stats ?? null
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Resolves once the room exists locally and this device has claimed what its link grants. */
  async ready(): Promise<void> {
    await this.#joining.ready()
    this.#onState()
  }

  // ---- actions -------------------------------------------------------------

  async acceptInvite(): Promise<void> {
    const invite = this.#snapshot.pendingInvite
    // The microphone prompt comes with the tap, before the seat exists.
    await this.#mic.accept(() => this.client.actor.acceptInvite(invite?.id))
  }

  async setMuted(muted: boolean): Promise<void> {
    const forced = this.client.state.muted.get(this.client.selfId)
    if (!muted && forced) {
      // Checked before the microphone opens: not a moment of audio before the hold is over.
      const wait = forced.at + MUTE_HOLD_MS - this.#now()
      if (wait > 0) throw new RoomError('too-early', `a moderator muted you; you can unmute in ${Math.ceil(wait / 1000)} s`)
      await this.#mic.setMuted(false, () => this.client.actor.unmute())
      return
    }
    await this.#mic.setMuted(muted, () => this.client.actor.setProfile({ muted }))
  }

  async setName(name: string): Promise<void> {
    this.#p.profileName = name
    this.client.setPresence({ name })
    await this.client.actor.setProfile({ name })
  }

  inviteLink(role: InviteRole): Promise<string> {
    return inviteLink(this.client, this.#env.origin, role)
  }

  setVolume(personId: string, volume: number): void {
    this.playback.setVolume(personId, volume)
  }

  async resumeAudio(): Promise<void> {
    await this.playback.resume()
    this.#dirty()
  }

  async setMicrophone(deviceId: string): Promise<void> {
    this.#mic.setDevice(deviceId || undefined)
  }

  async react(emoji: string): Promise<void> {
    this.#reactions.send(emoji)
  }

  leave(): Promise<void> {
    return (this.#left ??= this.#teardown())
  }

  // ---- internals -------------------------------------------------------------

  async #teardown(): Promise<void> {
    this.#env.onleave?.(this)
    for (const off of this.#offs.splice(0)) off()
    if (this.#recheck !== null) clearTimeout(this.#recheck)
    this.#listeners.clear()
    this.#pocket?.close()
    this.#reactions.close()
    await this.#recording.close().catch(() => this.#count('record-save'))
    this.#mic.close()
    await this.#memory.final().catch(() => this.#count('recent-store'))
    const { client, bus, signal, persistence, doc } = this.#p
    client.destroy()
    this.#p.e2ee?.close()
    await bus.destroy()
    signal.destroy()
    this.playback.close()
    await persistence.destroy()
    doc.destroy()
  }

  #onSignalError(err: SignalError): void {
    if (err.code === 'signal-unreachable') this.#signalUnreachable = true
    this.#dirty()
  }

  #onState(): void {
    if (this.#left) return
    const state = this.client.state
    if (state.exists && !this.#joining.joined) void this.#joining.join()
    this.#mic.sync()
    this.#recording.sync()
    this.playback.refresh()
    this.#scheduleRecheck(state.recheckAt)
    this.#memory.save()
    this.#dirty()
  }

  #scheduleRecheck(at: number | null): void {
    if (this.#recheck !== null) clearTimeout(this.#recheck)
    this.#recheck = null
    if (at === null) return
    this.#recheck = setTimeout(() => this.client.replica.recompute(), Math.max(0, at - this.#now()) + 50)
  }

  #onStage(): boolean {
    const s = this.client.state
    const self = this.client.selfId
    return s.exists && !s.ended && s.seatOf.has(self) && !s.banned.has(self)
  }

  async #sampleStats(): Promise<void> {
    try {
      this.#peerStats = await this.client.mesh.stats()
    } catch {
      this.#count('stats')
      return
    }
    this.#dirty()
  }

  #build(): RoomSnapshot {
    return sessionSnapshot({
      client: this.client,
      signal: this.#p.signal,
      online: () => this.#env.online.get(),
      signalUnreachable: this.#signalUnreachable,
      reconnecting: this.#reconnecting.active,
      replaced: this.#replaced,
      profileName: this.#p.profileName,
      micProblem: this.#mic.problem,
      pendingMute: this.#mic.pendingMute,
      levels: this.#levels.levels,
      peerStats: this.#peerStats,
      e2ee: this.#p.e2ee?.stats,
      audioBlocked: this.playback.blocked,
      fingerprintOf: (id) => this.#fingerprints.of(id),
      leaveRequested: this.#leaveRequested,
      reactions: this.#reactions.shown(),
      chat: this.#chat.lines(this.client.state, this.client.selfId, (n) => this.client.epochs.secretOf(n), (id) => this.#nameOf(id)),
      recordings: this.#recording.saved,
    })
  }

  /** A name to show for a key: its signed profile, its presence, or "Guest" and its fingerprint. */
  #nameOf(id: string): string {
    const signed = this.client.state.profiles.get(id)?.name
    if (signed) return signed
    for (const { key, presence } of this.client.presence.peers.values()) if (key === id && typeof presence.name === 'string' && presence.name) return presence.name.slice(0, 100)
    return id === this.client.selfId && this.#p.profileName ? this.#p.profileName : `Guest ${this.#fingerprints.of(id).slice(0, 4)}`
  }

  /**
   * One snapshot for a burst of changes, built in a task of its own: as a microtask it ran in the
   * same task as the sync that set it off, and joining a room with 1,000 chat messages was one
   * 600 ms task (sync, opening the chat, rendering) in which the page could not paint.
   */
  #dirty(): void {
    if (this.#scheduled || this.#left) return
    this.#scheduled = true
    setTimeout(() => {
      this.#scheduled = false
      if (this.#left) return
      this.#snapshot = this.#build()
      this.#pocket?.update(this.#snapshot)
      for (const fn of [...this.#listeners]) fn()
    }, 0)
  }

  #count(what: string): void {
    this.dropped[what] = (this.dropped[what] ?? 0) + 1
  }
}
