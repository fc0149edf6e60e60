/**
 * What a headless participant does on its own as the room changes: report the
 * state, accept stage invites (when it has something to say), raise its hand
 * once (--raise-hand), and as a moderator invite every raised hand
 * (--invite-hands). Each reply is written once per invite or hand. A ban of
 * its own key ends it (`watchRemoval`).
 */
import type { RoomClient } from '../participant/room-client.ts'
import type { RoomDiff, RoomState } from '../room/index.ts'
import { PeerFailure } from './failure.ts'

/** The one line `stoop peer` ends with when its key is banned. */
export const REMOVED_MESSAGE = 'a moderator removed you from this room'

export interface StageBehaviour {
  acceptInvites: boolean
  raiseHand: boolean
  inviteHands: boolean
}

export type Emit = (event: string, fields?: Record<string, unknown>) => void

export function followStage(client: RoomClient, behaviour: StageBehaviour, emit: Emit): () => void {
  const self = client.selfId
  const answered = new Set<string>()
  const invited = new Set<string>()
  let handRaised = false
  const act = (what: Promise<unknown>, done: () => void, failure: string): void => {
    what.then(done, (err: Error) => emit('warning', { code: failure, message: err.message }))
  }
  return client.on('state', (state, diff) => {
    emit('state', describe(state, diff))
    const invite = behaviour.acceptInvites ? state.invites.find((i) => i.subject === self && !answered.has(i.id)) : undefined
    if (invite) {
      answered.add(invite.id)
      act(client.actor.acceptInvite(invite.id), () => emit('accepted-invite', { by: invite.by }), 'accept-failed')
    }
    if (behaviour.raiseHand && !handRaised && state.exists && !state.seatOf.has(self)) {
      handRaised = true
      act(client.actor.raiseHand(), () => emit('hand-raised'), 'raise-failed')
    }
    const role = client.actor.role
    if (behaviour.inviteHands && !state.ended && (role === 'owner' || role === 'moderator')) {
      for (const hand of state.hands) {
        if (invited.has(hand.raiseId) || state.seatOf.has(hand.key) || state.invites.some((i) => i.subject === hand.key)) continue
        invited.add(hand.raiseId)
        act(client.actor.inviteToStage(hand.key), () => emit('invited', { to: hand.key }), 'invite-failed')
      }
    }
    if (state.ended) emit('room-ended')
  })
}

/** The `state` event: who is on stage, raising hands and moderating, and how many entries of each kind changed. */
function describe(state: RoomState, diff: RoomDiff): Record<string, unknown> {
  const changed: Record<string, number> = {}
  for (const [k, v] of Object.entries(diff)) if (Array.isArray(v) && v.length) changed[k] = v.length
  return {
    stage: state.stage.map((s) => s.key),
    hands: state.hands.map((h) => h.key),
    moderators: [...state.moderators.keys()],
    ended: state.ended,
    diff: changed,
  }
}

/**
 * Ends the participant once its own validated state says its key is banned: a `banned`
 * event (with who banned it), then `fail` with PeerFailure 'banned'. Once only.
 */
export function watchRemoval(client: RoomClient, emit: Emit, fail: (err: PeerFailure) => void): () => void {
  let removed = false
  const check = (state: RoomState): void => {
    const bans = state.banned.get(client.selfId)
    if (removed || !bans) return
    removed = true
    const by = [...new Set(bans.map((id) => client.replica.get(id)?.author).filter((a) => a !== undefined))]
    emit('banned', { id: client.selfId, by })
    fail(new PeerFailure('banned', REMOVED_MESSAGE))
  }
  const off = client.on('state', check)
  check(client.state)
  return off
}
