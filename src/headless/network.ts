/**
 * A headless participant following its network (src/participant/network-switch.ts): the
 * machine's addresses are polled (src/node/network-watch.ts); on a change, signalling reconnects
 * and every link restarts. Event: `network-switch {reason, added, removed}` when a switch
 * starts (README, `--json`).
 *
 * The links' own sign (every mesh link 'disconnected' at once) is left to browsers, which cannot
 * read their addresses: here the addresses say it first, and a peer whose neighbours all leave
 * at once (a test killing them, a room ending) would read as a switch.
 */
import type { RoomClient } from '../participant/room-client.ts'
import { NetworkSwitch } from '../participant/network-switch.ts'
import { NetworkWatch, type NetworkWatchOptions } from '../node/network-watch.ts'
import type { Transport } from './transport.ts'
import type { Emit } from './stage.ts'

export type NetworkFollowOptions = Pick<NetworkWatchOptions, 'intervalMs' | 'read'>

/** Starts following; the returned function stops it. */
export function followNetwork(client: RoomClient, transport: Pick<Transport, 'reconnect'>, emit: Emit, opts: NetworkFollowOptions = {}): () => void {
  const change = new NetworkSwitch({
    restartLinks: () => client.restartLinks(),
    ...(transport.reconnect ? { reconnectSignalling: transport.reconnect } : {}),
    onSwitch: (reason, detail) => emit('network-switch', { reason, ...detail }),
  })
  const watch = new NetworkWatch({
    ...opts,
    // No address at all (offline) is no network to restart on: the next change is.
    onChange: ({ added, removed, addresses }) => {
      if (addresses.length > 0) change.notice('addresses', { added, removed })
    },
  })
  return () => {
    watch.destroy()
    change.destroy()
  }
}
