/**
 * A seeded fake network in the style of yjs tests/testHelper.js: peers edit
 * while messages are held back and released in random order (FIFO per link),
 * links drop and come back; once everything is reconnected and delivered,
 * every replica must hold the same state.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as prng from 'lib0/prng'
import { createLinkPair, type Link } from '../../../src/net/link.ts'
import { attachSync, createSyncStats, type SyncStats } from '../../../src/net/sync.ts'

interface Wire {
  links: [Link, Link]
  queue: (() => void)[]
}

class SimNet {
  readonly docs: Y.Doc[]
  readonly wires = new Map<string, Wire>()
  readonly stats: SyncStats = createSyncStats()
  delivered = 0

  constructor(
    readonly gen: prng.PRNG,
    size: number,
  ) {
    this.docs = Array.from({ length: size }, () => new Y.Doc())
  }

  key(i: number, j: number): string {
    return i < j ? `${i}-${j}` : `${j}-${i}`
  }

  connect(i: number, j: number): void {
    const key = this.key(i, j)
    if (this.wires.has(key)) return
    const queue: (() => void)[] = []
    const links = createLinkPair({ deliver: (fn) => queue.push(fn) })
    this.wires.set(key, { links, queue })
    attachSync(this.docs[i]!, null, links[0], { stats: this.stats })
    attachSync(this.docs[j]!, null, links[1], { stats: this.stats })
  }

  disconnect(i: number, j: number): void {
    const wire = this.wires.get(this.key(i, j))
    if (wire === undefined) return
    // The wire is forgotten at once; what it still holds is delivered (or dropped by the closed end) later.
    this.wires.delete(this.key(i, j))
    this.orphans.push(wire)
    wire.links[prng.int32(this.gen, 0, 1)]!.close()
  }

  readonly orphans: Wire[] = []

  /** Deliver one held message on a random wire; false when nothing is held. */
  deliverOne(): boolean {
    const busy = [...this.wires.values(), ...this.orphans].filter((w) => w.queue.length > 0)
    if (busy.length === 0) return false
    prng.oneOf(this.gen, busy).queue.shift()!()
    this.delivered++
    return true
  }

  flushAll(): void {
    while (this.deliverOne()) {
      /* keep delivering */
    }
  }

  randomEdit(): void {
    const doc = prng.oneOf(this.gen, this.docs)
    const text = doc.getText('t')
    const list = doc.getArray<number>('a')
    switch (prng.int32(this.gen, 0, 4)) {
      case 0:
        text.insert(prng.int32(this.gen, 0, text.length), prng.word(this.gen, 1, 4))
        break
      case 1:
        if (text.length > 0) {
          const at = prng.int32(this.gen, 0, text.length - 1)
          text.delete(at, prng.int32(this.gen, 1, Math.min(3, text.length - at)))
        }
        break
      case 2:
        list.insert(prng.int32(this.gen, 0, list.length), [prng.int32(this.gen, 0, 1000)])
        break
      case 3:
        if (list.length > 0) list.delete(prng.int32(this.gen, 0, list.length - 1), 1)
        break
      default:
        doc.getMap('m').set(prng.oneOf(this.gen, ['x', 'y', 'z']), prng.int32(this.gen, 0, 9))
    }
  }

  pairs(): [number, number][] {
    const out: [number, number][] = []
    for (let i = 0; i < this.docs.length; i++) for (let j = i + 1; j < this.docs.length; j++) out.push([i, j])
    return out
  }
}

function snapshot(doc: Y.Doc): unknown {
  return {
    text: doc.getText('t').toString(),
    list: doc.getArray('a').toJSON(),
    map: doc.getMap('m').toJSON(),
    sv: [...Y.decodeStateVector(Y.encodeStateVector(doc)).entries()].sort((a, b) => a[0] - b[0]),
  }
}

function run(seed: number, size: number, steps: number): SimNet {
  const net = new SimNet(prng.create(seed), size)
  for (const [i, j] of net.pairs()) net.connect(i, j)
  for (let step = 0; step < steps; step++) {
    const roll = prng.int32(net.gen, 0, 99)
    if (roll < 45) net.randomEdit()
    else if (roll < 85) for (let k = prng.int32(net.gen, 1, 5); k > 0; k--) net.deliverOne()
    else if (roll < 93) net.disconnect(...prng.oneOf(net.gen, net.pairs()))
    else net.connect(...prng.oneOf(net.gen, net.pairs()))
  }
  for (const [i, j] of net.pairs()) net.connect(i, j)
  net.flushAll()
  return net
}

describe('sync over a seeded random network', () => {
  const seeds = Array.from({ length: 24 }, (_, i) => 1000 + i)

  it.each(seeds)('seed %i: 4 peers converge after random delivery, drops and reconnects', (seed) => {
    const net = run(seed, 4, 400)
    const first = snapshot(net.docs[0]!)
    for (const doc of net.docs) expect(snapshot(doc)).toEqual(first)
    expect(Object.values(net.stats.rejected).every((n) => n === 0)).toBe(true)
    expect(net.delivered).toBeGreaterThan(0)
  })

  it('converges when peers only ever meet in a line (forwarding), with long partitions', () => {
    const net = new SimNet(prng.create(7), 5)
    const line: [number, number][] = [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
    ]
    for (let round = 0; round < 30; round++) {
      const cut = prng.oneOf(net.gen, line)
      for (const [i, j] of line) if (i !== cut[0]) net.connect(i, j)
      net.disconnect(...cut)
      for (let k = 0; k < 10; k++) net.randomEdit()
      for (let k = 0; k < 40; k++) net.deliverOne()
    }
    for (const [i, j] of line) net.connect(i, j)
    net.flushAll()
    const first = snapshot(net.docs[0]!)
    for (const doc of net.docs) expect(snapshot(doc)).toEqual(first)
  })
})
