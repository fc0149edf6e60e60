import { TypedEmitter } from '../../../src/base/emitter.ts'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import * as encoding from 'lib0/encoding'
import { createLinkPair, type Link } from '../../../src/net/link.ts'
import {
  attachSync,
  createSyncStats,
  decodeSyncMessage,
  encodeStep1,
  encodeSyncMessage,
  encodeUpdate,
  MSG_AWARENESS,
  type AttachSyncOptions,
  type SyncAttachment,
} from '../../../src/net/sync.ts'

const cleanup: (() => void)[] = []
afterEach(() => {
  while (cleanup.length > 0) cleanup.pop()!()
})

/** Awareness starts an interval; every one made here is destroyed after the test. */
function presence(doc: Y.Doc): Awareness {
  const awareness = new Awareness(doc)
  cleanup.push(() => awareness.destroy())
  return awareness
}

/** Holds every in-memory delivery until `flush`, so tests stay synchronous and deterministic. */
class Held {
  readonly queue: (() => void)[] = []
  readonly deliver = (fn: () => void): void => {
    this.queue.push(fn)
  }
  flush(): void {
    while (this.queue.length > 0) this.queue.shift()!()
  }
}

function connect(
  net: Held,
  a: Y.Doc,
  b: Y.Doc,
  opts: { awareness?: [Awareness | null, Awareness | null]; a?: AttachSyncOptions; b?: AttachSyncOptions } = {},
): { links: [Link, Link]; sa: SyncAttachment; sb: SyncAttachment } {
  const links = createLinkPair({ deliver: net.deliver })
  const sa = attachSync(a, opts.awareness?.[0] ?? null, links[0], opts.a)
  const sb = attachSync(b, opts.awareness?.[1] ?? null, links[1], opts.b)
  net.flush()
  return { links, sa, sb }
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

function snapshot(doc: Y.Doc): unknown {
  return { text: doc.getText('t').toString(), list: doc.getArray('a').toJSON(), map: doc.getMap('m').toJSON() }
}

/** Number of listeners registered on a lib0 observable (Y.Doc, Awareness) or one of our emitters (links). */
function listenerCount(obj: unknown): number {
  if (obj instanceof TypedEmitter) return obj.listenerCount('message') + obj.listenerCount('close')
  const observers = (obj as { _observers: Map<string, Set<unknown>> })._observers
  let n = 0
  for (const set of observers.values()) n += set.size
  return n
}

describe('sync protocol messages', () => {
  it('round-trips every message type', () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'hi')
    const step1 = decodeSyncMessage(encodeStep1(doc))
    expect(step1).toEqual({ ok: true, message: { type: 'step1', stateVector: Y.encodeStateVector(doc) } })
    const update = Y.encodeStateAsUpdate(doc)
    expect(decodeSyncMessage(encodeUpdate(update))).toEqual({ ok: true, message: { type: 'update', update } })
    const aw = encodeSyncMessage({ type: 'awareness', update: new Uint8Array([0]) })
    expect(aw[0]).toBe(MSG_AWARENESS)
  })

  it('refuses empty, truncated, trailing, unknown and oversize input without throwing', () => {
    const good = encodeUpdate(new Uint8Array([0, 0]))
    expect(decodeSyncMessage(new Uint8Array())).toEqual({ ok: false, reason: 'malformed' })
    expect(decodeSyncMessage(good.subarray(0, good.length - 1))).toEqual({ ok: false, reason: 'malformed' })
    expect(decodeSyncMessage(new Uint8Array([...good, 7]))).toEqual({ ok: false, reason: 'malformed' })
    expect(decodeSyncMessage(new Uint8Array([9, 0]))).toEqual({ ok: false, reason: 'unknown-type' })
    expect(decodeSyncMessage(good, good.length - 1)).toEqual({ ok: false, reason: 'oversize' })
  })
})

