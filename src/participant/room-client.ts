/**
 * RoomClient: the UI-free core of one participant in one room, shared by the
 * browser session and the headless `stoop peer`. It owns the room replica
 * (validated state), the actor (signed actions), presence (awareness) and the
 * mesh, and keeps the mesh following the topology plan whenever the room
 * state or the set of reachable peers changes.
 *
 * Audio stays outside: callers pass the local track in (`setLocalAudio`) and
 * decide per remote track whether to play it with `mayPlay(id)`, which is
 * true only for speakers in the validated state, whatever a client sends.
 *
 * A joiner goes straight into the room's mode: with a relay it asks the relay first
 * (join-mode.ts) and builds no mesh meanwhile. Entering relay mode with nothing on the
 * mesh (told that the room is on the relay, or past mesh size before its mesh reached
 * anyone) it uses the relay at once and plays its tracks at once: there is no mesh copy
 * to hand over from.
 *
 * Free text and presence are sealed under the epochs' secrets (docs/room-rules.md §9):
 * `state` has them opened with the EpochKeeper's secrets; presence goes out sealed.
 *
 * A peer that becomes banned leaves the plan at once, its connection kept a moment so the ban
 * reaches it (ban-grace.ts).
 */
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { keyId, type Identity } from '../identity/index.ts'
import type { Invite } from '../invite/index.ts'
import { RoomActor, RoomReplica, logOf, type RoomState, type RoomDiff } from '../room/index.ts'
import { UpdateVerifier } from '../room/verify-update.ts'
import type { SignalBus } from '../net/bus.ts'
import { Mesh, type MeshOptions } from '../net/mesh.ts'
import type { PeerWrtc } from '../net/peer.ts'
import { TypedEmitter } from '../base/emitter.ts'
import { DEFAULT_LIMITS, planTopology, type Mode, type TopologyLimits, type TopologyPlan } from '../net/topology.ts'
import { RelayPath, type RelayPathOptions, type RelayState } from './relay-path.ts'
import { INITIAL_SWITCH, RELAY_SETTLE_MS, playsFromRelay, relayTrackSince, switchRoute, type SwitchState, type TrackSince, type Via } from './route-switch.ts'
import { INITIAL_PAIRS, pairRoutes, pairChanges, type PairState } from './pair-route.ts'
import { realTimers, type Timers } from '../base/timers.ts'
import { JoinMode } from './join-mode.ts'
import { EpochKeeper } from './epoch-keeper.ts'
import { keeperPresence, type Presence, type SealedPresence } from './presence.ts'
import { RevealedState } from './revealed-state.ts'
import { BanGrace } from './ban-grace.ts'

export type { Via } from './route-switch.ts'
export type { Presence } from './presence.ts'
export { BAN_GRACE_MS } from './ban-grace.ts'
type Local = { track: MediaStreamTrack; stream: MediaStream }

export interface RoomClientOptions {
  invite: Invite
  identity: Identity
  bus: SignalBus
  wrtc: PeerWrtc
  /** The room doc: restored from storage, created with the room, or fresh. */
  doc?: Y.Doc
  name?: string
  limits?: TopologyLimits
  now?: () => number
  mesh?: Pick<MeshOptions, 'peer' | 'reconnectBackoff' | 'timers'>
  /** A relay to use past mesh size (the one the app was served from, or --relay). */
  relay?: RelayPathOptions
  /** Epoch secrets opened in earlier sessions (docs/room-rules.md §8). */
  knownSecrets?: readonly Uint8Array[]
}

export interface RoomClientEvents {
  state: (state: RoomState, diff: RoomDiff) => void
  plan: (plan: TopologyPlan) => void
  /** A remote participant's audio track arrived (over the mesh or the relay). */
  track: (id: string, track: MediaStreamTrack, stream: MediaStream | null, via: Via) => void
  'track-ended': (id: string, track: MediaStreamTrack, via: Via) => void
  /** The path audio is played from changed, or the relay's state did. */
  route: (via: Via, relay: RelayState) => void
  /** In mesh mode, the mesh cannot reach `peer` and the relay carries the pair (or the mesh does again). */
  'pair-route': (peer: string, via: Via) => void
  /** `mayPlay` answers may have changed (after every re-plan): re-apply playback gates. */
  playable: () => void
  error: (err: Error & { code?: string }) => void
}

