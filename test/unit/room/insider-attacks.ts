/**
 * The attacks of convergence.property.test.ts that an insider runs: a
 * participant (X) that reads the whole log, may hold a seat it was given,
 * and has seen every invite link the honest peers created. Each attack looks
 * at X's own replica for something it wants back or wants to take, and writes
 * entries that docs/room-rules.md §3a says can never count. Each is tried two
 * ways: naming what X had seen (its heads), or pretending to have seen nothing.
 * After a rotation (§8) X also replays the earlier epochs (`replayAcrossEpochs`).
 */
import type { Identity } from '../../../src/identity/index.ts'
import {
  DEFAULT_SKEW_MS, decodeLinkGrant, encryptionKey, signEntry, signRedeemProof, type Entry, type EntryBody, type EntryIndex, type LinkPass, type Of, type RoomState,
} from '../../../src/room/index.ts'
import { Causality } from '../../../src/room/derive/causality.ts'

export interface InsiderView {
  roomId: string
  owner: string
  x: Identity
  xKey: string
  /** X's replica's index, settled ... */
  index: EntryIndex
  /** ... and its state. */
  state: RoomState
  /** Every link pass the honest peers created (X has seen the links). */
  links: readonly LinkPass[]
  pick: number
}

const entriesOf = (v: InsiderView): Entry[] => [...v.index.byId.values()].filter((e) => e.roomId === v.roomId)
const ofKind = <K extends Entry['kind']>(es: Entry[], kind: K) => es.filter((e): e is Of<K> => e.kind === kind)
const choose = <T>(list: readonly T[], pick: number): T | undefined => list[pick % Math.max(1, list.length)]

/** Names X's heads, or nothing, depending on `pick`. */
function prevFor(v: InsiderView): string[] {
  return v.pick % 2 === 0 ? v.index.heads().map((e) => e.id) : []
}

async function redeem(v: InsiderView, pass: LinkPass, time: number, prev: string[]): Promise<Uint8Array> {
  const proof = await signRedeemProof(pass, v.roomId, v.x.publicKey)
  return signEntry(v.x, v.roomId, Math.max(0, time), { kind: 'redeem', grant: pass.grant, proof }, prev)
}

/**
 * B: X accepts again, dated before its first accept, an invite whose seat the
 * owner moved or X left, or that an owner ban of X spent.
 */
export async function earlierDatedAccept(v: InsiderView): Promise<Uint8Array[]> {
  const es = entriesOf(v)
  const closedBy = (a: Entry) =>
    es.some((e) => (e.kind === 'move' && e.author === v.owner && e.seat === a.id) || (e.kind === 'leave' && e.author === v.xKey && e.seat === a.id))
  const ownerBans = ofKind(es, 'ban').filter((b) => b.author === v.owner && b.subject === v.xKey)
  const candidates = ofKind(es, 'invite').filter((inv) => {
    const mine = ofKind(es, 'accept').filter((a) => a.author === v.xKey && a.invite === inv.id)
    return mine.some(closedBy) || ownerBans.some((b) => inv.time < b.time)
  })
  const inv = choose(candidates, v.pick)
  if (!inv) return []
  const first = Math.min(inv.time, ...ofKind(es, 'accept').filter((a) => a.invite === inv.id).map((a) => a.time))
  return [await signEntry(v.x, v.roomId, Math.max(0, first - 1), { kind: 'accept', invite: inv.id }, prevFor(v))]
}

/** A: X redeems a link after the owner revoked it or revoked a redeem of it (the pass is retired), dated now or at issue time. */
export async function reRedeemAfterRevoke(v: InsiderView, now: number): Promise<Uint8Array[]> {
  const es = entriesOf(v)
  const revoked = new Set<string>()
  for (const r of ofKind(es, 'revoke')) {
    if (r.author !== v.owner) continue
    const t = v.index.byId.get(r.target)
    revoked.add(t?.kind === 'redeem' ? t.link.id : r.target)
  }
  const pass = choose(v.links.filter((p) => revoked.has(decodeLinkGrant(p.grant)!.id)), v.pick)
  if (!pass) return []
  const time = v.pick % 3 === 0 ? now : decodeLinkGrant(pass.grant)!.issuedAt - DEFAULT_SKEW_MS
  return [await redeem(v, pass, time, prevFor(v))]
}

/** C: X redeems any link, naming what it has seen but dated before it. */
export async function backdatedRedeem(v: InsiderView): Promise<Uint8Array[]> {
  const pass = choose(v.links, v.pick)
  const heads = v.index.heads()
  if (!pass) return []
  const latest = Math.max(...heads.map((e) => e.time))
  return [await redeem(v, pass, latest - 1 - (v.pick % 1000), heads.map((e) => e.id))]
}

