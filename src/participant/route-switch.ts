/**
 * The mesh/relay switch as a pure step: from what the plan asks, what the relay and the mesh
 * carry now and the time, what RoomClient does next. Both ways it is make-before-break: the
 * path being left is kept until the new one carries every voice we hear (and ours), so a
 * listener hears no gap; the rules are pinned by test/unit/participant/route-switch.test.ts
 * and explained in docs/relay.md ("The mesh/relay switch and failover").
 *
 * Time is a plain number (ms) passed in, and state is passed in and out, so a switch can be
 * played through on numbers; RoomClient schedules the re-plans the step asks for.
 *
 * A participant with nothing on the mesh to hand over from (it joined a room already on its
 * relay, or its mesh reached nobody yet when the room went past mesh size) goes `straight` to
 * the relay: no mesh of the whole room meanwhile, and the relay is played from once ready.
 *
 * In mesh mode, pairs the mesh cannot connect (pair-route.ts) are `relayed`: the relay is
 * started for them and kept while any is, the rest of the room stays on the mesh, and only
 * those peers' voices are played from the relay.
 */
import type { TopologyPlan } from '../net/topology.ts'
import type { RelayState } from './relay-path.ts'

/** Which path a remote track came over, or audio is played from. */
export type Via = 'mesh' | 'relay'

/**
 * A relay track is played (and the mesh left) only after it has existed this
 * long: its 'track' event comes before the first packet and before the jitter
 * buffer has audio, and switching at the event would cut the voice for that time.
 */
export const RELAY_SETTLE_MS = 500
/** A peer leaves the mesh this long after the relay covers it, so the others' relay copies of its voice have settled too. */
export const RELAY_LEAVE_MESH_MS = 2 * RELAY_SETTLE_MS

/** A remote track arriving now: whose voice it carries and since when (-Infinity: settled from the start). */
export interface TrackSince {
  readonly id: string
  readonly since: number
}

/** What the switch reads of the relay path (RelayPath has these). */
export interface RelayView {
  readonly state: RelayState
  /** The relay forwards our own voice. */
  readonly sending: boolean
  /** Ready on a relay reached by failing over. */
  readonly resumed: boolean
  /** Moving from a failed relay to the next one of the room. */
  readonly failingOver: boolean
}

/** What one step hands to the next. */
export interface SwitchState {
  /** Since when the relay has carried every voice (in relay mode); null while it has not. */
  readonly coveredSince: number | null
  /** Since when the mesh has reached everyone while the relay is still used (back to mesh); null while it has not. */
  readonly meshReachedSince: number | null
  /** Since when the relay has been ready in relay mode (a speaker sending nothing is waited for that long at most); null while it has not. */
  readonly readySince: number | null
}

export const INITIAL_SWITCH: SwitchState = { coveredSince: null, meshReachedSince: null, readySince: null }

export interface SwitchInput {
  plan: Pick<TopologyPlan, 'mode' | 'connect' | 'playFrom'>
  /** Null when this participant has no relay configured. */
  relay: RelayView | null
  relayTracks: readonly TrackSince[]
  meshTracks: readonly TrackSince[]
  /** Peers the mesh has a live connection with. */
  meshConnected: readonly string[]
  /** We are on stage (and the room has not ended). */
  speaking: boolean
  /** A local track to send exists. */
  hasLocal: boolean
  /** Nothing on the mesh to hand over from (see the module comment); decided by RoomClient on entering relay mode. */
  straight?: boolean
  /** Mesh mode: peers the mesh cannot reach, carried by the relay (pair-route.ts). */
  relayed?: readonly string[]
  now: number
  prev: SwitchState
}

export interface SwitchStep {
  /** What the mesh carries out: the plan itself, or the mesh plan of the whole room while the relay cannot take over yet. */
  mesh: 'plan' | 'fallback'
  relay: 'start' | 'stop' | 'keep'
  /** The path audio is played from. */
  via: Via
  state: SwitchState
  /** Re-plan after this many ms (a wait of the switch ends then); null: no new wait began. */
  replanIn: number | null
}

/** A track from `id` has existed for RELAY_SETTLE_MS: its jitter buffer has audio. */
function settled(tracks: readonly TrackSince[], id: string, now: number): boolean {
  const before = now - RELAY_SETTLE_MS
  return tracks.some((t) => t.id === id && t.since <= before)
}

/** Whether the relay's copy of `id` is the one to play (each voice is played over one path only). */
export function relayCarries(relay: Pick<RelayView, 'state'> | null, relayTracks: readonly TrackSince[], id: string, now: number): boolean {
  return relay?.state === 'ready' && settled(relayTracks, id, now)
}

/**
 * When a relay track counts as arrived. With no mesh copy to hand over from (after a
 * failover, or the mesh was left already, e.g. a speaker moving between cascaded relays)
 * it plays at once.
 */