export class RoomClient extends TypedEmitter<RoomClientEvents> {
  readonly selfId: string
  readonly doc: Y.Doc
  readonly replica: RoomReplica
  readonly actor: RoomActor
  readonly awareness: Awareness
  /** Presence, sealed on the way out and opened on the way in. */
  readonly presence: SealedPresence
  readonly mesh: Mesh
  readonly relay: RelayPath | null
  /** The room's epochs as this participant follows them (its secret, its duties as moderator). */
  readonly epochs: EpochKeeper
  /** Remote updates refused by the room guard, by reason. */
  readonly refused: Record<string, number> = {}
  #plan: TopologyPlan = { mode: 'mesh', connect: [], sendAudioTo: [], playFrom: [] }
  #mode: Mode = 'mesh'
  #joined = false
  #via: Via = 'mesh'
  /** Relay tracks arriving now, by track: the publisher each one carries, since when. */
  readonly #relayTracks = new Map<MediaStreamTrack, TrackSince>()
  /** The same for mesh tracks (the way back from the relay waits for them to settle). */
  readonly #meshTracks = new Map<MediaStreamTrack, TrackSince>()
  readonly #settleTimers = new Set<unknown>()
  readonly #banGrace: BanGrace
  #switch: SwitchState = INITIAL_SWITCH
  /** Mesh links that do not come up, carried by the relay (pair-route.ts). */
  #pairs: PairState = INITIAL_PAIRS
  readonly #joinMode: JoinMode
  /** In relay mode with nothing on the mesh to hand over from (see route-switch.ts). */
  #straight = false
  readonly #timers: Timers
  readonly #now: () => number
  #local: Local | null = null
  readonly #limits: TopologyLimits
  readonly #bus: SignalBus
  readonly #offs: Array<() => void> = []
  #destroyed = false
  /** The room guard: remote updates are verified (every new entry's signature) before they are stored. */
  readonly #verifier: UpdateVerifier
  readonly #text: RevealedState

