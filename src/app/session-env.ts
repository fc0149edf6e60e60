/**
 * What a browser session (session.ts) is opened with: the page's environment and settings
 * (`SessionEnv`), and the parts `openRoomSession` (open-session.ts) builds and hands over
 * (`SessionParts`), which the session then owns and releases.
 */
import type * as Y from 'yjs'
import type { IndexeddbPersistence } from 'y-indexeddb'
import type { Identity } from '../identity/index.ts'
import type { Invite } from '../invite/index.ts'
import type { SignalClient, WebSocketClass } from '../net/signal-client.ts'
import type { SwitchBus } from '../net/switch-bus.ts'
import type { PeerWrtc } from '../net/peer.ts'
import type { TopologyLimits } from '../net/topology.ts'
import type { RoomClient } from '../participant/room-client.ts'
import type { BrowserE2ee, E2eeSetting } from './e2ee.ts'
import type { ProfileStore, RecentRooms } from './local-stores.ts'
import type { PocketEnv } from './pocket.ts'
import type { RoomSession } from './types.ts'
import type { NetworkHooks } from './network-signals.ts'

export interface SessionEnv {
  /** The link the room was opened with (kept in the recent-rooms list). */
  link: string
  invite: Invite
  identity: Identity
  /** Origin put into the invite links this session makes. */
  origin: string
  signalUrl: string
  WebSocket: WebSocketClass
  wrtc: PeerWrtc
  media: MediaDevices
  profile: ProfileStore
  recent: RecentRooms
  /** navigator.onLine and its events. */
  online: { get(): boolean; subscribe(fn: () => void): () => void }
  /** How long to wait for the room to arrive when this device knows nothing of it. */
  arriveTimeoutMs?: number
  now?: () => number
  /** Called once when the session is left. */
  onleave?: (session: RoomSession) => void
  /** Use only loopback ICE candidates (single-machine tests and demos). */
  loopbackOnly?: boolean
  /**
   * End-to-end encryption of audio (SFrame, e2ee.ts). Default 'auto': on where the browser can.
   * 'off' until every peer of the room can (the @roamhq/wrtc headless peer cannot).
   */
  e2ee?: E2eeSetting
  /** Mesh size and hysteresis (tests put small rooms on the relay). */
  limits?: TopologyLimits
  /** Lock screen and wake lock (pocket.ts); default the page's own, null for none. */
  pocket?: PocketEnv | null
}

/** IndexedDB database holding one room's doc. */
export function roomDbName(roomId: string): string {
  return `stoop-room-${roomId}`
}

/** What `openRoomSession` (open-session.ts) builds and hands over; the session owns and releases it. */
export interface SessionParts {
  doc: Y.Doc
  persistence: IndexeddbPersistence
  signal: SignalClient
  bus: SwitchBus
  client: RoomClient
  profileName: string
  microphoneId: string | undefined
  secretVerified: boolean
  /** This device had the room in its recent-rooms list before. */
  knownRoom: boolean
  /** Encrypts and decrypts the audio of `client`'s connections; null when off. */
  e2ee?: BrowserE2ee | null
  /** Follows the browser's network (network-signals.ts) until the returned function is called. */
  followNetwork?: (hooks: NetworkHooks) => () => void
}