/**
 * C: X redeems a single-use link that an honest peer redeemed and whose
 * issuer has an entry that had seen that redeem, dated at issue time minus the
 * skew and naming nothing, to win the single-use race.
 */
export async function strippedRedeemOfSeenLink(v: InsiderView): Promise<Uint8Array[]> {
  const es = entriesOf(v)
  const causality = new Causality(v.index)
  const seen = new Set<string>()
  for (const r of ofKind(es, 'redeem')) {
    if (r.author !== v.xKey && r.link.singleUse && v.index.isPlaced(r) && causality.seenBy(r.id, r.link.issuer).size > 0) seen.add(r.link.id)
  }
  const pass = choose(v.links.filter((p) => seen.has(decodeLinkGrant(p.grant)!.id)), v.pick)
  if (!pass) return []
  return [await redeem(v, pass, decodeLinkGrant(pass.grant)!.issuedAt - DEFAULT_SKEW_MS + (v.pick % 3), [])]
}

/** What a cross-epoch replay wrote. */
export interface Replay {
  /** Earlier epochs' entries copied byte for byte: their ids are in the log already. */
  copies: { kind: 'seal' | 'epoch' | 'key' | 'redeem'; bytes: Uint8Array }[]
  /** The same signed anew by X (new ids): none may count. Seals with the epoch they name. */
  signed: { bytes: Uint8Array; sealOf?: string }[]
  /** X's own key entry, dated in an earlier epoch: it must not count while X is banned. */
  keys: Uint8Array[]
}

/**
 * D: after a rotation (§8) X replays the earlier epochs. Copies of their entries (a seal, an epoch
 * entry, a key entry, a redeem), and the same signed anew as its own: an earlier epoch's key pair
 * and check as the next epoch of the chain (rolling the room back to a secret X holds) or in its
 * old place, an earlier seal's boxes naming the current epoch or sealing their own again, its
 * key dated in the earlier epoch, and a redeem of a retired pass dated there.
 */
export async function replayAcrossEpochs(v: InsiderView, now: number): Promise<Replay> {
  const out: Replay = { copies: [], signed: [], keys: [] }
  const { chain } = v.state.epochs
  const cur = chain.at(-1)
  const old = choose(chain.slice(0, -1), v.pick)
  const curEntry = cur && v.index.byId.get(cur.id)
  const oldEntry = old && v.index.byId.get(old.id)
  if (!cur || !old || curEntry?.kind !== 'epoch' || oldEntry?.kind !== 'epoch') return out
  const es = entriesOf(v)
  const before = (e: Entry) => e.time < curEntry.time
  const dated = Math.max(0, Math.min(curEntry.time - 1, oldEntry.time + 1 + (v.pick % 5)))
  const seal = choose(ofKind(es, 'seal').filter((e) => e.epoch !== cur.id), v.pick)
  for (const [kind, e] of [['seal', seal], ['epoch', oldEntry], ['key', choose(ofKind(es, 'key').filter(before), v.pick)], ['redeem', choose(ofKind(es, 'redeem').filter(before), v.pick)]] as const) {
    if (e) out.copies.push({ kind, bytes: e.bytes })
  }
  const auth = v.state.genesisId!
  const sign = (body: EntryBody, time: number) => signEntry(v.x, v.roomId, time, body, prevFor(v))
  const epoch = { kind: 'epoch' as const, auth, member: old.member, check: old.check }
  out.signed.push({ bytes: await sign({ ...epoch, n: cur.n + 1, parent: cur.id }, now) }, { bytes: await sign({ ...epoch, n: old.n, parent: oldEntry.parent }, dated) })
  if (seal) {
    const body = { kind: 'seal' as const, auth, eph: seal.eph, boxes: seal.boxes }
    out.signed.push({ bytes: await sign({ ...body, epoch: cur.id }, now), sealOf: cur.id }, { bytes: await sign({ ...body, epoch: seal.epoch }, dated), sealOf: seal.epoch })
  }
  const revoked = new Set(ofKind(es, 'revoke').filter((r) => r.author === v.owner).map((r) => {
    const t = v.index.byId.get(r.target)
    return t?.kind === 'redeem' ? t.link.id : r.target
  }))
  const pass = choose(v.links.filter((p) => revoked.has(decodeLinkGrant(p.grant)!.id) && decodeLinkGrant(p.grant)!.issuedAt < curEntry.time), v.pick)
  if (pass) out.signed.push({ bytes: await redeem(v, pass, dated, []) })
  if (v.state.banned.has(v.xKey)) {
    const { publicKey: enc } = await encryptionKey(v.x, v.roomId)
    out.keys.push(await signEntry(v.x, v.roomId, dated, { kind: 'key', enc }, []))
  }
  return out
}