  constructor(readonly opts: RoomClientOptions) {
    super()
    this.selfId = keyId(opts.identity.publicKey)
    this.doc = opts.doc ?? new Y.Doc()
    this.#bus = opts.bus
    this.#limits = opts.limits ?? DEFAULT_LIMITS
    const now = opts.now ?? Date.now
    this.#now = now
    this.#timers = opts.mesh?.timers ?? realTimers
    this.#banGrace = new BanGrace(this.#timers, () => this.replan())
    this.#verifier = new UpdateVerifier({ doc: this.doc, roomId: opts.invite.roomId, refuseNothingNew: false })
    this.replica = new RoomReplica(this.doc, { roomId: opts.invite.roomId, now, verified: this.#verifier })
    this.actor = new RoomActor(this.replica, opts.identity, { now, texts: { current: () => this.epochs.sealingKey(), secret: (n) => this.epochs.secretOf(n) } })
    this.epochs = new EpochKeeper({ replica: this.replica, actor: this.actor, linkSecret: opts.invite.secretBytes, linkEpoch: opts.invite.epoch, known: opts.knownSecrets ?? [], now, timers: this.#timers })
    this.awareness = new Awareness(this.doc)
    this.presence = keeperPresence(this.awareness, this.selfId, opts.invite.roomId, this.epochs, { name: opts.name ?? '', level: 0 })
    this.#text = new RevealedState(this.replica, (n) => this.epochs.secretOf(n))
    this.mesh = new Mesh({
      ...opts.mesh,
      bus: opts.bus,
      wrtc: opts.wrtc,
      identity: opts.identity,
      doc: this.doc,
      awareness: this.awareness,
      acceptUpdate: (update) => this.#guard(update),
    })
    this.mesh.on('track', (id, track, stream) => {
      this.#meshTracks.set(track, { id, since: this.#now() })
      this.emit('track', id, track, stream, 'mesh')
      if (this.relay?.state === 'ready') this.#later(RELAY_SETTLE_MS)
    })
    this.mesh.on('track-ended', (id, track) => {
      this.#meshTracks.delete(track)
      this.emit('track-ended', id, track, 'mesh')
    })
    // Relays admit members of the room's current epoch only (docs/room-rules.md §8).
    const member = { member: () => this.epochs.current.member, onHandoff: (entries: Uint8Array[]) => void this.epochs.handoff(entries) }
    this.relay = opts.relay
      ? new RelayPath({ ...opts.relay, client: { ...opts.relay.client, ...member } }, {
          wrtc: opts.wrtc,
          identity: opts.identity,
          roomId: opts.invite.roomId,
          doc: this.doc,
          awareness: this.awareness,
          acceptUpdate: (update) => this.#guard(update),
          syncStats: this.mesh.syncStats,
        })
      : null
    this.relay?.on('track', (id, track, stream) => {
      const nothingToHandOver = (this.relay?.resumed ?? false) || this.#straight
      this.#relayTracks.set(track, { id, since: relayTrackSince(this.#now(), nothingToHandOver, this.#via) })
      this.emit('track', id, track, stream, 'relay')
      this.replan()
      // Re-plan once the new track has had time to deliver audio (see RELAY_SETTLE_MS).
      this.#later(RELAY_SETTLE_MS)
    })
    this.relay?.on('track-ended', (id, track) => {
      this.#relayTracks.delete(track)
      this.emit('track-ended', id, track, 'relay')
      this.replan()
    })
    this.relay?.on('state', (state) => {
      if (state !== 'ready') this.#relayTracks.clear()
      this.replan()
    })
    this.relay?.on('sending', () => this.replan())
    this.#offs.push(
      this.mesh.on('peer-connected', () => this.replan()),
      this.replica.on('change', (diff) => {
        this.emit('state', this.state, diff)
        this.replan()
      }),
      this.mesh.on('present', () => this.replan()),
      this.epochs.on('epoch', () => this.presence.republish()),
      this.epochs.on('secrets', () => this.#onSecrets()),
    )
    this.#joinMode = new JoinMode(this.relay, this.#timers, () => this.replan())
    this.replan()
  }

  /** The validated state, its sealed text opened with the secrets we hold ('' where we hold none). */
  get state(): RoomState {
    return this.#text.state
  }

  /** A secret arrived: text and presence that did not open may open now. */
  #onSecrets(): void {
    const opened = this.#text.refresh()
    if (opened) this.emit('state', opened.state, opened.diff)
    this.presence.reopen()
  }

  get plan(): TopologyPlan {
    return this.#plan
  }

  /** The path audio is played from now: the relay once it is ready, else the mesh. */
  get via(): Via {
    return this.#via
  }

  /**
   * Whether audio from this participant, arriving over `via`, may be played:
   * only speakers of the validated state, and each over one path only (during
   * a switch both paths carry the voice; playing both would double it). The
   * relay's copy wins as soon as the relay forwards that speaker.
   */
  mayPlay(id: string, via: Via = 'mesh'): boolean {
    // A speaker a moderator muted, or a key kicked out, is silent whatever it sends (docs/room-rules.md §10).
    if (!this.#plan.playFrom.includes(id) || this.replica.state.muted.has(id) || this.replica.state.kicked.has(id)) return false
    const route = { mode: this.#plan.mode, via: this.#via, relayed: this.#pairs.relayed }
    return via === (playsFromRelay(route, this.relay, [...this.#relayTracks.values()], id, this.#now()) ? 'relay' : 'mesh')
  }

  /** Peers the mesh cannot reach whose pair the relay carries (mesh mode). */
  get relayedPeers(): readonly string[] {
    return this.#pairs.relayed
  }

  /** Re-plans after `ms` (time-based steps of a switch). */
  #later(ms: number): void {
    const timer = this.#timers.setTimeout(() => {
      this.#settleTimers.delete(timer)
      this.replan()
    }, ms)
    this.#settleTimers.add(timer)
  }

  /** This participant's microphone (or tone); sent only while it is a speaker. */
  setLocalAudio(local: Local | null): void {
    this.#local = local
    this.mesh.setLocalAudio(local)
    this.replan()
  }

  /**
   * Seeds the doc with what the link carries (the owner's genesis, so a room
   * can start before any other peer is online) and redeems its grant once.
   */
  async join(): Promise<void> {
    const { invite } = this.opts
    await this.replica.whenSettled() // entries restored from storage count before we seed
    if (invite.genesis && !this.replica.state.exists) {
      const log = logOf(this.doc)
      this.doc.transact(() => log.push([invite.genesis!, ...(invite.seed ?? [])]))
      await this.replica.whenSettled()
    }
    if (invite.pass && invite.grant && this.replica.state.exists && !this.#redeemed()) {
      await this.actor.redeemLinkGrant(invite.pass!)
    }
  }

  /**
   * The network changed under us (network-switch.ts): every link restarts from the new address,
   * ICE on the mesh (data channels kept) and the relay path made anew (its sync starts over).
   */
  restartLinks(): void {
    if (this.#destroyed) return
    this.mesh.restartIce()
    this.relay?.reconnect()
  }

  /** Publishes presence fields (name, speaking level) to the room, sealed. */
  setPresence(p: Presence): void {
    this.presence.set(p)
  }

  replan(): void {
    if (this.#destroyed) return
    const state = this.replica.state
    const present = [...this.mesh.present].filter((id) => !state.banned.has(id) && !state.kicked.has(id))
    const selfBanned = state.banned.has(this.selfId) || state.kicked.has(this.selfId)
    this.#banGrace.update(state, this.selfId, this.mesh.connected)
    const input = {
      self: this.selfId,
      present: selfBanned ? [] : present,
      speakers: new Set(state.ended ? [] : state.stage.map((s) => s.key)),
      relayAvailable: this.relay?.available ?? false,
      current: this.#mode,
      joined: this.#joined,
      roomMode: this.#joinMode?.roomMode ?? null,
    }
    const plan = planTopology(input, this.#limits)
    if (plan.mode !== 'relay') this.#straight = false
    // Decided on entering relay mode. A joiner told that the room is on the relay has built no mesh (it asked first).
    else if (this.#mode !== 'relay') this.#straight = this.mesh.connected.length === 0 && this.#meshTracks.size === 0
    this.#mode = plan.mode
    if (plan.mode !== 'full') this.#joined = true
    const changed = JSON.stringify(plan) !== JSON.stringify(this.#plan)
    this.#plan = plan
    this.#route(plan, () => planTopology({ ...input, relayAvailable: false, current: 'mesh', roomMode: null }, this.#limits))
    if (changed) this.emit('plan', plan)
    this.emit('playable')
  }

  /**
   * Carries the plan out, make-before-break (see route-switch.ts): switching to the relay
   * keeps the mesh until the relay carries every voice; switching back keeps the relay until
   * the mesh reaches everyone, so a listener hears no gap.
   */
  #route(plan: TopologyPlan, meshPlan: () => TopologyPlan): void {
    const relay = this.relay
    const speaking = this.state.seatOf.has(this.selfId) && !this.state.ended
    const meshTracks = [...this.#meshTracks.values()]
    const pairs = pairRoutes({ mode: plan.mode, connect: relay ? plan.connect : [], connected: this.mesh.connected, playFrom: plan.playFrom, meshTracks, now: this.#now(), prev: this.#pairs })
    const pairsBefore = this.#pairs
    this.#pairs = pairs.state
    for (const ms of pairs.waits) this.#later(ms)
    const step = switchRoute({
      plan,
      relay,
      relayTracks: [...this.#relayTracks.values()],
      meshTracks,
      meshConnected: this.mesh.connected,
      relayed: pairs.state.relayed,
      speaking,
      hasLocal: this.#local !== null,
      straight: this.#straight,
      now: this.#now(),
      prev: this.#switch,
    })
    // Stored before acting: starting or stopping the relay re-plans from within (its events).
    this.#switch = step.state
    if (step.replanIn !== null) this.#later(step.replanIn)
    if (step.relay === 'start') relay?.start()
    const meshNow = step.mesh === 'plan' ? plan : meshPlan()
    const grace = this.#banGrace.peers.filter((id) => !meshNow.connect.includes(id))
    this.mesh.apply(grace.length ? { ...meshNow, connect: [...meshNow.connect, ...grace] } : meshNow)
    if (step.relay === 'stop') relay?.stop()
    relay?.setSending(speaking ? this.#local : null)
    if (step.via !== this.#via) {
      this.#via = step.via
      this.emit('route', step.via, relay?.state ?? 'idle')
    }
    for (const [peer, via] of pairChanges(pairsBefore.relayed, pairs.state.relayed)) this.emit('pair-route', peer, via)
  }

  /** The room guard for remote updates (mesh and relay): refusals are counted by reason. */
  async #guard(update: Uint8Array): Promise<boolean> {
    const verdict = await this.#verifier.verify(update)
    if (!verdict.ok) this.refused[verdict.reason] = (this.refused[verdict.reason] ?? 0) + 1
    return verdict.ok
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const off of this.#offs) off()
    for (const t of this.#settleTimers) this.#timers.clearTimeout(t)
    this.#banGrace.destroy()
    this.#joinMode.destroy()
    this.epochs.destroy()
    this.relay?.destroy()
    this.mesh.destroy()
    this.presence.destroy()
    this.awareness.destroy()
    this.replica.destroy()
    this.#verifier.destroy()
    this.removeAllListeners()
  }

  #redeemed(): boolean {
    const state = this.replica.state
    const role = this.actor.role
    if (role === 'owner' || role === 'banned') return true
    const grant = this.opts.invite.grant!
    return grant.role === 'moderator' ? state.moderators.has(this.selfId) : state.seatOf.has(this.selfId)
  }
}
