/**
 * Diffs between two room states, so the UI updates what changed instead of
 * re-reading the world. Lists are keyed by participant key.
 */
import { roleOf, type Hand, type RoomState, type Seat, type Role } from './state.ts'

export interface ListDiff<T> {
  added: T[]
  updated: T[]
  removed: T[]
}

export interface RoleChange {
  key: string
  role: Role
  previous: Role
}

export interface RoomDiff {
  stage: ListDiff<Seat>
  hands: ListDiff<Hand>
  /** Keys whose role changed (listener is the default role). */
  roles: RoleChange[]
  /** Keys whose profile changed. */
  profiles: string[]
  meta: boolean
  ended: boolean
  invites: boolean
  rejected: boolean
  /** The epoch chain, its boxes, the members' keys or the duties changed (§8). */
  epochs: boolean
  /** The chat shown changed: a message came, or one was hidden or voided (§10). */
  chat: boolean
  /** Who is muted or kicked, or the recording, changed (§10). */
  moderation: boolean
}

function listDiff<T extends { key: string }>(prev: readonly T[], next: readonly T[], same: (a: T, b: T) => boolean): ListDiff<T> {
  const before = new Map(prev.map((x) => [x.key, x]))
  const after = new Map(next.map((x) => [x.key, x]))
  const out: ListDiff<T> = { added: [], updated: [], removed: [] }
  for (const [k, v] of after) {
    const p = before.get(k)
    if (!p) out.added.push(v)
    else if (!same(p, v)) out.updated.push(v)
  }
  for (const [k, v] of before) if (!after.has(k)) out.removed.push(v)
  return out
}

/** What changed from `prev` to `next`. */
export function diffStates(prev: RoomState, next: RoomState): RoomDiff {
  const stage = listDiff(prev.stage, next.stage, (a, b) => a.seatId === b.seatId)
  // Position matters for the stage too: report reorders as updates.
  if (stage.added.length === 0 && stage.removed.length === 0) {
    for (let i = 0; i < next.stage.length; i++) {
      if (prev.stage[i]!.key !== next.stage[i]!.key && !stage.updated.includes(next.stage[i]!)) stage.updated.push(next.stage[i]!)
    }
  }
  const hands = listDiff(prev.hands, next.hands, (a, b) => a.raiseId === b.raiseId)
  const keys = new Set<string>()
  const notable = (s: RoomState): void => {
    if (s.owner) keys.add(s.owner)
    for (const k of s.moderators.keys()) keys.add(k)
    for (const k of s.banned.keys()) keys.add(k)
    for (const k of s.seatOf.keys()) keys.add(k)
  }
  notable(prev)
  notable(next)
  const roles: RoleChange[] = []
  for (const k of keys) {
    const a = roleOf(prev, k)
    const b = roleOf(next, k)
    if (a !== b) roles.push({ key: k, role: b, previous: a })
  }
  const profiles: string[] = []
  for (const [k, p] of next.profiles) if (prev.profiles.get(k)?.id !== p.id) profiles.push(k)
  let rejected = false
  for (const r in next.rejected) if (next.rejected[r as keyof RoomState['rejected']] !== prev.rejected[r as keyof RoomState['rejected']]) rejected = true
  return {
    stage,
    hands,
    roles,
    profiles,
    meta: prev.exists !== next.exists || prev.meta?.id !== next.meta?.id || prev.title !== next.title || prev.topic !== next.topic,
    ended: prev.ended !== next.ended,
    invites: prev.invites.length !== next.invites.length || prev.invites.some((x, i) => x.id !== next.invites[i]!.id),
    rejected,
    epochs: epochsChanged(prev.epochs, next.epochs),
    chat: prev.chat.length !== next.chat.length || prev.chat.some((m, i) => m.id !== next.chat[i]!.id),
    moderation: moderationChanged(prev, next),
  }
}

function moderationChanged(a: RoomState, b: RoomState): boolean {
  const ids = (m: ReadonlyMap<string, { id: string }>) => [...m].map(([k, v]) => `${k} ${v.id}`).join()
  return a.recording?.id !== b.recording?.id || ids(a.muted) !== ids(b.muted) || ids(a.kicked) !== ids(b.kicked)
}

function epochsChanged(a: RoomState['epochs'], b: RoomState['epochs']): boolean {
  const boxes = (e: RoomState['epochs']) => [...(e.current?.boxes.values() ?? [])].reduce((n, l) => n + l.length, 0)
  return (
    a.current?.id !== b.current?.id || a.encKeys.size !== b.encKeys.size || a.rotationDue !== b.rotationDue ||
    a.unsealed.length !== b.unsealed.length || boxes(a) !== boxes(b)
  )
}

/** True when a diff carries no change at all. */
export function isEmptyDiff(d: RoomDiff): boolean {
  const empty = (l: ListDiff<unknown>) => l.added.length === 0 && l.updated.length === 0 && l.removed.length === 0
  return empty(d.stage) && empty(d.hands) && d.roles.length === 0 && d.profiles.length === 0 && !d.meta && !d.ended && !d.invites && !d.rejected && !d.epochs && !d.chat && !d.moderation
}
