/**
 * NOT WIRED YET. Stand-in `UiDeps` until src/app provides the real ones
 * (session.ts wiring room model + mesh + audio). Every call that needs the
 * app rejects with a clear `not-wired` error, so the shell renders and says
 * what is missing instead of pretending. Delete this file once main.ts wires
 * `src/app`.
 */
import type { UiDeps } from './deps.ts'

function notWired(what: string): Error {
  return Object.assign(new Error(`${what} is not wired yet: src/app has not been connected to the UI.`), { code: 'not-wired' })
}

export function placeholderDeps(online: UiDeps['online']): UiDeps {
  const fail = (what: string) => () => Promise.reject(notWired(what))
  return {
    createRoom: fail('Creating rooms'),
    openRoom: fail('Opening rooms'),
    parseLink: () => ({ ok: false, message: 'Invite links are not wired yet: src/invite has not been connected to the UI.' }),
    recentRooms: () => Promise.resolve([]),
    forgetRoom: fail('Forgetting rooms'),
    profile: { get: fail('Your profile'), set: fail('Saving your profile') },
    microphones: fail('Listing microphones'),
    online,
  }
}
