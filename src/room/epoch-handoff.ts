/**
 * The epoch handoff (docs/room-rules.md §8): how a member who was away when the
 * room rotated finds its box, from a relay (or member) that still reaches it on
 * the old epoch's terms.
 *
 * The holder sends only what the box and its authority need: the epoch chain,
 * the current epoch's seals, and the entries that decide who may write them
 * (genesis, owner transfers, moderator grants and redeems, revokes, bans,
 * unbans). No title, name, hand, stage, chat or presence: what a banned key
 * could read from a handoff is who moderates and that the room moved on,
 * never what was said.
 *
 * The receiver checks the handoff against its own log as a partial view
 * (entries count even when what they name as seen is missing; everything is
 * still signature-checked by the caller and authority-checked here), so a
 * relay can withhold entries but cannot forge an epoch.
 */
import type { Entry, EntryKind } from './entry.ts'
import type { EntryIndex } from './entry-index.ts'
import type { Epoch } from './derive/epochs.ts'
import { computeState } from './state.ts'

const AUTHORITY: readonly EntryKind[] = ['genesis', 'transfer', 'grant', 'revoke', 'ban', 'unban']

/** What to hand a member of an older epoch (entry bytes). */
export function epochHandoff(index: EntryIndex, current: Epoch | null): Uint8Array[] {
  if (!current) return []
  const out: Entry[] = []
  for (const kind of AUTHORITY) out.push(...index.buckets[kind])
  out.push(...index.buckets.redeem.filter((r) => r.link.role === 'moderator'))
  out.push(...index.buckets.epoch, ...index.buckets.seal.filter((s) => s.epoch === current.id))
  return out.map((e) => e.bytes)
}

/** The current epoch as our own entries plus a handoff (both verified) show it; null when it shows none. */
export function epochFromHandoff(own: Iterable<Entry>, handoff: Iterable<Entry>, roomId: string, now: number): Epoch | null {
  return computeState([...own, ...handoff], { roomId, now, partial: true }).epochs.current
}

/**
 * What a link carries besides the genesis (the invite's `s=`): epoch 0 and the owner's latest
 * encryption key, so the first joiner seeds them even if the owner never comes back online.
 */
export function linkSeed(index: EntryIndex, state: { owner: string | null; epochs: { chain: readonly Epoch[] } }): Uint8Array[] {
  const seed: Uint8Array[] = []
  const first = state.epochs.chain[0]
  const epoch0 = first ? index.byId.get(first.id) : undefined
  if (epoch0) seed.push(epoch0.bytes)
  let key: Entry | undefined
  for (const k of index.buckets.key) if (k.author === state.owner && (!key || k.time > key.time || (k.time === key.time && k.id > key.id))) key = k
  if (key) seed.push(key.bytes)
  return seed
}
