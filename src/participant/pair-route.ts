/**
 * Pairs the mesh cannot connect, carried by the relay: a pure step, like route-switch.ts.
 *
 * Two peers behind symmetric NATs (many mobile carriers, CGNAT) or a network that drops
 * what ICE tries never get a direct link, and a mesh room left them silent. So in mesh mode
 * a planned peer whose link has not been up for PAIR_RELAY_MS is *relayed*: RoomClient then
 * starts the room's relay path (subscribe, and publish while on stage) and plays that peer's
 * voice from the relay. The other side decides the same from its own failed link, so both
 * directions are covered without a message between them. The mesh keeps retrying the link
 * (mesh.ts backs off to 15 s); a pair whose link comes up later goes back to it
 * make-before-break: once the link has been up RELAY_LEAVE_MESH_MS (the other side's mesh copy
 * of our voice has had time to settle too) and the peer's mesh track has settled, if it speaks.
 *
 * Why a deadline rather than ICE 'failed': libwebrtc reports 'failed' only after its checks
 * have run out (tens of seconds across two symmetric NATs), and a link that is merely slow
 * costs little when relayed for a while: it comes back once up.
 *
 * Only mesh mode has pairs: in relay mode everyone is on the relay anyway, so the state is
 * cleared and the clocks start again when the room returns to the mesh.
 */
import { RELAY_LEAVE_MESH_MS, RELAY_SETTLE_MS, type TrackSince } from './route-switch.ts'

/** A planned mesh link not up for this long is carried by the relay. */
export const PAIR_RELAY_MS = 5000

/** Whether a planned peer's mesh link is up, and since when. */
export interface LinkSince {
  readonly up: boolean
  readonly since: number
}

export interface PairState {
  readonly links: Readonly<Record<string, LinkSince>>
  /** Peers whose audio (both ways) goes through the relay, sorted. */
  readonly relayed: readonly string[]
}

export const INITIAL_PAIRS: PairState = { links: {}, relayed: [] }

export interface PairInput {
  mode: 'mesh' | 'relay' | 'full'
  /** The mesh plan's peers (what the mesh is told to connect to). */
  connect: readonly string[]
  /** Peers with a live mesh connection. */
  connected: readonly string[]
  playFrom: readonly string[]
  meshTracks: readonly TrackSince[]
  now: number
  prev: PairState
}

export interface PairStep {
  state: PairState
  /** Re-plan after each of these (ms): a wait began that ends then. */
  waits: number[]
}

export function pairRoutes(input: PairInput): PairStep {
  const { now, prev } = input
  if (input.mode !== 'mesh') return { state: prev.relayed.length || Object.keys(prev.links).length ? INITIAL_PAIRS : prev, waits: [] }
  const connected = new Set(input.connected)
  const was = new Set(prev.relayed)
  const links: Record<string, LinkSince> = {}
  const relayed: string[] = []
  const waits: number[] = []
  for (const id of input.connect) {
    const up = connected.has(id)
    const before = prev.links[id]
    const link = before && before.up === up ? before : { up, since: now }
    links[id] = link
    if (link !== before) {
      if (!up && !was.has(id)) waits.push(PAIR_RELAY_MS)
      if (up && was.has(id)) waits.push(RELAY_LEAVE_MESH_MS)
    }
    const age = now - link.since
    const settled = !input.playFrom.includes(id) || input.meshTracks.some((t) => t.id === id && t.since <= now - RELAY_SETTLE_MS)
    if (was.has(id) ? !(up && age >= RELAY_LEAVE_MESH_MS && settled) : !up && age >= PAIR_RELAY_MS) relayed.push(id)
  }
  relayed.sort()
  const same = relayed.length === prev.relayed.length && relayed.every((id, i) => id === prev.relayed[i])
  return { state: { links, relayed: same ? prev.relayed : relayed }, waits }
}

/** What changed between two `relayed` lists: each peer with the path it is on now. */
export function pairChanges(before: readonly string[], after: readonly string[]): Array<[string, 'mesh' | 'relay']> {
  if (before === after) return []
  return [...after.filter((id) => !before.includes(id)).map((id) => [id, 'relay'] as [string, 'relay']), ...before.filter((id) => !after.includes(id)).map((id) => [id, 'mesh'] as [string, 'mesh'])]
}