describe('attachSync', () => {
  it('syncs existing state both ways on attach, then live edits', () => {
    const net = new Held()
    const a = new Y.Doc()
    const b = new Y.Doc()
    a.getText('t').insert(0, 'hello')
    b.getArray('a').push([1, 2])
    const { sa, sb } = connect(net, a, b)
    expect(snapshot(a)).toEqual(snapshot(b))
    expect(sa.synced && sb.synced).toBe(true)
    a.getText('t').insert(5, ' world')
    b.getMap('m').set('k', 'v')
    net.flush()
    expect(snapshot(a)).toEqual({ text: 'hello world', list: [1, 2], map: { k: 'v' } })
    expect(snapshot(b)).toEqual(snapshot(a))
    expect(sa.stats.rejected).toEqual(createSyncStats().rejected)
  })

  it('works over the default microtask pair', async () => {
    const a = new Y.Doc()
    const b = new Y.Doc()
    a.getText('t').insert(0, 'hi')
    const [la, lb] = createLinkPair()
    attachSync(a, null, la)
    attachSync(b, null, lb)
    b.getArray('a').push(['b'])
    await tick()
    expect(snapshot(a)).toEqual(snapshot(b))
    expect(b.getText('t').toString()).toBe('hi')
  })

  it('converges three docs in a line (B forwards between A and C)', () => {
    const net = new Held()
    const [a, b, c] = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
    connect(net, a, b)
    connect(net, b, c)
    a.getText('t').insert(0, 'from a ')
    c.getText('t').insert(0, 'from c ')
    b.getArray('a').push(['b'])
    net.flush()
    expect(snapshot(a)).toEqual(snapshot(b))
    expect(snapshot(c)).toEqual(snapshot(b))
    expect(a.getText('t').toString()).toContain('from a')
    expect(a.getText('t').toString()).toContain('from c')
  })

  it('converges three fully connected docs with concurrent edits', () => {
    const net = new Held()
    const docs = [new Y.Doc(), new Y.Doc(), new Y.Doc()] as const
    connect(net, docs[0], docs[1])
    connect(net, docs[1], docs[2])
    connect(net, docs[0], docs[2])
    // All three edit before anything is delivered.
    docs.forEach((doc, i) => {
      doc.getText('t').insert(0, `d${i}`)
      doc.getArray('a').insert(0, [i])
      doc.getMap('m').set('last', i)
    })
    net.flush()
    expect(snapshot(docs[1])).toEqual(snapshot(docs[0]))
    expect(snapshot(docs[2])).toEqual(snapshot(docs[0]))
    expect(docs[0].getText('t').length).toBe(6)
  })

  it('merges concurrent offline edits on reconnect', () => {
    const net = new Held()
    const a = new Y.Doc()
    const b = new Y.Doc()
    const first = connect(net, a, b)
    a.getText('t').insert(0, 'base')
    net.flush()
    first.links[0].close()
    net.flush()
    expect(first.sa.detached && first.sb.detached).toBe(true)
    a.getText('t').insert(0, 'A')
    b.getText('t').insert(4, 'B')
    a.getArray('a').push(['a1'])
    b.getArray('a').push(['b1'])
    net.flush()
    expect(a.getText('t').toString()).toBe('Abase')
    expect(b.getText('t').toString()).toBe('baseB')
    connect(net, a, b)
    expect(snapshot(a)).toEqual(snapshot(b))
    expect(a.getText('t').toString()).toBe('AbaseB')
    expect(a.getArray('a').length).toBe(2)
  })

  it('brings a late joiner up to date through one peer', () => {
    const net = new Held()
    const [a, b, c] = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
    connect(net, a, b)
    for (let i = 0; i < 20; i++) (i % 2 === 0 ? a : b).getArray('a').push([i])
    a.getText('t').insert(0, 'xyz')
    net.flush()
    b.getText('t').delete(1, 1)
    net.flush()
    connect(net, c, b)
    expect(snapshot(c)).toEqual(snapshot(a))
    expect(c.getText('t').toString()).toBe('xz')
    expect(c.getArray('a').length).toBe(20)
    c.getMap('m').set('late', true)
    net.flush()
    expect(a.getMap('m').get('late')).toBe(true)
  })

  it('does not echo an update back over the link it came from', () => {
    const net = new Held()
    const a = new Y.Doc()
    const b = new Y.Doc()
    const { sa, sb } = connect(net, a, b)
    const before = sb.stats.messagesOut
    a.getText('t').insert(0, 'x')
    net.flush()
    expect(sa.stats.messagesOut).toBeGreaterThan(0)
    expect(b.getText('t').toString()).toBe('x')
    expect(sb.stats.messagesOut).toBe(before)
  })

  it('counts garbage and leaves the doc untouched', () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'keep')
    const [local, remote] = createLinkPair({ deliver: 'sync' })
    const sync = attachSync(doc, null, local)
    const before = Y.encodeStateAsUpdate(doc)
    let seed = 1
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256
    for (let i = 0; i < 300; i++) {
      const junk = new Uint8Array(1 + (rand() % 40)).map(() => rand())
      remote.send(junk)
    }
    // Well-framed messages whose payload is junk.
    remote.send(encodeSyncMessage({ type: 'update', update: new Uint8Array([1, 2, 3]) }))
    remote.send(encodeSyncMessage({ type: 'step2', update: new Uint8Array() }))
    remote.send(encodeSyncMessage({ type: 'step1', stateVector: new Uint8Array([5, 1]) }))
    remote.send(encodeSyncMessage({ type: 'awareness', update: new Uint8Array([1, 1, 1, 3, 0x7b, 0x7b, 0x7b]) }))
    const rejected = Object.values(sync.stats.rejected).reduce((x, y) => x + y, 0)
    expect(rejected).toBeGreaterThan(290)
    expect(sync.stats.rejected.malformed).toBeGreaterThan(0)
    expect(sync.stats.rejected['unknown-type']).toBeGreaterThan(0)
    expect(Y.encodeStateAsUpdate(doc)).toEqual(before)
    expect(doc.getText('t').toString()).toBe('keep')
    expect(sync.detached).toBe(false)
  })

  it('drops oversize messages before decoding, and never sends one', () => {
    const net = new Held()
    const a = new Y.Doc()
    const b = new Y.Doc()
    b.getText('t').insert(0, 'x'.repeat(5000))
    const { sa } = connect(net, a, b, { a: { maxMessageBytes: 1000 } })
    expect(sa.stats.rejected.oversize).toBe(1) // b's step 2
    expect(a.getText('t').length).toBe(0)

    const big = new Y.Doc()
    const small = new Y.Doc()
    const pair = connect(net, big, small, { a: { maxMessageBytes: 1000 } })
    big.getText('t').insert(0, 'y'.repeat(5000))
    net.flush()
    expect(pair.sa.stats.droppedOutgoing).toBe(1)
    expect(small.getText('t').length).toBe(0)
  })

  it('drops updates the gate refuses (or throws on) and counts them', () => {
    const net = new Held()
    const a = new Y.Doc()
    const b = new Y.Doc()
    const noDeletes = (update: Uint8Array) => Y.decodeUpdate(update).ds.clients.size === 0
    const { sb } = connect(net, a, b, { b: { acceptUpdate: noDeletes } })
    a.getText('t').insert(0, 'abc')
    net.flush()
    expect(b.getText('t').toString()).toBe('abc')
    a.getText('t').delete(0, 1)
    net.flush()
    expect(a.getText('t').toString()).toBe('bc')
    expect(b.getText('t').toString()).toBe('abc')
    expect(sb.stats.rejected.gate).toBe(1)

    const c = new Y.Doc()
    const d = new Y.Doc()
    const thrower = connect(net, c, d, {
      b: {
        acceptUpdate: () => {
          throw new Error('guard bug')
        },
      },
    })
    c.getArray('a').push([1])
    net.flush()
    expect(d.getArray('a').length).toBe(0)
    expect(thrower.sb.stats.rejected.gate).toBeGreaterThan(0)
  })

  it('aggregates into a shared stats object and reports onSynced once per link', () => {
    const net = new Held()
    const stats = createSyncStats()
    let syncedCalls = 0
    const hub = new Y.Doc()
    for (let i = 0; i < 3; i++) {
      connect(net, hub, new Y.Doc(), { a: { stats, onSynced: () => syncedCalls++ } })
    }
    hub.getText('t').insert(0, 'x')
    net.flush()
    expect(syncedCalls).toBe(3)
    expect(stats.messagesIn).toBe(6) // a step 1 and a step 2 from each
    expect(stats.messagesOut).toBe(9) // step 1, step 2 and the update to each
  })

  it('detach removes every listener it added, and is idempotent', () => {
    const doc = new Y.Doc()
    const awareness = presence(doc)
    const [local] = createLinkPair()
    const counts = () => [listenerCount(doc), listenerCount(awareness), listenerCount(local)]
    const before = counts()
    const sync = attachSync(doc, awareness, local)
    expect(counts()).not.toEqual(before)
    sync()
    sync()
    expect(counts()).toEqual(before)
    expect(sync.detached).toBe(true)
    const sent = sync.stats.messagesOut
    doc.getText('t').insert(0, 'after')
    awareness.setLocalStateField('name', 'after')
    expect(sync.stats.messagesOut).toBe(sent)
  })

  it('detaches when the link closes or the doc is destroyed', () => {
    const doc = new Y.Doc()
    const [local, remote] = createLinkPair({ deliver: 'sync' })
    const before = listenerCount(doc)
    const sync = attachSync(doc, null, local)
    remote.close()
    expect(sync.detached).toBe(true)
    expect(listenerCount(doc)).toBe(before)

    const doc2 = new Y.Doc()
    const [l2] = createLinkPair()
    const sync2 = attachSync(doc2, null, l2)
    doc2.destroy()
    expect(sync2.detached).toBe(true)
    expect(listenerCount(l2)).toBe(0)

    const [closed] = createLinkPair()
    closed.close()
    expect(attachSync(new Y.Doc(), null, closed).detached).toBe(true)
  })
})

