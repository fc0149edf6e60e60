/**
 * Links to a room as this member can give them: always with the secret of the
 * room's current epoch (docs/room-rules.md §8), so a link shared after a
 * rotation opens the room, and a pass (speaker/moderator) signed by our key.
 */
import { formatInvite, type Invite } from '../invite/index.ts'
import type { RoomClient } from '../participant/room-client.ts'
import type { InviteRole } from './types.ts'
import { linkSeed } from '../room/index.ts'

/** The room's link with `secret` and no pass: what the recent-rooms list keeps. */
export function roomLink(invite: Invite, origin: string, secret: Uint8Array, epoch: number): string {
  return formatInvite({ origin, roomId: invite.roomId, secret, epoch, ...(invite.genesis ? { genesis: invite.genesis } : {}), ...(invite.seed ? { seed: invite.seed } : {}) })
}

/** A new invite link for `role` (a listener link carries no pass). */
export async function inviteLink(client: RoomClient, origin: string, role: InviteRole): Promise<string> {
  const state = client.state
  const genesis = state.genesisId ? client.replica.get(state.genesisId)?.bytes : undefined
  const seed = linkSeed(client.replica.index, state)
  const { secret, n } = client.epochs.current
  const base = { origin, roomId: state.roomId, secret, epoch: Math.max(n, 0), seed, ...(genesis ? { genesis } : {}) }
  if (role === 'listener') return formatInvite(base)
  const grant = await client.actor.createLinkGrant({ role, singleUse: true })
  return formatInvite({ ...base, grant })
}

/**
 * Who is here: everyone announcing themselves on the room's signalling topic (sealed with
 * the room key, so only members) or connected to us directly. In a relay room nobody is
 * connected directly, so the mesh's connections alone would list an empty room.
 */
export function presenceOf(client: RoomClient): { present: Set<string>; names: Map<string, string> } {
  const present = client.mesh.present
  const names = new Map<string, string>()
  // Presence is sealed for members (src/participant/presence.ts) but unsigned: names from
  // signed profiles come first, and a presence name is believed only for a key that is present.
  for (const { key, presence } of client.presence.peers.values()) {
    const name = presence.name
    if (typeof name === 'string' && name && present.has(key)) names.set(key, name.slice(0, 100))
  }
  return { present, names }
}
