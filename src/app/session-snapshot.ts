/**
 * What a browser session shows: its mode (connecting, mesh, relay, offline), the problem
 * to put in front of the room, and the `RoomSnapshot` built from the validated state and
 * what is live right now. Functions of the session's parts, read on every change; the
 * only state kept here is a cache of key fingerprints (pure of the key).
 */
import { fingerprint, publicKeyFromId } from '../identity/index.ts'
import type { PeerStats } from '../net/peer.ts'
import type { SignalClient } from '../net/signal-client.ts'
import { REPLACED_MESSAGE } from '../participant/epoch-keeper.ts'
import type { RoomClient } from '../participant/room-client.ts'
import type { E2eeStats } from './e2ee.ts'
import { peerLinks } from './peer-links.ts'
import { presenceOf } from './room-links.ts'
import { buildSnapshot } from './snapshot.ts'
import type { ChatLine, RoomMode, RoomProblem, RoomSnapshot, SavedRecording } from './types.ts'

/** What the snapshot is built from: the session's parts and what it measured. */
export interface SnapshotParts {
  client: RoomClient
  signal: Pick<SignalClient, 'connected'>
  online: () => boolean
  signalUnreachable: boolean
  /** A network switch is being handled (reconnecting.ts). */
  reconnecting: boolean
  /** The room moved to an epoch we hold no box of. */
  replaced: boolean
  profileName: string
  micProblem: RoomProblem | undefined
  /** The local mute choice while it is being written. */
  pendingMute: boolean | undefined
  levels: ReadonlyMap<string, number>
  peerStats: ReadonlyMap<string, PeerStats>
  e2ee: E2eeStats | undefined
  audioBlocked: boolean
  fingerprintOf: (id: string) => string
  leaveRequested: boolean
  reactions: ReadonlyMap<string, { emoji: string; seq: number }>
  chat: ChatLine[]
  recordings: SavedRecording[]
}

/**
 * Offline: the browser says so, or nothing answers at all (signalling unreachable and no
 * peer connected). navigator.onLine alone misses captive portals and LANs without a route,
 * and stays true in a page loaded while the network is down in some browsers.
 */
export function isOffline(p: Pick<SnapshotParts, 'online' | 'signalUnreachable' | 'client'>): boolean {
  return !p.online() || (p.signalUnreachable && p.client.mesh.connected.length === 0)
}

export function roomMode(p: SnapshotParts): { mode: RoomMode; reason?: string } {
  if (isOffline(p)) return { mode: 'offline' }
  const plan = p.client.plan
  if (plan.mode === 'full') return { mode: 'mesh', ...(plan.reason ? { reason: plan.reason } : {}) }
  if (p.reconnecting) return { mode: 'reconnecting' }
  if (p.client.via === 'relay') return { mode: 'relay' }
  if (!p.signal.connected && p.client.mesh.connected.length === 0) return { mode: 'connecting' }
  return { mode: 'mesh' }
}

export function roomProblem(p: SnapshotParts): RoomProblem | undefined {
  const s = p.client.state
  const self = p.client.selfId
  if (s.banned.has(self)) return { code: 'banned', message: 'A moderator removed you from this room.' }
  const kick = s.kicked.get(self)
  if (kick) return { code: 'kicked', message: `A moderator removed you from this room until ${untilText(kick.until)}. You can come back then.` }
  if (p.replaced) return { code: 'link-replaced', message: REPLACED_MESSAGE }
  if (p.client.plan.mode === 'full') return { code: 'room-full', message: p.client.plan.reason ?? 'The room is full.' }
  if (p.micProblem) return p.micProblem
  if (isOffline(p)) return { code: 'offline', message: 'You are offline.' }
  return undefined
}

export function sessionSnapshot(p: SnapshotParts): RoomSnapshot {
  const client = p.client
  const { present, names } = presenceOf(client)
  const { mode, reason } = roomMode(p)
  const problem = roomProblem(p)
  const e2ee = p.e2ee
  const nameOf = (id: string): string => client.state.profiles.get(id)?.name || names.get(id) || ''
  const snapshot = buildSnapshot(client.state, {
    selfId: client.selfId,
    selfName: p.profileName,
    present,
    names,
    levels: p.levels,
    ...(p.pendingMute !== undefined ? { selfMuted: p.pendingMute } : {}),
    fingerprintOf: p.fingerprintOf,
    mode,
    ...(reason ? { modeReason: reason } : {}),
    peers: peerLinks(client.mesh.connected, p.peerStats, nameOf, e2ee?.undecryptable),
    e2ee: { on: e2ee !== undefined, undecryptable: Object.values(e2ee?.undecryptable ?? {}).reduce((a, b) => a + b, 0) },
    refused: client.refused,
    audioBlocked: p.audioBlocked,
    ...(problem ? { problem } : {}),
    reactions: p.reactions,
    chat: p.chat,
    recordings: p.recordings,
  })
  return p.leaveRequested ? { ...snapshot, leaveRequested: true } : snapshot
}

/** Short human fingerprints of participant keys, computed once per key. */
export class Fingerprints {
  readonly #cache = new Map<string, string>()

  of(id: string): string {
    let fp = this.#cache.get(id)
    if (fp === undefined) {
      const pub = publicKeyFromId(id)
      fp = pub ? fingerprint(pub) : id.slice(0, 9)
      this.#cache.set(id, fp)
    }
    return fp
  }
}

/** "14:05", or "Tue 14:05" when it is not today. */
function untilText(at: number): string {
  const d = new Date(at)
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString([], { weekday: 'short' })} ${time}`
}
