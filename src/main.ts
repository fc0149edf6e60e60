import { mount } from 'svelte'
import App from './ui/App.svelte'
import { browserOnline } from './ui/browser.ts'
import { HashRouter } from './ui/lib/route.ts'
import { placeholderDeps } from './ui/placeholder-deps.ts'
import './ui/global.css'

// NOT WIRED YET: replace `placeholderDeps` with the UiDeps built from src/app
// (createRoom/openRoom/recentRooms/profile...) and parseInvite from src/invite.
const deps = placeholderDeps(browserOnline())

mount(App, { target: document.getElementById('app')!, props: { deps, router: new HashRouter(window) } })
