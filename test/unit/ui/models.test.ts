import { describe, expect, test } from 'vitest'
import type { RoomSession } from '../../../src/app/types.ts'
import type { UiDeps } from '../../../src/ui/deps.ts'
import { HomeModel } from '../../../src/ui/lib/home.ts'
import { RoomController } from '../../../src/ui/lib/room-controller.ts'
import { RoomView } from '../../../src/ui/lib/room-view.ts'
import { person, session, snapshot } from './fixtures.ts'

const okLink = () => ({ ok: true as const, roomId: 'r' })

describe('RoomView', () => {
  test('tracks snapshots, announces diffs, reports failed actions', async () => {
    const s = session(snapshot({}, { canModerate: true }), 'ban')
    const view = new RoomView(s)
    s.emit({ ...s.snapshot, hands: [person('dee', { name: 'Dee', handRaisedAt: 1 })] })
    expect(view.snapshot.hands).toHaveLength(1)
    expect(view.announcement.current).toEqual({ seq: 1, text: 'Dee raised a hand' })
    expect(await view.run('ban', (x) => x.ban('dee'))).toBe(false)
    expect(view.error).toBe('Could not ban: ban refused')
    expect(await view.run('mute', (x) => x.setMuted(true))).toBe(true)
    expect(view.error).toBeUndefined()
    view.setVolume('dee', 1.7)
    expect(view.volume('dee')).toBe(1)
    view.destroy()
    s.emit({ ...s.snapshot, title: 'changed' })
    expect(view.snapshot.title).toBe('T')
  })
})

describe('RoomController', () => {
  test('bad links fail before opening anything', async () => {
    let opened = 0
    const c = new RoomController({ parseLink: () => ({ ok: false, message: 'no key' }), openRoom: async () => (opened++, session(snapshot())) }, 'x')
    await c.open()
    expect(c.state).toEqual({ kind: 'failed', problem: { code: 'bad-link', message: 'no key' } })
    expect(opened).toBe(0)
  })
  test('rejections become problems; retry can succeed', async () => {
    let n = 0
    const s = session(snapshot())
    const c = new RoomController({
      parseLink: okLink,
      openRoom: async () => {
        if (n++ === 0) throw Object.assign(new Error('secret mismatch'), { code: 'wrong-secret' })
        return s
      },
    }, 'x')
    await c.open()
    expect(c.state).toMatchObject({ kind: 'failed', problem: { code: 'wrong-secret' } })
    await c.open()
    expect(c.state.kind).toBe('open')
    await c.close()
    await c.close()
    expect(s.left).toBe(1)
  })
  test('closing while opening leaves the session that arrives late', async () => {
    const s = session(snapshot())
    let resolve!: (v: RoomSession) => void
    const c = new RoomController({ parseLink: okLink, openRoom: () => new Promise((r) => (resolve = r)) }, 'x')
    const opening = c.open()
    await c.close()
    resolve(s)
    await opening
    expect(s.left).toBe(1)
    expect(c.state.kind).toBe('opening')
  })
})

describe('HomeModel', () => {
  function deps(over: Partial<UiDeps> = {}): UiDeps {
    return {
      createRoom: async () => ({ link: 'http://h/#/r/new?k=1' }),
      openRoom: async () => { throw new Error('unused') },
      parseLink: okLink,
      recentRooms: async () => [
        { roomId: 'old', title: 'Old', topic: '', link: '#/r/old?k=1', lastSeen: 1, speakers: [], ended: true },
        { roomId: 'new', title: 'New', topic: '', link: '#/r/new?k=1', lastSeen: 2, speakers: ['A'], ended: false },
      ],
      forgetRoom: async () => {},
      profile: { get: async () => ({ id: 'k', name: 'Me' }), set: async (p) => ({ id: 'k', name: p.name ?? 'Me' }) },
      microphones: async () => [],
      online: { get: () => true, subscribe: () => () => {} },
      ...over,
    }
  }
  test('loads newest first, forgets optimistically and restores on failure', async () => {
    const home = new HomeModel(deps({ forgetRoom: async () => { throw new Error('disk full') } }))
    await home.load()
    expect(home.recent.kind === 'ready' && home.recent.value.map((r) => r.roomId)).toEqual(['new', 'old'])
    await expect(home.forget('new')).rejects.toThrow('disk full')
    expect(home.recent.kind === 'ready' && home.recent.value).toHaveLength(2)
  })
  test('create validates, then returns the fragment', async () => {
    const home = new HomeModel(deps())
    expect(await home.create(' ', '')).toMatchObject({ ok: false })
    expect(await home.create('Jazz', '')).toEqual({ ok: true, value: '#/r/new?k=1' })
    const failing = new HomeModel(deps({ createRoom: async () => { throw new Error('no key') } }))
    expect(await failing.create('Jazz', '')).toEqual({ ok: false, message: 'Could not create the room: no key' })
  })
  test('load failures are shown, not thrown', async () => {
    const home = new HomeModel(deps({ recentRooms: async () => { throw new Error('idb') } }))
    await home.load()
    expect(home.recent).toEqual({ kind: 'failed', message: 'idb' })
  })
})