export function relayTrackSince(now: number, resumed: boolean, via: Via): number {
  return resumed || via === 'relay' ? -Infinity : now
}

/**
 * Whether `id`'s voice is played from the relay's copy: in relay mode, on the way back from it
 * (`via` relay), or for a relayed pair; and only once the relay carries it (settled).
 */
export function playsFromRelay(route: { mode: TopologyPlan['mode']; via: Via; relayed: readonly string[] }, relay: Pick<RelayView, 'state'> | null, relayTracks: readonly TrackSince[], id: string, now: number): boolean {
  const wanted = route.mode === 'relay' || route.via === 'relay' || route.relayed.includes(id)
  return wanted && relayCarries(relay, relayTracks, id, now)
}

export function switchRoute(input: SwitchInput): SwitchStep {
  const { relay, plan } = input
  if (relay && plan.mode === 'relay') return towardsRelay(input, relay)
  if (relay?.state === 'ready') return backToMesh(input)
  // A pair the mesh cannot connect: the relay carries it (the relay path starts when it can).
  const start = relay !== null && plan.mode === 'mesh' && (input.relayed?.length ?? 0) > 0
  return { mesh: 'plan', relay: start ? 'start' : 'keep', via: 'mesh', state: input.prev, replanIn: null }
}

function towardsRelay(input: SwitchInput, relay: RelayView): SwitchStep {
  const { plan, now, prev } = input
  const readySince = relay.state === 'ready' ? (prev.readySince ?? now) : null
  // A speaker with no track on the relay nor on the mesh sends nothing (on stage without a
  // microphone): there is nothing of theirs to hand over, so they are not waited for long.
  const silent = (id: string): boolean =>
    readySince !== null && now - readySince >= RELAY_LEAVE_MESH_MS && !input.relayTracks.some((t) => t.id === id) && !input.meshTracks.some((t) => t.id === id)
  // Leave the mesh only once the relay carries everything: every speaker we
  // hear, and our own voice if we speak.
  const covered =
    readySince !== null &&
    plan.playFrom.every((id) => settled(input.relayTracks, id, now) || silent(id)) &&
    (!input.speaking || !input.hasLocal || relay.sending)
  const coveredSince = covered ? (prev.coveredSince ?? now) : null
  const newly = (covered && prev.coveredSince === null) || (readySince !== null && prev.readySince === null)
  const kept = {
    relay: 'start',
    state: { coveredSince, meshReachedSince: null, readySince },
    replanIn: newly ? RELAY_LEAVE_MESH_MS : null,
  } as const
  // Others may still be playing our mesh copy until their relay copy settles: wait for them too.
  // A resumed relay has no mesh copy to wait for.
  if (coveredSince !== null && (relay.resumed || now - coveredSince >= RELAY_LEAVE_MESH_MS)) {
    return { ...kept, mesh: 'plan', via: 'relay' }
  }
  // Nothing to make before breaking: a mesh built now would only be torn down again.
  if (input.straight) return { ...kept, mesh: 'plan', via: relay.state === 'ready' ? 'relay' : 'mesh' }
  // Moving to another relay of the room: it carries the same speakers (cascade); a mesh of
  // the whole room meanwhile would cost more than the short gap.
  if (relay.failingOver) return { ...kept, mesh: 'plan', via: 'mesh' }
  return { ...kept, mesh: 'fallback', via: 'mesh' }
}

/**
 * Back to the mesh, make-before-break too: the relay is left once the mesh reaches everyone
 * and its copy of every speaker we hear has settled (a speaker who sends nothing over the mesh
 * holds it up for RELAY_LEAVE_MESH_MS at most). Relayed pairs count as reached and keep the
 * relay (for them only) while there are any.
 */
function backToMesh(input: SwitchInput): SwitchStep {
  const { plan, now, prev } = input
  const connected = new Set(input.meshConnected)
  const pairs = new Set(input.relayed ?? [])
  const reached = plan.connect.every((id) => connected.has(id) || pairs.has(id))
  const meshReachedSince = reached ? (prev.meshReachedSince ?? now) : null
  const waited = meshReachedSince !== null && now - meshReachedSince >= RELAY_LEAVE_MESH_MS
  const leave = reached && (waited || plan.playFrom.every((id) => pairs.has(id) || settled(input.meshTracks, id, now)))
  return {
    mesh: 'plan',
    relay: leave && pairs.size === 0 ? 'stop' : 'keep',
    via: leave ? 'mesh' : 'relay',
    state: { coveredSince: prev.coveredSince, meshReachedSince, readySince: null },
    replanIn: reached && prev.meshReachedSince === null ? RELAY_LEAVE_MESH_MS : null,
  }
}
