/**
 * Topology planner: a pure function from who is here (and who may speak) to
 * what this peer should do. Mesh code and relay code only carry the plan out.
 *
 * Invariants:
 * - Audio is only sent by speakers and only played from speakers, whatever a
 *   remote client sends: `playFrom` is always a subset of `speakers`.
 * - Mesh while the room has at most `meshSize` present peers; relay above it
 *   when a relay is reachable; back to mesh only once the room shrinks to
 *   `meshSize - hysteresis` so a room hovering at the limit does not flap.
 * - Without a relay the mesh grows up to `hardCap`; past it newcomers are told
 *   the room is full (they get mode 'full' with a reason).
 * - A joiner goes straight into the room's current mode: told that the room is on
 *   a relay (`roomMode: 'relay'`) it plans the relay whatever its still partial view
 *   of who is present says; while it is still asking (`'asking'`) it connects to
 *   nobody, since a mesh built now could be torn down by the answer.
 */

export interface TopologyLimits {
  meshSize: number
  hysteresis: number
  hardCap: number
}

export const DEFAULT_LIMITS: TopologyLimits = { meshSize: 8, hysteresis: 2, hardCap: 12 }

export type Mode = 'mesh' | 'relay' | 'full'

export interface TopologyInput {
  self: string
  /** Peers present right now, self included or not (self is ignored). */
  present: Iterable<string>
  /** Speakers in the validated room state. */
  speakers: ReadonlySet<string>
  relayAvailable: boolean
  /** The mode this peer is in now (hysteresis needs it). */
  current: Mode
  /** Whether this peer was already in the mesh (an established member is never evicted). */
  joined: boolean
  /** What this peer learnt at join of the room's mode (see the module comment); absent: nothing. */
  roomMode?: 'relay' | 'asking' | null
}

export interface TopologyPlan {
  mode: Mode
  /** Peers to hold a direct connection with. */
  connect: string[]
  /** Peers to send this peer's audio to directly (empty in relay mode). */
  sendAudioTo: string[]
  /** Peers whose audio may be played. */
  playFrom: string[]
  reason?: string
}

export function planTopology(input: TopologyInput, limits: TopologyLimits = DEFAULT_LIMITS): TopologyPlan {
  const others = [...new Set(input.present)].filter((id) => id !== input.self).sort()
  const size = others.length + 1
  const speaking = input.speakers.has(input.self)
  const playFrom = others.filter((id) => input.speakers.has(id))

  let mode: Mode
  if (input.roomMode === 'relay' && input.relayAvailable) {
    mode = 'relay'
  } else if (input.current === 'relay') {
    mode = input.relayAvailable && size > limits.meshSize - limits.hysteresis ? 'relay' : 'mesh'
  } else {
    mode = size > limits.meshSize && input.relayAvailable ? 'relay' : 'mesh'
  }
  if (mode === 'mesh' && size > limits.hardCap && !input.joined) {
    return {
      mode: 'full',
      connect: [],
      sendAudioTo: [],
      playFrom: [],
      reason: `The room is full: ${size - 1} people are here and no relay is reachable (a direct mesh holds ${limits.hardCap}).`,
    }
  }
  if (mode === 'relay') return { mode, connect: [], sendAudioTo: [], playFrom }
  if (input.roomMode === 'asking') return { mode, connect: [], sendAudioTo: [], playFrom }
  return { mode, connect: others, sendAudioTo: speaking ? others : [], playFrom }
}
