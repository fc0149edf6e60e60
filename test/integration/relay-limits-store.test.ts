/**
 * The relay's room store under a quota and an expiry (issue 12, item 3: "the
 * store never evicts"): real files in a temporary folder.
 *   - a write past the quota first deletes rooms not in use, least recently used first;
 *     when that is not enough it is refused (counted 'quota'), and nothing in use is touched;
 *   - rooms unused for longer than the expiry are deleted at start, loaded ones never;
 *   - a relay started with `--data` reports what it stores in /metrics.
 */
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RoomStore, type WriteResult } from '../../relay/rooms/store.ts'
import { startRelay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'stoop-store-'))
  dirs.push(d)
  return d
}

const room = (c: string) => c.repeat(64)
const files = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith('.yjs')).sort()

describe('RoomStore quota and expiry', () => {
  it('makes room under the quota by deleting the least recently used rooms not in use, else refuses', async () => {
    const dir = await tempDir()
    const writes: WriteResult[] = []
    const evicted: string[] = []
    const inUse = new Set<string>()
    let now = 1_000_000
    const store = new RoomStore({
      dir,
      debounceMs: 0,
      quotaBytes: 1000,
      inUse: (r) => inUse.has(r),
      now: () => now,
      onWrite: (_r, result) => writes.push(result),
      onEvict: (r, reason) => evicted.push(`${r[0]}:${reason}`),
    })
    await store.start()
    for (const c of ['a', 'b', 'c']) {
      now += 1000
      store.schedule(room(c), () => new Uint8Array(300))
      await store.flushRoom(room(c))
    }
    expect(await files(dir)).toEqual(['a', 'b', 'c'].map((c) => `${room(c)}.yjs`))
    // 'a' is in use; 'b' is the least recently used of the others.
    inUse.add(room('a'))
    now += 1000
    store.schedule(room('d'), () => new Uint8Array(300))
    await store.flushRoom(room('d'))
    expect(evicted).toEqual(['b:quota'])
    expect(await files(dir)).toEqual(['a', 'c', 'd'].map((c) => `${room(c)}.yjs`))
    // Too big for the quota even with everything not in use gone: refused, and nothing deleted for it.
    store.schedule(room('e'), () => new Uint8Array(900))
    await store.flushRoom(room('e'))
    expect(writes.at(-1)).toBe('quota')
    expect(evicted).toEqual(['b:quota'])
    expect(store.usage()).toEqual({ rooms: 3, bytes: 900 })
    store.stop()
  })

  it('deletes rooms unused past the expiry, and never a room in use', async () => {
    const dir = await tempDir()
    const old = Date.now() / 1000 - 40 * 24 * 3600
    for (const c of ['a', 'b', 'c']) await writeFile(join(dir, `${room(c)}.yjs`), new Uint8Array(10))
    for (const c of ['a', 'b']) await utimes(join(dir, `${room(c)}.yjs`), old, old)
    await writeFile(join(dir, 'not-a-room.yjs'), 'x')
    const evicted: string[] = []
    const store = new RoomStore({ dir, expireMs: 30 * 24 * 3600 * 1000, inUse: (r) => r === room('a'), onEvict: (r, reason) => evicted.push(`${r[0]}:${reason}`) })
    await store.start()
    expect(evicted).toEqual(['b:expired'])
    expect(await readdir(dir)).not.toContain(`${room('b')}.yjs`)
    // Loading a room marks it used: it is not expired once unloaded.
    expect(await store.load(room('a'))).toHaveLength(10)
    await store.expire()
    expect(await readdir(dir)).toContain(`${room('a')}.yjs`)
    store.stop()
  })

  it('a relay with --data reports its store in /metrics', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, `${room('f')}.yjs`), new Uint8Array(123))
    const relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, data: dir })
    try {
      const res = await fetch(`${relay.url}/metrics`)
      let text = await res.text()
      if (!/stoop_relay_store_bytes 123/.test(text)) text = await (await fetch(`${relay.url}/metrics`)).text()
      expect(text).toMatch(/stoop_relay_store_bytes 123/)
      expect(text).toMatch(/stoop_relay_store_rooms 1/)
      expect(text).toMatch(/stoop_relay_doc_writes_total\{result="quota"\} 0/)
      expect(text).toMatch(/stoop_relay_store_evicted_total\{reason="expired"\} 0/)
    } finally {
      await relay.close()
    }
  })
})
