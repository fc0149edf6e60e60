/**
 * Bench: the room model at 10 / 100 / 1,000 participants with 10,000 historic
 * entries each.
 *   compute/N        full recompute with the pure computeState (all entries re-indexed)
 *   recompute/N      what the replica does on each change (computeFromIndex over its
 *                    incrementally kept EntryIndex)
 *   apply-update/N   one remote Yjs update with one new entry: guard + applyUpdate +
 *                    signature verification + recompute (until whenSettled)
 *   initial-load/N   a fresh replica over the whole doc: decode + verify 10k entries + compute
 * Doc size (bytes of Y.encodeStateAsUpdate) is reported in `extra`.
 */
import * as Y from 'yjs'
import { randomBytes } from '../../src/identity/index.ts'
import { RoomReplica, checkRemoteUpdate, computeFromIndex, computeState, logOf, signEntry } from '../../src/room/index.ts'
import { buildRoom } from './room-fixture.ts'
import { benchCase, environment, timeIt, type BenchCase, type BenchReport } from './stats.ts'
import { sealedText } from '../helpers/sealed-text.ts'

const SIZES = (process.env.BENCH_ROOM_SIZES ?? '10,100,1000').split(',').map(Number)
const ENTRIES = Number(process.env.BENCH_ROOM_ENTRIES ?? 10_000)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 50)

export async function run(): Promise<BenchReport> {
  const cases: BenchCase[] = []
  for (const n of SIZES) {
    const f = await buildRoom(n, ENTRIES, n)
    const docBytes = Y.encodeStateAsUpdate(f.doc).length
    let now = f.now
    const clock = () => now
    const replica = new RoomReplica(f.doc, { roomId: f.roomId, now: clock })
    await replica.ready()
    const entries = replica.entries
    const extra = { entries: entries.length, docBytes, stage: replica.state.stage.length, hands: replica.state.hands.length }

    cases.push(benchCase(`compute/${n}`, 'ms', await timeIt(() => computeState(entries, { roomId: f.roomId, now }), { samples: SAMPLES, warmup: 5 }), extra))
    const index = replica.index
    cases.push(benchCase(`recompute/${n}`, 'ms', await timeIt(() => computeFromIndex(index, { roomId: f.roomId, now }), { samples: SAMPLES, warmup: 5 })))

    // Remote updates: a peer doc that has everything appends one entry at a time.
    const remote = new Y.Doc()
    Y.applyUpdate(remote, Y.encodeStateAsUpdate(f.doc))
    const updates: Uint8Array[] = []
    remote.on('update', (u: Uint8Array) => updates.push(u))
    for (let i = 0; i < SAMPLES + 3; i++) {
      const who = f.people[i % f.people.length]!
      const e = await signEntry(who, f.roomId, ++now, i % 2 ? { kind: 'raise', nonce: randomBytes(16) } : { kind: 'profile', seq: 5000 + i, name: sealedText(f.roomId, who, 'name', `p${i}`), muted: false })
      logOf(remote).push([e])
    }
    let k = 0
    const applySamples = await timeIt(async () => {
      const u = updates[k++]!
      if (!checkRemoteUpdate(u).ok) throw new Error('guard refused an honest update')
      Y.applyUpdate(f.doc, u, 'remote')
      await replica.whenSettled()
    }, { samples: SAMPLES, warmup: 3 })
    cases.push(benchCase(`apply-update/${n}`, 'ms', applySamples))

    const loads: number[] = []
    for (let i = 0; i < 3; i++) {
      const t = performance.now()
      const r = new RoomReplica(f.doc, { roomId: f.roomId, now: clock })
      await r.ready()
      loads.push(performance.now() - t)
      r.destroy()
    }
    cases.push(benchCase(`initial-load/${n}`, 'ms', loads))
    replica.destroy()
  }
  return { name: 'room', environment: environment(), entriesPerRoom: ENTRIES, cases }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then((r) => console.log(JSON.stringify(r, null, 2)))
}
