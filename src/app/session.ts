/**
 * The browser's `RoomSession`: one RoomClient (validated room doc, signed
 * actions, presence, mesh) wired to the browser's WebSocket signalling,
 * RTCPeerConnection, IndexedDB, microphone and WebAudio, and summarised for
 * the UI as `RoomSnapshot`s.
 *
 * Lifecycle: `openRoomSession()` (open-session.ts) restores the room doc from IndexedDB (so a
 * room opened offline shows its last state), connects signalling, seeds the
 * doc from the link and redeems its pass; it resolves once the room exists
 * locally, or rejects with a `RoomProblem` code ('unreachable'; a link whose key
 * is not the room's was refused before, by its key check in parseInvite: the
 * signalling topic is open to strangers, so nothing on it may decide that).
 * Actions write signed entries to the local doc whether or
 * not anyone is reachable; the mesh syncs them when peers come back.
 * `leave()` is idempotent and releases sockets, peers, timers, the
 * microphone, the audio graph and the database handle.
 *
 * Audio: the microphone is open only while this person holds a stage seat
 * (or is accepting an invite); remote audio plays through one WebAudio graph
 * whose per-person gains are 0 unless the validated state says that person
 * is a speaker (`RoomClient.mayPlay`).
 */
import type * as Y from 'yjs'
import type { IndexeddbPersistence } from 'y-indexeddb'
import { fingerprint, publicKeyFromId, type Identity } from '../identity/index.ts'
import type { Invite } from '../invite/index.ts'
import type { SignalClient, SignalError, WebSocketClass } from '../net/signal-client.ts'
import type { SwitchBus } from '../net/switch-bus.ts'
import { REPLACED_MESSAGE } from '../participant/epoch-keeper.ts'
import type { PeerStats, PeerWrtc } from '../net/peer.ts'
import type { RoomClient } from '../participant/room-client.ts'
import { awaitArrival } from './arrival.ts'
import { Capture } from './capture.ts'
import { Microphone } from './microphone.ts'
import { Playback } from './playback.ts'
import { peerLinks } from './peer-links.ts'
import type { BrowserE2ee, E2eeSetting, E2eeStats } from './e2ee.ts'
import type { TopologyLimits } from '../net/topology.ts'
import { buildSnapshot } from './snapshot.ts'
import { inviteLink, presenceOf, roomLink } from './room-links.ts'
import type { ProfileStore, RecentRooms } from './local-stores.ts'
import type { InviteRole, RoomMode, RoomProblem, RoomSession, RoomSnapshot } from './types.ts'

export interface SessionEnv {
  /** The link the room was opened with (kept in the recent-rooms list). */
  link: string
  invite: Invite
  identity: Identity
  /** Origin put into the invite links this session makes. */
  origin: string
  signalUrl: string
  WebSocket: WebSocketClass
  wrtc: PeerWrtc
  media: MediaDevices
  profile: ProfileStore
  recent: RecentRooms
  /** navigator.onLine and its events. */
  online: { get(): boolean; subscribe(fn: () => void): () => void }
  /** How long to wait for the room to arrive when this device knows nothing of it. */
  arriveTimeoutMs?: number
  now?: () => number
  /** Called once when the session is left. */
  onleave?: (session: BrowserRoomSession) => void
  /** Use only loopback ICE candidates (single-machine tests and demos). */
  loopbackOnly?: boolean
  /**
   * End-to-end encryption of audio (SFrame, e2ee.ts). Default 'auto': on where the browser can.
   * 'off' until every peer of the room can (the @roamhq/wrtc headless peer cannot).
   */
  e2ee?: E2eeSetting
  /** Mesh size and hysteresis (tests put small rooms on the relay). */
  limits?: TopologyLimits
}

export { sessionError, type SessionError } from './session-error.ts'

/** IndexedDB database holding one room's doc. */
export function roomDbName(roomId: string): string {
  return `stoop-room-${roomId}`
}

const LEVEL_MS = 200
const STATS_MS = 2000

/** What `openRoomSession` (open-session.ts) builds and hands over; the session owns and releases it. */
export interface SessionParts {
  doc: Y.Doc
  persistence: IndexeddbPersistence
  signal: SignalClient
  bus: SwitchBus
  client: RoomClient
  profileName: string
  microphoneId: string | undefined
  secretVerified: boolean
  /** This device had the room in its recent-rooms list before. */
  knownRoom: boolean
  /** Encrypts and decrypts the audio of `client`'s connections; null when off. */
  e2ee?: BrowserE2ee | null
}

