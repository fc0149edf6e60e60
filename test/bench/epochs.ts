/**
 * Bench: epochs (docs/room-rules.md §8) and causal references (§3a).
 *   ban-to-epoch/N     from a moderator's ban to every remaining member's EpochKeeper holding
 *                      the new epoch's secret, N members, each with its own replica of the log;
 *                      updates travel between replicas in-process (no network), so this is the
 *                      model's cost: the rotation (N boxes), N replicas verifying and recomputing,
 *                      N keepers opening their box
 *   prev-bytes         bytes a causal reference adds to an entry (format 2 vs format 1)
 *   verify/10k         verifying the signatures of 10,000 entries (what a joiner does)
 */
import * as Y from 'yjs'
import { fromBase64url, generateIdentity, randomBytes } from '../../src/identity/index.ts'
import { createRoom, decodeEntry, logOf, RoomActor, RoomReplica, signEntry, verifyEntry } from '../../src/room/index.ts'
import { EpochKeeper } from '../../src/participant/epoch-keeper.ts'
import { buildRoom } from './room-fixture.ts'
import { benchCase, environment, type BenchCase, type BenchReport } from './stats.ts'

const SIZES = (process.env.BENCH_EPOCH_SIZES ?? '10,50').split(',').map(Number)
const ROUNDS = Number(process.env.BENCH_EPOCH_ROUNDS ?? 5)

interface Member {
  doc: Y.Doc
  replica: RoomReplica
  actor: RoomActor
  keeper: EpochKeeper
}

/** N members, each with its own doc; every update is relayed to every other doc (a star through an in-process relay). */
async function room(n: number) {
  const owner = await generateIdentity()
  const created = await createRoom(owner, { title: 'bench', joinStage: false })
  const linkSecret = fromBase64url(created.secret)!
  const members: Member[] = []
  const docs: Y.Doc[] = []
  for (let i = 0; i < n; i++) {
    const doc = i === 0 ? created.doc : new Y.Doc()
    if (i > 0) Y.applyUpdate(doc, Y.encodeStateAsUpdate(created.doc), 'relay')
    docs.push(doc)
  }
  for (const doc of docs) {
    doc.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin === 'relay') return
      for (const other of docs) if (other !== doc) Y.applyUpdate(other, u, 'relay')
    })
  }
  for (let i = 0; i < n; i++) {
    const identity = i === 0 ? owner : await generateIdentity()
    const replica = new RoomReplica(docs[i]!, { roomId: created.roomId })
    await replica.ready()
    const actor = new RoomActor(replica, identity)
    const keeper = new EpochKeeper({ replica, actor, linkSecret, dutyDelayMs: 0 })
    members.push({ doc: docs[i]!, replica, actor, keeper })
  }
  return { members, roomId: created.roomId }
}

async function until(cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error('bench: timed out')
    await new Promise((r) => setTimeout(r, 2))
  }
}

async function banToEpoch(n: number): Promise<BenchCase> {
  const samples: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const { members } = await room(n + 1)
    // Everyone announced its key.
    await until(() => members.every((m) => m.replica.state.epochs.encKeys.size === n + 1))
    const [owner, victim, ...rest] = members as [Member, Member, ...Member[]]
    const before = owner.replica.state.epochs.current?.n ?? 0
    const t = performance.now()
    await owner.actor.ban(victim.actor.key)
    await until(() => [owner, ...rest].every((m) => m.keeper.current.n === before + 1))
    samples.push(performance.now() - t)
    for (const m of members) {
      m.keeper.destroy()
      m.replica.destroy()
    }
  }
  return benchCase(`ban-to-epoch/${n}`, 'ms', samples, { members: n })
}

async function causalCost(): Promise<BenchCase[]> {
  const f = await buildRoom(100, 10_000, 100)
  const entries = logOf(f.doc)
    .toArray()
    .map((b) => decodeEntry(b)!)
  const withPrev = entries.filter((e) => e.prev.length > 0)
  const identity = await generateIdentity()
  const body = { kind: 'raise', nonce: randomBytes(16) } as const
  const one = await signEntry(identity, f.roomId, f.now, body, [withPrev[0]!.id])
  const none = await signEntry(identity, f.roomId, f.now, body, [])
  const avgPrev = withPrev.reduce((a, e) => a + e.prev.length, 0) / Math.max(1, withPrev.length)
  const t = performance.now()
  const ok = (await Promise.all(entries.map(verifyEntry))).filter(Boolean).length
  const verifyMs = performance.now() - t
  return [
    benchCase('prev-bytes', 'bytes', [one.length - none.length], { avgPrevPerEntry: Math.round(avgPrev * 100) / 100, entryBytes: one.length }),
    benchCase('verify/10k', 'ms', [verifyMs], { entries: entries.length, verified: ok, perEntryUs: Math.round((verifyMs / entries.length) * 1000) }),
  ]
}

export async function run(): Promise<BenchReport> {
  const cases: BenchCase[] = []
  for (const n of SIZES) cases.push(await banToEpoch(n))
  cases.push(...(await causalCost()))
  return { name: 'epochs', environment: environment(), cases }
}
