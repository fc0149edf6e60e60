/**
 * The browser's signs of a network switch, fed to a NetworkSwitch
 * (src/participant/network-switch.ts), which also watches the mesh links' ICE states (all
 * 'disconnected' at once):
 *
 * - `online`: back from offline, on whatever network it is now.
 * - `navigator.connection` 'change' (Network Information API, Chromium-based browsers only)
 *   where its `type` changed, e.g. wifi to cellular. The event also fires whenever the browser's
 *   estimates (rtt, downlink, effectiveType) move, which on a phone is often and no switch:
 *   restarting every link for it would cut the audio for nothing. Where `type` is not given
 *   (desktop Chromium), 'change' is ignored and the links' own ICE states tell a switch.
 *
 * 'offline' is no switch (there is no network to restart the links on); the `online` after it
 * is. `followBrowserNetwork` puts it together for a session: called where the session is
 * opened (open-session.ts), stopped when it is left (session.ts), its switches shown as
 * "Reconnecting…" (reconnecting.ts).
 */
import type { RoomClient } from '../participant/room-client.ts'
import { NetworkSwitch, signallingReconnect } from '../participant/network-switch.ts'
import type { SignalClient } from '../net/signal-client.ts'
import type { Timers } from '../base/timers.ts'

/** What is read of `window`: its events and `navigator.connection` where it exists. */
export interface NetworkWindow {
  addEventListener(type: 'online', fn: () => void): void
  removeEventListener(type: 'online', fn: () => void): void
  /** Read for its `connection`, which TypeScript's DOM types leave out (not in every browser). */
  navigator?: object
}

type Connection = Pick<EventTarget, 'addEventListener' | 'removeEventListener'> & { readonly type?: unknown }

function connectionOf(nav: object | undefined): Connection | undefined {
  const c: unknown = nav && 'connection' in nav ? nav.connection : undefined
  return c instanceof Object && 'addEventListener' in c && 'removeEventListener' in c ? (c as Connection) : undefined
}

/** Calls `notice(reason)` on each sign; the returned function stops listening. */
export function watchBrowserNetwork(win: NetworkWindow, notice: (reason: 'online' | 'connection') => void): () => void {
  const online = (): void => notice('online')
  const connection = connectionOf(win.navigator)
  let type = connection?.type
  const changed = (): void => {
    const now = connection?.type
    if (typeof now !== 'string' || now === type) return
    type = now
    notice('connection')
  }
  win.addEventListener('online', online)
  connection?.addEventListener('change', changed)
  return () => {
    win.removeEventListener('online', online)
    connection?.removeEventListener('change', changed)
  }
}

/** What a session hears of a switch (reconnecting.ts shows it). */
export interface NetworkHooks {
  /** A switch started, set off by `reason`: signalling is being replaced. */
  onSwitch?: (reason: string) => void
  /** The switch restarted every link (signalling came back, or was waited for long enough). */
  onRestarted?: () => void
  /** The switch's clock (tests). */
  timers?: Timers
}

/**
 * A session following its network: on a switch the signalling socket is replaced and every
 * link of `client` restarts. The returned function stops it (before the client is destroyed).
 */
export function followBrowserNetwork(client: RoomClient, signal: SignalClient, win: NetworkWindow, hooks: NetworkHooks = {}): () => void {
  const { onSwitch, onRestarted, timers } = hooks
  const change = new NetworkSwitch({
    restartLinks: () => {
      client.restartLinks()
      onRestarted?.()
    },
    reconnectSignalling: signallingReconnect(signal),
    ...(onSwitch ? { onSwitch } : {}),
    ...(timers ? { timers } : {}),
  })
  change.followLinks(client.mesh)
  const stop = watchBrowserNetwork(win, (reason) => change.notice(reason))
  return () => {
    stop()
    change.destroy()
  }
}