export class BrowserRoomSession implements RoomSession {
  readonly client: RoomClient
  readonly playback: Playback
  readonly #env: SessionEnv
  readonly #p: SessionParts
  readonly #mic: Microphone
  readonly #listeners = new Set<() => void>()
  readonly #offs: Array<() => void> = []
  /** The room moved to an epoch we hold no box of. */
  #replaced = false
  /** The link kept in the recent-rooms list (moves with the room's epochs). */
  #link: string
  readonly #fingerprints = new Map<string, string>()
  readonly #now: () => number
  #snapshot: RoomSnapshot
  #scheduled = false
  #left: Promise<void> | null = null
  #levels = new Map<string, number>()
  #peerStats = new Map<string, PeerStats>()
  #selfLevel = 0
  #secretVerified: boolean
  #signalUnreachable = false
  #joining: Promise<void> = Promise.resolve()
  #joined = false
  #recheck: ReturnType<typeof setTimeout> | null = null
  #recentKey = ''
  /** Things that went wrong without stopping the session, by kind (debug). */
  readonly dropped: Record<string, number> = {}

  constructor(env: SessionEnv, parts: SessionParts) {
    this.#env = env
    this.#link = env.link
    this.#p = parts
    this.#now = env.now ?? Date.now
    this.#secretVerified = parts.secretVerified
    this.client = parts.client
    const client = parts.client
    client.awareness.setLocalStateField('id', client.selfId)
    this.playback = new Playback({ allowed: (id, via) => client.mayPlay(id, via), onchange: () => this.#dirty() })
    this.#mic = new Microphone({
      capture: new Capture(env.media, this.playback.ctx),
      onStage: () => this.#onStage(),
      signedMuted: () => client.state.profiles.get(client.selfId)?.muted ?? false,
      send: (local) => client.setLocalAudio(local),
      onchange: () => this.#dirty(),
      ...(parts.microphoneId ? { deviceId: parts.microphoneId } : {}),
    })
    this.#snapshot = this.#build()

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
      client.epochs.on('epoch', (e) => this.#onEpoch(e.secret, Math.max(e.n, 0))),
      client.epochs.on('replaced', () => {
        this.#replaced = true
        this.#dirty()
      }),
      mesh.on('peer-connected', () => {
        this.#verifySecret()
        this.#dirty()
      }),
      // The mesh ends its tracks ('track-ended') before the connection closes; the same
      // person's relay tracks are not the mesh's to drop.
      mesh.on('peer-disconnected', (id) => {
        this.#peerStats.delete(id)
        this.#levels.delete(id)
        this.#dirty()
      }),
      mesh.on('present', () => this.#dirty()),
      env.online.subscribe(() => this.#dirty()),
    )
    const onAwareness = (): void => this.#dirty()
    client.awareness.on('change', onAwareness)
    this.#offs.push(() => client.awareness.off('change', onAwareness))
    const onOpen = (): void => {
      this.#signalUnreachable = false
      this.#dirty()
    }
    const onClose = (): void => this.#dirty()
    const onError = (err: SignalError): void => this.#onSignalError(err)
    this.#offs.push(parts.signal.on('open', onOpen), parts.signal.on('close', onClose), parts.signal.on('error', onError))

    const levelTimer = setInterval(() => this.#sampleLevels(), LEVEL_MS)
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
    await this.#join()
    if (!this.client.state.exists) {
      await awaitArrival(this.client, {
        timeoutMs: this.#env.arriveTimeoutMs ?? 20_000,
        signalUrl: this.#env.signalUrl,
        cutOff: () => this.#signalUnreachable || !this.#env.online.get(),
      })
    }
    await this.#join()
    this.#onState()
  }

  // ---- actions -------------------------------------------------------------

  async raiseHand(): Promise<void> {
    await this.client.actor.raiseHand()
  }

  async lowerHand(): Promise<void> {
    await this.client.actor.lowerHand()
  }

  async acceptInvite(): Promise<void> {
    const invite = this.#snapshot.pendingInvite
    // The microphone prompt comes with the tap, before the seat exists.
    await this.#mic.accept(() => this.client.actor.acceptInvite(invite?.id))
  }

  async declineInvite(): Promise<void> {
    await this.client.actor.declineInvite(this.#snapshot.pendingInvite?.id)
  }

  async leaveStage(): Promise<void> {
    await this.client.actor.leaveStage()
  }

  async setMuted(muted: boolean): Promise<void> {
    await this.#mic.setMuted(muted, () => this.client.actor.setProfile({ muted }))
  }

  async setName(name: string): Promise<void> {
    this.#p.profileName = name
    this.client.setPresence({ name })
    await this.client.actor.setProfile({ name })
  }

  async inviteToStage(personId: string): Promise<void> {
    await this.client.actor.inviteToStage(personId)
  }

  async moveToAudience(personId: string): Promise<void> {
    await this.client.actor.moveToAudience(personId)
  }

  async setModerator(personId: string, on: boolean): Promise<void> {
    if (on) await this.client.actor.grantModerator(personId)
    else await this.client.actor.revokeModerator(personId)
  }

  async ban(personId: string): Promise<void> {
    await this.client.actor.ban(personId)
  }

  async endRoom(): Promise<void> {
    await this.client.actor.endRoom()
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

  leave(): Promise<void> {
    return (this.#left ??= this.#teardown())
  }

  // ---- internals -------------------------------------------------------------

  async #teardown(): Promise<void> {
    this.#env.onleave?.(this)
    for (const off of this.#offs.splice(0)) off()
    if (this.#recheck !== null) clearTimeout(this.#recheck)
    this.#listeners.clear()
    this.#mic.close()
    await this.#remember().catch(() => this.#count('recent-store'))
    const { client, bus, signal, persistence, doc } = this.#p
    client.destroy()
    this.#p.e2ee?.close()
    await bus.destroy()
    signal.destroy()
    this.playback.close()
    await persistence.destroy()
    doc.destroy()
  }

  /** Seeds the doc from the link and redeems its pass, once the room exists (serialised). */
  #join(): Promise<void> {
    this.#joining = this.#joining.then(async () => {
      if (this.#joined || this.#left) return
      const client = this.client
      try {
        // RoomClient.join() reads `exists` without waiting for verification: let the stored log settle first.
        await client.replica.whenSettled()
        await client.join()
      } catch (err) {
        // Banned or ended rooms show as such; a pass that cannot be redeemed leaves us a listener.
        this.#count(`join:${(err as { code?: string }).code ?? 'error'}`)
      }
      const state = client.state
      if (!state.exists) return
      this.#joined = true
      const name = this.#p.profileName
      const mine = state.profiles.get(client.selfId)
      if (name && mine?.name !== name && !state.ended && !state.banned.has(client.selfId)) {
        await client.actor.setProfile({ name }).catch(() => this.#count('profile-write'))
      }
    })
    return this.#joining
  }

  #onSignalError(err: SignalError): void {
    if (err.code === 'signal-unreachable') this.#signalUnreachable = true
    this.#dirty()
  }

  #verifySecret(): void {
    if (this.#secretVerified) return
    this.#secretVerified = true
    this.#env.recent.update(this.#env.invite.roomId, { verifiedSecret: this.#env.invite.secret }).catch(() => this.#count('recent-store'))
    this.#remember().catch(() => this.#count('recent-store'))
  }

  /** The link to keep for this room: the same room with the current epoch's secret (no pass: it was redeemed). */
  #onEpoch(secret: Uint8Array, n: number): void {
    this.#link = roomLink(this.#env.invite, this.#env.origin, secret, n)
    this.#recentKey = ''
    this.#remember().catch(() => this.#count('recent-store'))
  }

  #onState(): void {
    if (this.#left) return
    const state = this.client.state
    if (state.exists && !this.#joined) void this.#join()
    this.#mic.sync()
    this.playback.refresh()
    this.#scheduleRecheck(state.recheckAt)
    this.#remember().catch(() => this.#count('recent-store'))
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

  #sampleLevels(): void {
    const self = this.client.selfId
    const selfLevel = quantize(this.#mic.level())
    if (selfLevel !== this.#selfLevel) {
      this.#selfLevel = selfLevel
      this.client.setPresence({ level: selfLevel })
    }
    const next = new Map<string, number>()
    for (const [id, level] of this.playback.levels()) next.set(id, quantize(level))
    if (selfLevel > 0) next.set(self, selfLevel)
    if (!sameLevels(next, this.#levels)) {
      this.#levels = next
      this.#dirty()
    }
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

  /**
   * Offline: the browser says so, or nothing answers at all (signalling unreachable and no
   * peer connected). navigator.onLine alone misses captive portals and LANs without a route,
   * and stays true in a page loaded while the network is down in some browsers.
   */
  #offline(): boolean {
    return !this.#env.online.get() || (this.#signalUnreachable && this.client.mesh.connected.length === 0)
  }

  #mode(): { mode: RoomMode; reason?: string } {
    if (this.#offline()) return { mode: 'offline' }
    const plan = this.client.plan
    if (plan.mode === 'full') return { mode: 'mesh', ...(plan.reason ? { reason: plan.reason } : {}) }
    if (this.client.via === 'relay') return { mode: 'relay' }
    if (!this.#p.signal.connected && this.client.mesh.connected.length === 0) return { mode: 'connecting' }
    return { mode: 'mesh' }
  }

  #problem(): RoomProblem | undefined {
    const s = this.client.state
    const self = this.client.selfId
    if (s.banned.has(self)) return { code: 'banned', message: 'A moderator removed you from this room.' }
    if (this.#replaced) return { code: 'link-replaced', message: REPLACED_MESSAGE }
    if (this.client.plan.mode === 'full') return { code: 'room-full', message: this.client.plan.reason ?? 'The room is full.' }
    if (this.#mic.problem) return this.#mic.problem
    if (this.#offline()) return { code: 'offline', message: 'You are offline.' }
    return undefined
  }

  #fingerprint(id: string): string {
    let fp = this.#fingerprints.get(id)
    if (fp === undefined) {
      const pub = publicKeyFromId(id)
      fp = pub ? fingerprint(pub) : id.slice(0, 9)
      this.#fingerprints.set(id, fp)
    }
    return fp
  }

  #build(): RoomSnapshot {
    const { present, names } = presenceOf(this.client)
    const { mode, reason } = this.#mode()
    const problem = this.#problem()
    const e2ee = this.#p.e2ee?.stats
    return buildSnapshot(this.client.state, {
      selfId: this.client.selfId,
      selfName: this.#p.profileName,
      present,
      names,
      levels: this.#levels,
      ...(this.#mic.pendingMute !== undefined ? { selfMuted: this.#mic.pendingMute } : {}),
      fingerprintOf: (id) => this.#fingerprint(id),
      mode,
      ...(reason ? { modeReason: reason } : {}),
      peers: peerLinks(this.client.mesh.connected, this.#peerStats, (id) => this.client.state.profiles.get(id)?.name || names.get(id) || '', e2ee?.undecryptable),
      e2ee: { on: e2ee !== undefined, undecryptable: Object.values(e2ee?.undecryptable ?? {}).reduce((a, b) => a + b, 0) },
      refused: this.client.refused,
      audioBlocked: this.playback.blocked,
      ...(problem ? { problem } : {}),
    })
  }

  #dirty(): void {
    if (this.#scheduled || this.#left) return
    this.#scheduled = true
    queueMicrotask(() => {
      this.#scheduled = false
      if (this.#left) return
      this.#snapshot = this.#build()
      for (const fn of [...this.#listeners]) fn()
    })
  }

  /**
   * Updates this room's entry in the recent-rooms list when what it shows changed. A room
   * is listed (and its link kept) only once its key has proved itself, so a mistyped link
   * neither adds a room nor replaces the working link of a known one.
   */
  async #remember(): Promise<void> {
    const s = this.client.state
    if (!s.exists || !(this.#secretVerified || this.#p.knownRoom)) return
    const speakers = s.stage.map((seat) => s.profiles.get(seat.key)?.name || `Guest ${this.#fingerprint(seat.key).slice(0, 4)}`)
    const entry = { title: s.title, topic: s.topic, speakers, ended: s.ended, ...(this.#secretVerified ? { link: this.#link } : {}) }
    const key = JSON.stringify(entry)
    if (key === this.#recentKey && !this.#left) return
    this.#recentKey = key
    await this.#env.recent.update(s.roomId, { ...entry, lastSeen: this.#now() })
  }

  #count(what: string): void {
    this.dropped[what] = (this.dropped[what] ?? 0) + 1
  }
}

function quantize(level: number): number {
  return Math.round(level * 20) / 20
}

function sameLevels(a: Map<string, number>, b: Map<string, number>): boolean {
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v) return false
  return true
}
