/**
 * What `stoop mod` does once its session has synced: read the validated
 * state, or act through the RoomActor (every entry signed by the session's
 * key; the room rules decide, as on every replica). IDs on the command line
 * are participant ids or unique prefixes of the ids this member knows of.
 */
import { CodedError } from '../base/errors.ts'
import { publicKeyFromId, randomBytes, toBase64url } from '../identity/index.ts'
import type { CurrentEpoch } from '../participant/epoch-keeper.ts'
import type { Invite } from '../invite/index.ts'
import type { RoomClient } from '../participant/room-client.ts'
import { linkSeed, MAX_KICK_MS, revealChat, roleOf, type RoomState } from '../room/index.ts'
import type { SecretOf } from '../room/reveal.ts'
import { UsageError } from './options.ts'
import { mintLinks } from './room-create.ts'

export const MOD_ACTIONS = ['state', 'invite', 'move', 'ban', 'unban', 'revoke', 'links', 'end', 'rotate', 'mute', 'kick', 'record', 'hide', 'transfer'] as const
export type ModAction = (typeof MOD_ACTIONS)[number]
const WITH_ID: readonly ModAction[] = ['invite', 'move', 'ban', 'unban', 'revoke', 'mute', 'kick', 'record', 'hide', 'transfer']

export interface ModCommand {
  action: ModAction
  /** The ID as typed (a prefix is resolved once the state is known); `record`: on or off. */
  target: string | null
  /** `kick --for SECONDS`, in ms. */
  forMs?: number
}

export type ModErrorCode = 'unknown-participant' | 'ambiguous-participant' | 'not-moderator' | 'no-epoch' | 'unknown-message'

export class ModError extends CodedError<ModErrorCode> {}

