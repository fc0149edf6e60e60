/**
 * Test fixture: the real App with fake deps (no src/app, no network).
 * `?s=<scenario>` picks the room state; `?fail=<code>` makes openRoom reject
 * with that problem code. `window.stoopFixture` exposes the fake session.
 */
import { mount } from 'svelte'
import App from '../../../src/ui/App.svelte'
import type { UiDeps } from '../../../src/ui/deps.ts'
import { HashRouter } from '../../../src/ui/lib/route.ts'
import '../../../src/ui/global.css'
import { FakeSession } from './fake-session.ts'
import { SCENARIOS } from './scenarios.ts'

const params = new URLSearchParams(location.search)
const scenario = SCENARIOS[params.get('s') ?? 'owner'] ?? SCENARIOS.owner!
const session = new FakeSession(structuredClone(scenario))
let profile = { id: 'AnaKey0000000000000000000000000000000000000', name: params.get('name') ?? 'Ana Ortiz' }
const onlineListeners = new Set<() => void>()
let online = params.get('online') !== '0'

const deps: UiDeps = {
  createRoom: async ({ title }) => ({ link: `${location.origin}/#/r/new${title.length}?k=SECRET` }),
  openRoom: async () => {
    const fail = params.get('fail')
    if (fail) throw Object.assign(new Error(`fixture ${fail}`), { code: fail })
    return session
  },
  parseLink: (link) => (/#\/r\/[A-Za-z0-9_-]+\?k=\w+/.test(link) ? { ok: true, roomId: 'x' } : { ok: false, message: 'This link is missing its room key.' }),
  recentRooms: async () =>
    params.get('empty')
      ? []
      : [
          { roomId: 'a', title: 'Friday night jazz talk', topic: 'Favourite records of the year', link: '/#/r/a?k=S', lastSeen: Date.now() - 3_600_000, speakers: ['Ana', 'Bo', 'Chen'], ended: false },
          { roomId: 'b', title: 'Neighbourhood garden meetup', topic: '', link: '/#/r/b?k=S', lastSeen: Date.now() - 86_400_000 * 3, speakers: ['Dee'], ended: true },
        ],
  forgetRoom: async () => {},
  profile: {
    get: async () => profile,
    set: async (patch) => (profile = { ...profile, ...patch }),
  },
  microphones: async () => [{ deviceId: 'default', label: '' }, { deviceId: 'usb', label: 'USB microphone' }],
  online: { get: () => online, subscribe: (l) => (onlineListeners.add(l), () => onlineListeners.delete(l)) },
}

Object.assign(window, {
  stoopFixture: {
    session,
    setOnline(v: boolean) {
      online = v
      for (const l of onlineListeners) l()
    },
  },
})

mount(App, { target: document.getElementById('app')!, props: { deps, router: new HashRouter(window) } })
