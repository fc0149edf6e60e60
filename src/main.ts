/**
 * Composition root of the PWA: mounts the UI at once and loads src/app (room
 * sessions: yjs, WebRTC, WebAudio, IndexedDB) in a lazy chunk, so the home
 * screen does not wait for it. Every UiDeps call that needs the app waits for
 * that chunk; if it cannot load (offline without a cached copy), the call
 * rejects and the UI says so.
 */
import { mount } from 'svelte'
import App from './ui/App.svelte'
import { browserMicrophones, browserOnline } from './ui/browser.ts'
import type { UiDeps } from './ui/deps.ts'
import type { BrowserApp } from './app/browser-app.ts'
import { HashRouter } from './ui/lib/route.ts'
import { precheckLink } from './app/link-precheck.ts'
import './ui/global.css'
import { CodedError } from './base/errors.ts'

const online = browserOnline()
/** Device-local debug settings (localStorage), e.g. `stoop.ice = loopback` keeps WebRTC on 127.0.0.1. */
function setting(key: string): string | null {
  try {
    return localStorage.getItem(key)
  } catch {
    return null // storage disabled: defaults
  }
}
const E2EE_SETTINGS = ['auto', 'off', 'script-transform', 'encoded-streams'] as const
/** The app once its chunk has loaded (parseLink must answer synchronously). */
let ready: BrowserApp | null = null
let loaded: ReturnType<typeof loadApp> | null = null
function loadApp() {
  return import('./app/browser-app.ts').then(({ createBrowserApp, signalUrlFor }) =>
    (ready = createBrowserApp({
      origin: location.origin,
      signalUrl: signalUrlFor(location),
      online,
      loopbackOnly: setting('stoop.ice') === 'loopback',
      // `stoop.e2ee`: off | script-transform | encoded-streams (default auto); `stoop.mesh-size`: a number.
      e2ee: E2EE_SETTINGS.find((s) => s === setting('stoop.e2ee')) ?? 'auto',
      meshSize: Number(setting('stoop.mesh-size')) || undefined,
    })),
  )
}
const app = (): ReturnType<typeof loadApp> =>
  (loaded ??= loadApp().catch((err: unknown) => {
    loaded = null
    throw new CodedError('unreachable', `Stoop could not load its room code: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }))

const deps: UiDeps = {
  createRoom: async (input) => (await app()).createRoom(input),
  openRoom: async (link) => (await app()).openRoom(link),
  // Until the app chunk is here, a shape check routes the link; openRoom parses it fully.
  parseLink: (link) => (ready ? ready.parseLink(link) : precheckLink(link)),
  recentRooms: async () => (await app()).recentRooms(),
  forgetRoom: async (roomId) => (await app()).forgetRoom(roomId),
  profile: {
    get: async () => (await app()).profile.get(),
    set: async (patch) => (await app()).profile.set(patch),
  },
  microphones: () => browserMicrophones(),
  online,
}

mount(App, { target: document.getElementById('app')!, props: { deps, router: new HashRouter(window) } })
void app().catch((err: unknown) => console.warn(err))
