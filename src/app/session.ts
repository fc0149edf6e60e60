/**
 * The browser's `RoomSession`: one RoomClient (validated room doc, signed
 * actions, presence, mesh) wired to the browser's WebSocket signalling,
 * RTCPeerConnection, IndexedDB, microphone and WebAudio, and summarised for
 * the UI as `RoomSnapshot`s.
 *
 * Lifecycle: `openRoomSession()` restores the room doc from IndexedDB (so a
 * room opened offline shows its last state), connects signalling, seeds the
 * doc from the link and redeems its pass; it resolves once the room exists
 * locally, or rejects with a `RoomProblem` code ('wrong-secret',
 * 'unreachable'). Actions write signed entries to the local doc whether or
 * not anyone is reachable; the mesh syncs them when peers come back.
 * `leave()` is idempotent and releases sockets, peers, timers, the
 * microphone, the audio graph and the database handle.
 *
 * Audio: the microphone is open only while this person holds a stage seat
 * (or is accepting an invite); remote audio plays through one WebAudio graph
 * whose per-person gains are 0 unless the validated state says that person
 * is a speaker (`RoomClient.mayPlay`).
 */
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { fingerprint, keyId, publicKeyFromId, toBase64url, type Identity } from '../identity/index.ts'
import { formatInvite, type Invite } from '../invite/index.ts'
import { deriveDiscoveryKey } from '../room/index.ts'
import { deriveSignalKey } from '../net/room-crypto.ts'
import { SignalClient, type SignalError, type WebSocketClass } from '../net/signal-client.ts'
import { WsBus } from '../net/ws-bus.ts'
import type { PeerStats, PeerWrtc } from '../net/peer.ts'
import { RoomClient } from './room-client.ts'
import { Capture } from './capture.ts'
import { Playback } from './playback.ts'
import { buildSnapshot } from './snapshot.ts'
import type { ProfileStore, RecentRooms } from './local-stores.ts'
import type { InviteRole, PeerLink, Quality, RoomMode, RoomProblem, RoomSession, RoomSnapshot } from './types.ts'

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
}

export type SessionError = Error & { code: RoomProblem['code'] }

export function sessionError(code: RoomProblem['code'], message: string, cause?: unknown): SessionError {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code })
}

/** IndexedDB database holding one room's doc. */
export function roomDbName(roomId: string): string {
  return `stoop-room-${roomId}`
}

const LEVEL_MS = 200
const STATS_MS = 2000
const RECONNECT_MAX_MS = 5000
const DB_TIMEOUT_MS = 5000

export async function openRoomSession(env: SessionEnv): Promise<BrowserRoomSession> {
  const doc = new Y.Doc()
  const persistence = new IndexeddbPersistence(roomDbName(env.invite.roomId), doc)
  let storageProblem: string | undefined
  await withTimeout(persistence.whenSynced, DB_TIMEOUT_MS).catch((err: Error) => {
    // The room still works in memory; it just will not be there offline next time.
    storageProblem = err.message
  })
  const [key, profile, stored] = await Promise.all([
    deriveSignalKey(env.invite.secretBytes),
    env.profile.get(),
    env.recent.get(env.invite.roomId).catch(() => undefined),
  ])
  const selfId = keyId(env.identity.publicKey)
  const signal = new SignalClient({ url: env.signalUrl, WebSocket: env.WebSocket, backoff: { maxMs: RECONNECT_MAX_MS } })
  const bus = new WsBus({ client: signal, topic: toBase64url(deriveDiscoveryKey(env.invite.roomId)), key, selfId })
  const client = new RoomClient({ invite: env.invite, identity: env.identity, bus, wrtc: env.wrtc, doc, name: profile.name, ...(env.now ? { now: env.now } : {}) })
  const session = new BrowserRoomSession(env, {
    doc,
    persistence,
    signal,
    bus,
    client,
    profileName: profile.name,
    microphoneId: profile.microphoneId,
    secretVerified: stored?.verifiedSecret === env.invite.secret,
  })
  if (storageProblem) console.warn('room storage unavailable', storageProblem)
  try {
    await session.ready()
  } catch (err) {
    await session.leave()
    throw err
  }
  return session
}

