/**
 * Reactions for a headless participant (the rules of src/participant/reactions.ts, as
 * the browser applies them):
 *
 * - `--react EMOJI` publishes one reaction in presence once this peer reaches someone
 *   (a mesh link or the relay; presence goes nowhere before), and takes it out again
 *   when reactionClearAt says: once shown, or later while someone present has no link
 *   to us yet, so presence re-sent after that (and a late joiner) does not carry it.
 * - `reaction {from, name, emoji, label}` for each new reaction someone else sends,
 *   read from everyone's presence with the receiver's limits (one per person per
 *   second, ROOM_REACTIONS_PER_S in the room; unknown emoji dropped), only from a key
 *   that is present. `name` is the signed profile's name, else the presence name.
 */
import type { RoomClient } from '../participant/room-client.ts'
import { isReaction, reactionClearAt, ReactionFeed, ReactionLimiter, reactionLabel, unreached } from '../participant/reactions.ts'
import type { Emit } from './stage.ts'

export interface HeadlessReactions {
  /** Sends `emoji` once this peer reaches someone; false when it is not one of the set or came too soon. */
  send(emoji: string): boolean
  stop(): void
}

export function followReactions(client: RoomClient, emit: Emit, now: () => number = Date.now): HeadlessReactions {
  const feed = new ReactionFeed()
  const limiter = new ReactionLimiter()
  let pending: string | null = null
  let out: { sentAt: number; clearAt: number; timer: ReturnType<typeof setTimeout> | null } | null = null
  const read = (): void => {
    const present = client.mesh.present
    const t = now()
    for (const { key, presence } of client.presence.peers.values()) {
      if (key === client.selfId || !present.has(key)) continue
      const shown = feed.receive(key, presence.reaction, t)
      if (!shown) continue
      const name = client.state.profiles.get(key)?.name || (typeof presence.name === 'string' ? presence.name.slice(0, 100) : '')
      emit('reaction', { from: key, name, emoji: shown.emoji, label: reactionLabel(shown.emoji) })
    }
  }
  const scheduleClear = (): void => {
    if (out === null) return
    const heard = [...client.presence.peers.values()].map((p) => p.key)
    const clearAt = reactionClearAt(out.sentAt, unreached(client.selfId, client.mesh.present, heard))
    if (clearAt === out.clearAt) return
    out.clearAt = clearAt
    if (out.timer !== null) clearTimeout(out.timer)
    out.timer = setTimeout(() => {
      out = null
      client.setPresence({ reaction: null })
    }, Math.max(0, clearAt - now()))
  }
  const publish = (): void => {
    if (pending === null || !reachable(client)) return
    const field = { emoji: pending, at: now() }
    pending = null
    if (out?.timer) clearTimeout(out.timer)
    out = { sentAt: field.at, clearAt: -1, timer: null }
    client.setPresence({ reaction: field })
    scheduleClear()
  }
  const changed = (): void => {
    read()
    publish()
    scheduleClear()
  }
  const offs = [client.presence.on('change', changed), client.mesh.on('present', changed), client.on('route', changed)]
  return {
    send(emoji) {
      if (!isReaction(emoji) || !limiter.allow('self', now())) return false
      pending = emoji
      publish()
      return true
    },
    stop() {
      for (const off of offs) off()
      if (out?.timer) clearTimeout(out.timer)
    },
  }
}

/** Whether what we publish in presence reaches anyone now. */
function reachable(client: RoomClient): boolean {
  return client.mesh.connected.length > 0 || client.relay?.state === 'ready'
}
