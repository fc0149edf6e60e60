/**
 * Epochs (docs/room-rules.md §8): which secret the room uses now, who holds it,
 * and whether a moderator must rotate.
 *
 * The epochs form a chain from the genesis: epoch n names epoch n-1 (epoch 0
 * names the genesis) as its parent. Where moderators rotated concurrently, the
 * child with the lowest id continues the chain and the others are ignored
 * (not rejected: their seals simply open nothing that counts). Epoch 0's
 * secret is the one in the room's first links; every later secret reaches
 * members only in boxes sealed to their encryption keys.
 *
 * A rotation is due when a banned key can still hold the current secret:
 * the room is still in epoch 0 (or has no epoch entry) while someone is
 * banned, or a banned key has a box of the current epoch. `unsealed` lists
 * members with an encryption key and no box, for a moderator to seal to.
 */
import { fromBase64url, toBase64url } from '../../identity/index.ts'
import type { Of } from '../entry-index.ts'
import { boxTag } from '../epoch-keys.ts'
import type { Authority } from './authority.ts'
import { privilegeReason, type Bans } from './bans.ts'
import { byTimeThenId } from './collections.ts'
import type { Ledger } from './ledger.ts'

export interface Epoch {
  id: string
  n: number
  author: string
  /** Ed25519 membership public key (relays check proofs against it). */
  member: Uint8Array
  check: Uint8Array
  /** Boxes by recipient tag (base64url of the tag); a tag may collide and late seals add more, so a list. */
  boxes: ReadonlyMap<string, readonly Box[]>
}

/** One sealed copy of an epoch's secret, with the ephemeral key of its seal entry. */
export interface Box {
  eph: Uint8Array
  box: Uint8Array
}

export interface Epochs {
  /** The chain from epoch 0 to the current epoch (empty when no epoch entry counts yet). */
  chain: readonly Epoch[]
  /** The last of `chain`, or null. */
  current: Epoch | null
  /** Member key -> its X25519 encryption key (latest valid `key` entry). */
  encKeys: ReadonlyMap<string, Uint8Array>
  /** A banned key may hold the current secret: a moderator must rotate. */
  rotationDue: boolean
  /** Members with an encryption key but no box of the current epoch (epochs >= 1 only). */
  unsealed: readonly string[]
}

function encKeysOf(keys: readonly Of<'key'>[], bans: Bans, ledger: Ledger): Map<string, Uint8Array> {
  const best = new Map<string, Of<'key'>>()
  for (const k of keys) {
    if (bans.isBanned(k.author)) ledger.reject(k, 'banned')
    else {
      const cur = best.get(k.author)
      if (!cur || byTimeThenId(cur, k) < 0) best.set(k.author, k)
    }
  }
  return new Map([...best].map(([author, k]) => [author, k.enc]))
}

function chainOf(epochs: readonly Of<'epoch'>[], genesisId: string, authority: Authority, bans: Bans, ledger: Ledger): Of<'epoch'>[] {
  const children = new Map<string, Of<'epoch'>[]>()
  for (const e of epochs) {
    const why = privilegeReason(e, authority, bans)
    if (why) ledger.reject(e, why)
    else {
      const list = children.get(e.parent) ?? []
      list.push(e)
      children.set(e.parent, list)
    }
  }
  const chain: Of<'epoch'>[] = []
  let parent = genesisId
  for (;;) {
    const next = (children.get(parent) ?? []).filter((e) => e.n === chain.length).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0]
    if (!next) return chain
    chain.push(next)
    parent = next.id
  }
}

function boxesOf(epochId: string, seals: readonly Of<'seal'>[], authority: Authority, bans: Bans, ledger: Ledger): Map<string, Box[]> {
  const boxes = new Map<string, Box[]>()
  for (const s of seals) {
    if (s.epoch !== epochId) continue
    const why = privilegeReason(s, authority, bans)
    if (why) {
      ledger.reject(s, why)
      continue
    }
    for (const b of s.boxes) {
      const tag = toBase64url(b.to)
      boxes.set(tag, [...(boxes.get(tag) ?? []), { eph: s.eph, box: b.box }])
    }
  }
  return boxes
}

/** §8: the epoch chain, members' encryption keys, and what moderators must do. */
export function epochsOf(
  b: { epoch: readonly Of<'epoch'>[]; seal: readonly Of<'seal'>[]; key: readonly Of<'key'>[] },
  genesisId: string,
  authority: Authority,
  bans: Bans,
  ended: boolean,
  ledger: Ledger,
): Epochs {
  const encKeys = encKeysOf(b.key, bans, ledger)
  const chain: Epoch[] = chainOf(b.epoch, genesisId, authority, bans, ledger).map((e) => ({
    id: e.id,
    n: e.n,
    author: e.author,
    member: e.member,
    check: e.check,
    boxes: e.n === 0 ? new Map() : boxesOf(e.id, b.seal, authority, bans, ledger),
  }))
  const current = chain.at(-1) ?? null
  let rotationDue = false
  if (!ended && bans.banned.size > 0) {
    if (current === null || current.n === 0) rotationDue = true
    else for (const key of bans.banned.keys()) if (holdsBox(current, key)) rotationDue = true
  }
  const unsealed: string[] = []
  if (current && current.n > 0) for (const key of encKeys.keys()) if (!holdsBox(current, key)) unsealed.push(key)
  return { chain, current, encKeys, rotationDue, unsealed: unsealed.sort() }
}

/** Whether `key` (a key id) is named by a box of `epoch`. */
export function holdsBox(epoch: Epoch, key: string): boolean {
  const bytes = fromBase64url(key)
  return bytes !== null && epoch.boxes.has(toBase64url(boxTag(bytes)))
}
