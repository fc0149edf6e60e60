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
 */
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { keyId, type Identity } from '../identity/index.ts'
import type { Invite } from '../invite/index.ts'
import { checkRemoteUpdate, RoomActor, RoomReplica, logOf, type RoomState, type RoomDiff } from '../room/index.ts'
import type { SignalBus } from '../net/bus.ts'
import { Mesh, type MeshOptions } from '../net/mesh.ts'
import type { PeerWrtc } from '../net/peer.ts'
import { TypedEmitter } from '../net/peer-emitter.ts'
import { DEFAULT_LIMITS, planTopology, type Mode, type TopologyLimits, type TopologyPlan } from '../net/topology.ts'

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
}

export interface RoomClientEvents {
  state: (state: RoomState, diff: RoomDiff) => void
  plan: (plan: TopologyPlan) => void
  error: (err: Error & { code?: string }) => void
}

export interface Presence {
  name?: string
  /** Speaking level 0..1. */
  level?: number
}

export class RoomClient extends TypedEmitter<RoomClientEvents> {
  readonly selfId: string
  readonly doc: Y.Doc
  readonly replica: RoomReplica
  readonly actor: RoomActor
  readonly awareness: Awareness
  readonly mesh: Mesh
  /** Remote updates refused by the room guard, by reason. */
  readonly refused: Record<string, number> = {}
  #plan: TopologyPlan = { mode: 'mesh', connect: [], sendAudioTo: [], playFrom: [] }
  #mode: Mode = 'mesh'
  #joined = false
  readonly #limits: TopologyLimits
  readonly #bus: SignalBus
  readonly #offs: Array<() => void> = []
  #destroyed = false

  constructor(readonly opts: RoomClientOptions) {
    super()
    this.selfId = keyId(opts.identity.publicKey)
    this.doc = opts.doc ?? new Y.Doc()
    this.#bus = opts.bus
    this.#limits = opts.limits ?? DEFAULT_LIMITS
    const now = opts.now ?? Date.now
    this.replica = new RoomReplica(this.doc, { roomId: opts.invite.roomId, now })
    this.actor = new RoomActor(this.replica, opts.identity, { now })
    this.awareness = new Awareness(this.doc)
    this.awareness.setLocalState({ name: opts.name ?? '', level: 0 } satisfies Presence)
    this.mesh = new Mesh({
      ...opts.mesh,
      bus: opts.bus,
      wrtc: opts.wrtc,
      identity: opts.identity,
      doc: this.doc,
      awareness: this.awareness,
      acceptUpdate: (update) => {
        const verdict = checkRemoteUpdate(update)
        if (!verdict.ok) this.refused[verdict.reason] = (this.refused[verdict.reason] ?? 0) + 1
        return verdict.ok
      },
    })
    this.#offs.push(
      this.replica.on('change', (diff, state) => {
        this.emit('state', state, diff)
        this.replan()
      }),
      this.mesh.on('present', () => this.replan()),
    )
    this.replan()
  }

  get state(): RoomState {
    return this.replica.state
  }

  get plan(): TopologyPlan {
    return this.#plan
  }

  /** Whether audio from this participant may be played (a speaker in the validated state). */
  mayPlay(id: string): boolean {
    return this.#plan.playFrom.includes(id)
  }

  /**
   * Seeds the doc with what the link carries (the owner's genesis, so a room
   * can start before any other peer is online) and redeems its grant once.
   */
  async join(): Promise<void> {
    const { invite } = this.opts
    if (invite.genesis && !this.replica.state.exists) {
      const log = logOf(this.doc)
      this.doc.transact(() => log.push([invite.genesis!]))
      await this.replica.whenSettled()
    }
    if (invite.pass && invite.grant && this.replica.state.exists && !this.#redeemed()) {
      await this.actor.redeemLinkGrant(invite.pass!)
    }
  }

  /** Publishes presence fields (name, speaking level) to the room. */
  setPresence(p: Presence): void {
    const cur = (this.awareness.getLocalState() ?? {}) as Presence
    this.awareness.setLocalState({ ...cur, ...p })
  }

  replan(): void {
    if (this.#destroyed) return
    const state = this.replica.state
    const present = [...this.mesh.present].filter((id) => !state.banned.has(id))
    const selfBanned = state.banned.has(this.selfId)
    const plan = planTopology(
      {
        self: this.selfId,
        present: selfBanned ? [] : present,
        speakers: new Set(state.ended ? [] : state.stage.map((s) => s.key)),
        relayAvailable: false,
        current: this.#mode,
        joined: this.#joined,
      },
      this.#limits,
    )
    this.#mode = plan.mode
    if (plan.mode !== 'full') this.#joined = true
    const changed = JSON.stringify(plan) !== JSON.stringify(this.#plan)
    this.#plan = plan
    this.mesh.apply(plan)
    if (changed) this.emit('plan', plan)
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const off of this.#offs) off()
    this.mesh.destroy()
    this.awareness.destroy()
    this.replica.destroy()
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
