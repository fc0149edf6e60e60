import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { checkRemoteUpdate, logOf } from '../../../src/room/index.ts'

function honestDoc(): Y.Doc {
  const doc = new Y.Doc()
  logOf(doc).push([new Uint8Array([1, 2, 3])])
  logOf(doc).push([new Uint8Array([4])])
  return doc
}

describe('checkRemoteUpdate', () => {
  it('accepts appends of binary entries to the log, including incremental updates', () => {
    const doc = honestDoc()
    expect(checkRemoteUpdate(Y.encodeStateAsUpdate(doc))).toEqual({ ok: true, entries: 2 })
    const sv = Y.encodeStateVector(doc)
    logOf(doc).push([new Uint8Array([5])])
    expect(checkRemoteUpdate(Y.encodeStateAsUpdate(doc, sv))).toEqual({ ok: true, entries: 1 })
    // An empty update is fine too.
    expect(checkRemoteUpdate(Y.encodeStateAsUpdate(new Y.Doc()))).toEqual({ ok: true, entries: 0 })
  })

  it('rejects an attacker deleting entries it received', () => {
    const victim = honestDoc()
    const attacker = new Y.Doc()
    Y.applyUpdate(attacker, Y.encodeStateAsUpdate(victim))
    const sv = Y.encodeStateVector(attacker)
    let deletion: Uint8Array | null = null
    attacker.on('update', (u: Uint8Array) => (deletion = u))
    logOf(attacker).delete(0, 1)
    expect(deletion).not.toBeNull()
    const r = checkRemoteUpdate(deletion!)
    expect(r).toMatchObject({ ok: false, reason: 'has-deletes' })
    // The full state of a doc that deleted something is rejected as well.
    expect(checkRemoteUpdate(Y.encodeStateAsUpdate(attacker))).toMatchObject({ ok: false, reason: 'has-deletes' })
    expect(checkRemoteUpdate(Y.encodeStateAsUpdate(attacker, sv))).toMatchObject({ ok: false })
  })

  it('rejects writes to other types, map keys and non-binary content', () => {
    const a = new Y.Doc()
    a.getMap('evil').set('x', 1)
    expect(checkRemoteUpdate(Y.encodeStateAsUpdate(a))).toMatchObject({ ok: false, reason: 'foreign-type' })
    const b = new Y.Doc()
    b.getArray('other').push([new Uint8Array([1])])
    expect(checkRemoteUpdate(Y.encodeStateAsUpdate(b))).toMatchObject({ ok: false, reason: 'foreign-type' })
    const c = new Y.Doc()
    c.getArray('log').push(['a string'])
    expect(checkRemoteUpdate(Y.encodeStateAsUpdate(c))).toMatchObject({ ok: false, reason: 'bad-content' })
    const d = new Y.Doc()
    d.getArray('log').push([new Y.Map()])
    expect(checkRemoteUpdate(Y.encodeStateAsUpdate(d))).toMatchObject({ ok: false, reason: 'bad-content' })
    const e = new Y.Doc()
    e.getArray('log').push([new Uint8Array(5000)])
    expect(checkRemoteUpdate(Y.encodeStateAsUpdate(e))).toMatchObject({ ok: false, reason: 'entry-too-large' })
  })

  it('rejects oversize updates before decoding and garbage without throwing', () => {
    const doc = honestDoc()
    expect(checkRemoteUpdate(Y.encodeStateAsUpdate(doc), { maxBytes: 4 })).toMatchObject({ ok: false, reason: 'too-large' })
    const garbage = [new Uint8Array([0xff, 0xff, 0xff]), new Uint8Array([1, 200, 7, 0, 0]), Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff)]
    for (const g of garbage) {
      const r = checkRemoteUpdate(g)
      expect(r.ok).toBe(false)
    }
    // The 27-byte input from yjs issue 687 (hangs Y.mergeUpdatesV2): decoded as V1 it returns at once.
    const t = performance.now()
    const r = checkRemoteUpdate(new Uint8Array(Buffer.from('00010000000001000100010200001602000001fdffffffff7f0000', 'hex')))
    expect(performance.now() - t).toBeLessThan(1000)
    expect(typeof r.ok).toBe('boolean')
    expect(checkRemoteUpdate('nope' as unknown as Uint8Array)).toMatchObject({ ok: false, reason: 'undecodable' })
  })

  it('random byte flips never throw', () => {
    const base = Y.encodeStateAsUpdate(honestDoc())
    for (let i = 0; i < 500; i++) {
      const u = base.slice()
      u[i % u.length] = (u[i % u.length]! + 1 + i) & 0xff
      expect(() => checkRemoteUpdate(u)).not.toThrow()
    }
  })
})

describe('the guard refuses an element naming a later element of its own author (found by the fuzzer)', () => {
  it('a 10-byte update that made Y.applyUpdate throw is refused before it is applied', async () => {
    const { readFile } = await import('node:fs/promises')
    const bytes = new Uint8Array(await readFile(new URL('../../fuzz/corpus/guard/crash-origin-after-own-clock.bin', import.meta.url)))
    expect(checkRemoteUpdate(bytes)).toMatchObject({ ok: false, reason: 'bad-origin' })
  })
})