interface Parts {
  doc: Y.Doc
  persistence: IndexeddbPersistence
  signal: SignalClient
  bus: WsBus
  client: RoomClient
  profileName: string
  microphoneId: string | undefined
  secretVerified: boolean
}

export class BrowserRoomSession implements RoomSession {
  readonly client: RoomClient
  readonly playback: Playback
  readonly #env: SessionEnv
  readonly #p: Parts
  readonly #capture: Capture
  readonly #listeners = new Set<() => void>()
  readonly #offs: Array<() => void> = []
  readonly #fingerprints = new Map<string, string>()
  readonly #now: () => number
  #snapshot: RoomSnapshot
  #scheduled = false
  #left: Promise<void> | null = null
  #levels = new Map<string, number>()
  #peerStats = new Map<string, PeerStats>()
  #selfLevel = 0
  #mutedOverride: boolean | undefined
  #micProblem: RoomProblem | undefined
  #wrongSecret = false
  #secretVerified: boolean
  #signalUnreachable = false
  #joining: Promise<void> = Promise.resolve()
  #joined = false
  /** True while accepting an invite: the microphone opens before the seat exists. */
  #accepting = false
  #recheck: ReturnType<typeof setTimeout> | null = null
  #recentKey = ''
  /** Things that went wrong without stopping the session, by kind (debug). */
  readonly dropped: Record<string, number> = {}