/** `<action> [ID]` (and `kick`'s `--for SECONDS`), checked before anything is joined (UsageError: exit 2). */
export function parseModCommand(words: readonly string[], forSeconds?: string): ModCommand {
  const [action, target, ...extra] = words
  if (action === undefined) throw new UsageError(`stoop mod needs an action: ${MOD_ACTIONS.filter((a) => a !== 'rotate').join(', ')}`)
  if (!(MOD_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown stoop mod action "${action}" (try: ${MOD_ACTIONS.join(', ')})`)
  const act = action as ModAction
  const needsId = WITH_ID.includes(act)
  if (needsId && !target) throw new UsageError(`stoop mod ${act} needs ${act === 'record' ? 'on or off' : act === 'hide' ? 'a message ID (stoop mod state lists them)' : 'a participant ID (or a unique prefix of one)'}`)
  const unexpected = needsId ? extra : target === undefined ? [] : [target, ...extra]
  if (unexpected.length > 0) throw new UsageError(`stoop mod ${act}: unexpected "${unexpected.join(' ')}"`)
  if (act === 'record' && target !== 'on' && target !== 'off') throw new UsageError(`stoop mod record needs on or off, got "${target}"`)
  if ((act === 'kick') !== (forSeconds !== undefined)) throw new UsageError(act === 'kick' ? 'stoop mod kick needs --for SECONDS' : `--for goes with kick, not ${act}`)
  const forMs = forSeconds === undefined ? undefined : Number(forSeconds) * 1000
  if (forMs !== undefined && !(Number.isFinite(forMs) && forMs >= 1000 && forMs <= MAX_KICK_MS)) {
    throw new UsageError(`--for must be 1 to ${MAX_KICK_MS / 1000} seconds, got "${forSeconds}"`)
  }
  return { action: act, target: needsId ? target! : null, ...(forMs !== undefined ? { forMs: Math.round(forMs) } : {}) }
}

/** The id of a message the room shows that `input` names (the whole id, or a unique prefix). */
export function resolveMessage(input: string, state: RoomState): string {
  const matches = state.chat.filter((m) => m.id.startsWith(input)).map((m) => m.id)
  if (matches.length === 1) return matches[0]!
  throw new ModError('unknown-message', matches.length === 0 ? `no message shown in this room has an id starting with "${input}"` : `"${input}" is the start of ${matches.length} message ids: give more of it`)
}

/** Every participant id this member knows of: keys named by the validated state, and who is present now. */
export function knownParticipants(state: RoomState, present: Iterable<string>): Set<string> {
  const ids = new Set<string>([...state.participants, ...present, ...state.moderators.keys(), ...state.banned.keys(), ...state.profiles.keys()])
  for (const s of state.stage) ids.add(s.key)
  for (const h of state.hands) ids.add(h.key)
  for (const i of state.invites) ids.add(i.subject)
  if (state.owner) ids.add(state.owner)
  return ids
}

/** The full id `input` names: a known id it is a prefix of (exactly one), or itself when it is a whole participant id. */
export function resolveParticipant(input: string, known: Iterable<string>): string {
  const matches = [...new Set(known)].filter((id) => id.startsWith(input)).sort()
  if (matches.length === 1) return matches[0]!
  if (matches.includes(input)) return input
  if (matches.length > 1) {
    const shown = matches.slice(0, 5).map((id) => id.slice(0, Math.max(input.length + 4, 8)) + '...')
    throw new ModError('ambiguous-participant', `"${input}" is the start of ${matches.length} participant ids (${shown.join(', ')}${matches.length > 5 ? ', ...' : ''}): give more of it`)
  }
  if (publicKeyFromId(input) !== null) return input // a participant not seen yet (e.g. banned ahead)
  throw new ModError('unknown-participant', `no participant id known in this room starts with "${input}"`)
}

export interface Person {
  id: string
  name: string
}

/** The `state` result: the validated state, plus who is present now (as far as this member can see), and the chat it can read. */
export function describeRoom(state: RoomState, self: string, present: Iterable<string>, secretOf: SecretOf = () => null): Record<string, unknown> {
  const person = (id: string): Person => ({ id, name: state.profiles.get(id)?.name ?? '' })
  const audience = [...new Set(present)].filter((id) => id !== self && !state.seatOf.has(id) && !state.banned.has(id)).sort()
  return {
    room: state.roomId,
    title: state.title,
    topic: state.topic,
    ended: state.ended,
    you: { id: self, role: roleOf(state, self) },
    owner: state.owner,
    moderators: [...state.moderators.keys()].map(person),
    stage: state.stage.map((s) => person(s.key)),
    audience: audience.map(person),
    hands: state.hands.map((h) => person(h.key)),
    invites: state.invites.map((i) => ({ ...person(i.subject), by: i.by })),
    bans: [...state.banned.keys()].map(person),
    epoch: state.epochs.current && { n: state.epochs.current.n, id: state.epochs.current.id },
    rotationDue: state.epochs.rotationDue,
    muted: [...state.muted].map(([id, m]) => ({ ...person(id), by: m.by, at: m.at })),
    kicked: [...state.kicked].map(([id, k]) => ({ ...person(id), by: k.by, until: k.until })),
    recording: state.recording && { by: state.recording.by, since: state.recording.since },
    chat: revealChat(state, secretOf).map((l) => ({ id: l.id, author: l.author, name: person(l.author).name, text: l.text, at: l.at })),
  }
}

/** Performs a write action (not `state`); the result names what was written (`rotate` and `links`: the current links). */
export async function runModAction(cmd: ModCommand, client: RoomClient, invite: Invite): Promise<Record<string, unknown>> {
  const { actor } = client
  const role = actor.role
  if (role !== 'owner' && role !== 'moderator') {
    throw new ModError('not-moderator', `this key is ${role === 'banned' ? 'banned from' : `a ${role} in`} this room, not a moderator: use a moderator link, or --key with the owner's key`)
  }
  if (cmd.action === 'rotate') await actor.rotate(randomBytes(32), (await currentEpoch(client)).secret)
  if (cmd.action === 'links' || cmd.action === 'rotate') {
    // Links carry the secret of the room's current epoch (docs/room-rules.md §8).
    const epoch = await currentEpoch(client)
    const genesis = invite.genesis ?? (client.state.genesisId ? client.replica.get(client.state.genesisId)?.bytes : undefined)
    const origin = invite.origin ?? process.env.STOOP_ORIGIN ?? 'http://localhost:8787'
    const seed = linkSeed(client.replica.index, client.state)
    const links = await mintLinks(actor, { origin, roomId: invite.roomId, secret: toBase64url(epoch.secret), epoch: Math.max(epoch.n, 0), seed, ...(genesis ? { genesis } : {}) })
    return { room: client.state.roomId, epoch: epoch.n, ...links }
  }
  if (cmd.action === 'end') return { entries: [await actor.endRoom()] }
  if (cmd.action === 'record') {
    const id = cmd.target === 'on' ? await actor.startRecording() : await actor.stopRecording()
    return { on: cmd.target === 'on', entries: id ? [id] : [] }
  }
  if (cmd.action === 'hide') {
    const id = resolveMessage(cmd.target!, client.state)
    return { id, entries: [await actor.hideChat(id)] }
  }
  const id = resolveParticipant(cmd.target!, knownParticipants(client.state, client.mesh.present))
  switch (cmd.action) {
    case 'invite':
      return { id, entries: [await actor.inviteToStage(id)] }
    case 'move':
      return { id, entries: await actor.moveToAudience(id) }
    case 'ban': {
      // The ban rotates the room (our keeper does it at once: we wrote the newest ban).
      const entries = [await actor.ban(id)]
      return { id, entries, epoch: (await currentEpoch(client)).n }
    }
    case 'unban':
      return { id, entries: await actor.unban(id) }
    case 'revoke':
      return { id, entries: await actor.revokeModerator(id) }
    case 'mute':
      return { id, entries: [await actor.mute(id)] }
    case 'kick': {
      const entry = await actor.kick(id, cmd.forMs!)
      return { id, entries: [entry], until: client.state.kicked.get(id)?.until ?? null }
    }
    case 'transfer':
      return { id, entries: [await actor.transferOwnership(id)] }
    default:
      throw new UsageError(`stoop mod ${cmd.action} writes nothing`)
  }
}

/** How long `stoop mod` waits for a rotation it caused (or found due) to be written and opened. */
const EPOCH_WAIT_MS = 10_000

/**
 * The room's current epoch once this member holds it and no rotation is due (a ban just written
 * rotates through the session's EpochKeeper). Fails when this key holds no box of it.
 */
export async function currentEpoch(client: RoomClient): Promise<CurrentEpoch> {
  const ready = (): boolean => {
    const s = client.state.epochs
    return !s.rotationDue && (s.current === null || client.epochs.current.id === s.current.id)
  }
  if (!ready()) {
    await new Promise<void>((resolve, reject) => {
      const offs: Array<() => void> = []
      const done = (err?: Error): void => {
        clearTimeout(timer)
        for (const off of offs) off()
        if (err) reject(err)
        else resolve()
      }
      const timer = setTimeout(() => done(new ModError('no-epoch', 'this key holds no secret of the room\'s current epoch (was it banned, or did it join after the rotation?)')), EPOCH_WAIT_MS)
      const check = (): void => {
        if (ready()) done()
      }
      offs.push(client.on('state', check), client.epochs.on('epoch', check))
    })
  }
  return client.epochs.current
}
