/**
 * The browser's signs of a network switch, fed to a NetworkSwitch
 * (src/participant/network-switch.ts), which also watches the mesh links' ICE states (all
 * 'disconnected' at once):
 *
 * - `online`: back from offline, on whatever network it is now.
 * - `navigator.connection` 'change' (Network Information API, Chromium-based browsers only):
 *   the connection type or its estimate changed, e.g. Wi-Fi to cellular.
 *
 * 'offline' is no switch (there is no network to restart the links on); the `online` after it
 * is. `followBrowserNetwork` puts it together for a session: one call where the session is
 * opened, its return value called where the session is closed.
 */
import type { RoomClient } from '../participant/room-client.ts'
import { NetworkSwitch, signallingReconnect } from '../participant/network-switch.ts'
import type { SignalClient } from '../net/signal-client.ts'

/** What is read of `window`: its events and `navigator.connection` where it exists. */
export interface NetworkWindow {
  addEventListener(type: 'online', fn: () => void): void
  removeEventListener(type: 'online', fn: () => void): void
  navigator?: { connection?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'> }
}

/** Calls `notice(reason)` on each sign; the returned function stops listening. */
export function watchBrowserNetwork(win: NetworkWindow, notice: (reason: 'online' | 'connection') => void): () => void {
  const online = (): void => notice('online')
  const changed = (): void => notice('connection')
  const connection = win.navigator?.connection
  win.addEventListener('online', online)
  connection?.addEventListener('change', changed)
  return () => {
    win.removeEventListener('online', online)
    connection?.removeEventListener('change', changed)
  }
}

/**
 * A session following its network: on a switch the signalling socket is replaced and every
 * link of `client` restarts (`onSwitch`: show "Reconnecting…" until the route is back).
 */
export function followBrowserNetwork(client: RoomClient, signal: SignalClient, win: NetworkWindow, onSwitch?: (reason: string) => void): () => void {
  const change = new NetworkSwitch({ restartLinks: () => client.restartLinks(), reconnectSignalling: signallingReconnect(signal), ...(onSwitch ? { onSwitch } : {}) })
  change.followLinks(client.mesh)
  const stop = watchBrowserNetwork(win, (reason) => change.notice(reason))
  return () => {
    stop()
    change.destroy()
  }
}