  constructor(env: SessionEnv, parts: Parts) {
    this.#env = env
    this.#p = parts
    this.#now = env.now ?? Date.now
    this.#secretVerified = parts.secretVerified
    this.client = parts.client
    const client = parts.client
    client.awareness.setLocalStateField('id', client.selfId)
    this.playback = new Playback({ allowed: (id) => client.mayPlay(id), onchange: () => this.#dirty() })
    this.#capture = new Capture(env.media, this.playback.ctx)
    this.#snapshot = this.#build()

    const mesh = client.mesh
    this.#offs.push(
      client.on('state', () => this.#onState()),
      client.on('plan', () => {
        this.playback.refresh()
        this.#dirty()
      }),
      client.on('error', (err) => this.#count(`client:${err.code ?? 'error'}`)),
      mesh.on('track', (from, track) => this.playback.add(from, track)),
      mesh.on('track-ended', (_from, track) => this.playback.remove(track)),
      mesh.on('peer-connected', () => {
        this.#verifySecret()
        this.#dirty()
      }),
      mesh.on('peer-disconnected', (id) => {
        this.playback.removeFrom(id)
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
    parts.signal.on('open', onOpen).on('close', onClose).on('error', onError)
    this.#offs.push(() => parts.signal.off('open', onOpen).off('close', onClose).off('error', onError))

    const levelTimer = setInterval(() => this.#sampleLevels(), LEVEL_MS)
    const statsTimer = setInterval(() => void this.#sampleStats(), STATS_MS)
    this.#offs.push(() => clearInterval(levelTimer), () => clearInterval(statsTimer))
  }

  get snapshot(): RoomSnapshot {
    return this.#snapshot
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Resolves once the room exists locally and this device has claimed what its link grants. */
  async ready(): Promise<void> {
    await this.#join()
    if (!this.client.state.exists) await this.#arrival()
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
    // Ask for the microphone inside the tap, before the seat exists.
    this.#micProblem = undefined
    this.#accepting = true
    this.#startMic()
    try {
      await this.client.actor.acceptInvite(invite?.id)
    } finally {
      this.#accepting = false
      this.#syncMic()
    }
  }

  async declineInvite(): Promise<void> {
    await this.client.actor.declineInvite(this.#snapshot.pendingInvite?.id)
  }

  async leaveStage(): Promise<void> {
    this.#micProblem = undefined
    await this.client.actor.leaveStage()
    this.#dirty()
  }

  async setMuted(muted: boolean): Promise<void> {
    if (!muted && this.#micProblem) {
      this.#micProblem = undefined
      this.#startMic()
    }
    this.#mutedOverride = muted
    this.#capture.setEnabled(!muted)
    this.#dirty()
    try {
      await this.client.actor.setProfile({ muted })
    } finally {
      this.#mutedOverride = undefined
      this.#applyMute()
      this.#dirty()
    }
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

  async inviteLink(role: InviteRole): Promise<string> {
    const state = this.client.state
    const genesis = state.genesisId ? this.client.replica.get(state.genesisId)?.bytes : undefined
    const base = { origin: this.#env.origin, roomId: state.roomId, secret: this.#env.invite.secret, ...(genesis ? { genesis } : {}) }
    if (role === 'listener') return formatInvite(base)
    const grant = await this.client.actor.createLinkGrant({ role, singleUse: true })
    return formatInvite({ ...base, grant })
  }

  setVolume(personId: string, volume: number): void {
    this.playback.setVolume(personId, volume)
  }

  async resumeAudio(): Promise<void> {
    await this.playback.resume()
    this.#dirty()
  }

  async setMicrophone(deviceId: string): Promise<void> {
    this.#p.microphoneId = deviceId || undefined
    if (!this.#capture.local && !this.#capture.starting) return
    this.client.mesh.setLocalAudio(null)
    this.#capture.stop()
    this.#startMic()
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
    this.#capture.stop()
    await this.#remember().catch(() => this.#count('recent-store'))
    const { client, bus, signal, persistence, doc } = this.#p
    client.destroy()
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

  /** Waits for a peer to bring the room (when neither storage nor the link had it). */
  #arrival(): Promise<void> {
    const timeoutMs = this.#env.arriveTimeoutMs ?? 20_000
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer)
        offState()
        this.#p.signal.off('error', onError)
        if (err) reject(err)
        else resolve()
      }
      const offState = this.client.on('state', (s) => {
        if (s.exists) done()
      })
      const onError = (err: SignalError): void => {
        if (err.code === 'wrong-secret') done(sessionError('wrong-secret', err.message, err))
      }
      this.#p.signal.on('error', onError)
      const timer = setTimeout(() => {
        const why = this.#signalUnreachable || !this.#env.online.get()
          ? `Could not reach the signalling server (${this.#env.signalUrl}) and this device has no copy of the room.`
          : 'Nobody holding this room answered: it may be empty right now. Try again when someone is in it.'
        done(sessionError('unreachable', why))
      }, timeoutMs)
    })
  }

  #onSignalError(err: SignalError): void {
    if (err.code === 'signal-unreachable') this.#signalUnreachable = true
    if (err.code === 'wrong-secret') {
      // A secret that worked before is right; someone else on the topic holds a wrong one.
      if (this.#secretVerified) this.#count('foreign-wrong-secret')
      else this.#wrongSecret = true
    }
    this.#dirty()
  }

  #verifySecret(): void {
    if (this.#secretVerified) return
    this.#secretVerified = true
    this.#wrongSecret = false
    this.#env.recent.update(this.#env.invite.roomId, { verifiedSecret: this.#env.invite.secret }).catch(() => this.#count('recent-store'))
  }

  #onState(): void {
    if (this.#left) return
    const state = this.client.state
    if (state.exists && !this.#joined) void this.#join()
    this.#syncMic()
    this.#applyMute()
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

  get #muted(): boolean {
    return this.#mutedOverride ?? this.client.state.profiles.get(this.client.selfId)?.muted ?? false
  }

  #applyMute(): void {
    this.#capture.setEnabled(!this.#muted)
  }

  #wantsMic(): boolean {
    if (this.#accepting) return true
    const s = this.client.state
    const self = this.client.selfId
    return s.exists && !s.ended && s.seatOf.has(self) && !s.banned.has(self)
  }

  #syncMic(): void {
    if (this.#wantsMic()) {
      if (!this.#micProblem) this.#startMic()
    } else if (this.#capture.local || this.#capture.starting) {
      this.client.mesh.setLocalAudio(null)
      this.#capture.stop()
      this.#micProblem = undefined
    } else this.#micProblem = undefined
  }

  #startMic(): void {
    if (this.#capture.local || this.#capture.starting || this.#left) return
    this.#capture.start(this.#p.microphoneId).then(
      (local) => {
        if (!local || this.#left) return
        if (!this.#wantsMic()) {
          this.#capture.stop()
          return
        }
        this.#applyMute()
        this.client.mesh.setLocalAudio(local)
        this.#dirty()
      },
      (err: Error) => {
        const denied = err.name === 'NotAllowedError' || err.name === 'SecurityError'
        this.#micProblem = {
          code: 'mic-denied',
          message: denied ? 'Microphone access was denied.' : `The microphone could not be opened: ${err.message || err.name}`,
        }
        this.#dirty()
      },
    )
  }

  #sampleLevels(): void {
    const self = this.client.selfId
    const selfLevel = this.#muted ? 0 : quantize(this.#capture.level())
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

  #presence(): { present: Set<string>; names: Map<string, string> } {
    const present = new Set(this.client.mesh.connected)
    const names = new Map<string, string>()
    for (const state of this.client.awareness.getStates().values()) {
      const id = (state as { id?: unknown }).id
      const name = (state as { name?: unknown }).name
      // Presence is unsigned: only believe it for someone whose connection proved its key.
      if (typeof id === 'string' && typeof name === 'string' && name && present.has(id)) names.set(id, name.slice(0, 100))
    }
    return { present, names }
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
    if (!this.#p.signal.connected && this.client.mesh.connected.length === 0) return { mode: 'connecting' }
    return { mode: plan.mode === 'relay' ? 'relay' : 'mesh' }
  }

  #problem(): RoomProblem | undefined {
    const s = this.client.state
    const self = this.client.selfId
    if (this.#wrongSecret) return { code: 'wrong-secret', message: 'This link does not open this room (wrong room key).' }
    if (s.banned.has(self)) return { code: 'banned', message: 'A moderator removed you from this room.' }
    if (this.client.plan.mode === 'full') return { code: 'room-full', message: this.client.plan.reason ?? 'The room is full.' }
    if (this.#micProblem && this.#wantsMic()) return this.#micProblem
    if (this.#offline()) return { code: 'offline', message: 'You are offline.' }
    return undefined
  }

  #peers(names: Map<string, string>): PeerLink[] {
    const state = this.client.state
    return this.client.mesh.connected.sort().map((id) => {
      const st = this.#peerStats.get(id)
      const jitters = (st?.inbound ?? []).map((i) => i.jitterMs).filter((j): j is number => j !== null)
      const link: PeerLink = {
        id,
        name: state.profiles.get(id)?.name || names.get(id) || '',
        via: 'mesh',
        quality: quality(st),
      }
      if (st?.rttMs != null) link.rttMs = st.rttMs
      if (st) link.lossPct = st.packetLoss * 100
      if (jitters.length) link.jitterMs = Math.max(...jitters)
      return link
    })
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
    const { present, names } = this.#presence()
    const { mode, reason } = this.#mode()
    const problem = this.#problem()
    return buildSnapshot(this.client.state, {
      selfId: this.client.selfId,
      selfName: this.#p.profileName,
      present,
      names,
      levels: this.#levels,
      ...(this.#mutedOverride !== undefined ? { selfMuted: this.#mutedOverride } : {}),
      fingerprintOf: (id) => this.#fingerprint(id),
      mode,
      ...(reason ? { modeReason: reason } : {}),
      peers: this.#peers(names),
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

  /** Updates this room's entry in the recent-rooms list when what it shows changed. */
  async #remember(): Promise<void> {
    const s = this.client.state
    if (!s.exists) return
    const speakers = s.stage.map((seat) => s.profiles.get(seat.key)?.name || `Guest ${this.#fingerprint(seat.key).slice(0, 4)}`)
    const entry = { title: s.title, topic: s.topic, speakers, ended: s.ended, link: this.#env.link }
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

function quality(st: PeerStats | undefined): Quality {
  if (!st) return 'good'
  const rtt = st.rttMs ?? 0
  const loss = st.packetLoss
  if (rtt < 150 && loss < 0.02) return 'good'
  if (rtt < 400 && loss < 0.08) return 'fair'
  return 'poor'
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
    p.then(
      (v) => {
        clearTimeout(t)
        resolve(v)
      },
      (err: unknown) => {
        clearTimeout(t)
        reject(err instanceof Error ? err : new Error(String(err)))
      },
    )
  })
}