describe('awareness over attachSync', () => {
  it('shares presence fields and removes them when the link closes', () => {
    const net = new Held()
    const a = new Y.Doc()
    const b = new Y.Doc()
    const pa = presence(a)
    const pb = presence(b)
    pa.setLocalState({ name: 'Ann', level: 0 })
    const { links } = connect(net, a, b, { awareness: [pa, pb] })
    expect(pb.getStates().get(a.clientID)).toEqual({ name: 'Ann', level: 0 })
    pa.setLocalStateField('level', 0.7)
    pb.setLocalStateField('quality', 'good')
    net.flush()
    expect(pb.getStates().get(a.clientID)).toEqual({ name: 'Ann', level: 0.7 })
    expect(pa.getStates().get(b.clientID)).toEqual({ quality: 'good' })
    const removed: number[] = []
    pb.on('change', ({ removed: r }: { removed: number[] }) => removed.push(...r))
    links[0].close()
    net.flush()
    expect(pb.getStates().has(a.clientID)).toBe(false)
    expect(removed).toEqual([a.clientID])
    expect(pa.getStates().has(b.clientID)).toBe(false)
  })

  it('serves only its own state unless forwardAwareness is set', () => {
    const net = new Held()
    const [a, hub, c] = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
    const [pa, ph, pc] = [presence(a), presence(hub), presence(c)]
    pa.setLocalState({ name: 'a' })
    ph.setLocalState({ name: 'hub' })
    pc.setLocalState({ name: 'c' })
    connect(net, a, hub, { awareness: [pa, ph] })
    connect(net, hub, c, { awareness: [ph, pc] })
    expect(pc.getStates().has(a.clientID)).toBe(false)
    expect(pc.getStates().has(hub.clientID)).toBe(true)

    const [x, relay, y] = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
    const [px, pr, py] = [presence(x), presence(relay), presence(y)]
    px.setLocalState({ name: 'x' })
    const xr = connect(net, x, relay, { awareness: [px, pr], b: { forwardAwareness: true } })
    connect(net, relay, y, { awareness: [pr, py], a: { forwardAwareness: true } })
    expect(py.getStates().get(x.clientID)).toEqual({ name: 'x' })
    px.setLocalState({ name: 'x2' })
    net.flush()
    expect(py.getStates().get(x.clientID)).toEqual({ name: 'x2' })
    xr.links[0].close() // the relay drops x and tells y
    net.flush()
    expect(py.getStates().has(x.clientID)).toBe(false)
  })

  it('never lets a remote overwrite this client’s own state, and counts invalid states', () => {
    const doc = new Y.Doc()
    const aw = presence(doc)
    aw.setLocalState({ name: 'me' })
    const [local, remote] = createLinkPair({ deliver: 'sync' })
    const sync = attachSync(doc, aw, local, { acceptAwareness: (_id, state) => typeof state.name === 'string' })
    const entry = (client: number, clock: number, json: string) => {
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, 1)
      encoding.writeVarUint(e, client)
      encoding.writeVarUint(e, clock)
      encoding.writeVarString(e, json)
      return encodeSyncMessage({ type: 'awareness', update: encoding.toUint8Array(e) })
    }
    remote.send(entry(doc.clientID, 999, '{"name":"impostor"}'))
    expect(aw.getLocalState()).toEqual({ name: 'me' })
    remote.send(entry(42, 1, '[1,2]'))
    remote.send(entry(43, 1, '{"name":5}'))
    remote.send(entry(44, 1, '{"name":'))
    expect(aw.getStates().has(42) || aw.getStates().has(43) || aw.getStates().has(44)).toBe(false)
    expect(sync.stats.rejected['awareness-invalid']).toBe(1)
    expect(sync.stats.rejected.malformed).toBe(2)
    remote.send(entry(45, 1, '{"name":"ok"}'))
    expect(aw.getStates().get(45)).toEqual({ name: 'ok' })
  })
})
