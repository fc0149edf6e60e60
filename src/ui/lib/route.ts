/**
 * Hash routes: `#/` is home, `#/r/<roomId>?k=...&g=...` is a room (the invite
 * link format). Parsing of the secret and grant belongs to src/invite; here we
 * only route on the prefix and keep the fragment for `openRoom`.
 */
import { createSubscriber } from 'svelte/reactivity'

export type Route =
  | { name: 'home' }
  | { name: 'room'; roomId: string; fragment: string }

export const ROOM_PREFIX = '#/r/'

export function parseRoute(hash: string): Route {
  if (!hash.startsWith(ROOM_PREFIX)) return { name: 'home' }
  const rest = hash.slice(ROOM_PREFIX.length)
  const end = rest.search(/[?&/]/)
  return { name: 'room', roomId: end === -1 ? rest : rest.slice(0, end), fragment: hash }
}

/** The `#/r/...` part of a pasted link, or undefined when it has none. */
export function roomFragment(link: string): string | undefined {
  const at = link.trim().indexOf(ROOM_PREFIX)
  return at === -1 ? undefined : link.trim().slice(at)
}

/** The small part of `window` the router uses (passed in for tests). */
export interface HashHost {
  location: { hash: string; href: string }
  addEventListener(type: 'hashchange', listener: () => void): void
  removeEventListener(type: 'hashchange', listener: () => void): void
}

export class HashRouter {
  #host: HashHost
  #subscribe: () => void

  constructor(host: HashHost) {
    this.#host = host
    this.#subscribe = createSubscriber((update) => {
      host.addEventListener('hashchange', update)
      return () => host.removeEventListener('hashchange', update)
    })
  }

  get current(): Route {
    this.#subscribe()
    return parseRoute(this.#host.location.hash)
  }

  /** The full URL of the current page (the link handed to `openRoom`). */
  get href(): string {
    return this.#host.location.href
  }

  go(hash: string): void {
    this.#host.location.hash = hash
  }

  home(): void {
    this.go('#/')
  }
}
