/**
 * The browser app behind the UI: creating and opening rooms, the recent-rooms
 * list and the local profile, over this device's key (IndexedDB), the page's
 * WebSocket and RTCPeerConnection, and y-indexeddb for room docs.
 *
 * Loaded lazily by src/main.ts (it pulls in yjs, WebRTC and WebAudio code the
 * home screen does not need); main.ts adapts it to the UI's `UiDeps`.
 */
import { IndexeddbPersistence, clearDocument } from 'y-indexeddb'
import { keyId, type Identity } from '../identity/index.ts'
import { loadOrCreateBrowserIdentity } from '../identity/store-browser.ts'
import { formatInvite, parseInvite } from '../invite/index.ts'
import { createRoom, logOf } from '../room/index.ts'
import type { PeerWrtc } from '../net/peer.ts'
import type { WebSocketClass } from '../net/signal-client.ts'
import { KvDb } from './kv.ts'
import { ProfileStore, RecentRooms } from './local-stores.ts'
import { precheckLink } from './link-precheck.ts'
import { openRoomSession } from './open-session.ts'
import { roomDbName, sessionError, type BrowserRoomSession } from './session.ts'
import type { RecentRoom } from './types.ts'
import type { E2eeSetting } from './e2ee.ts'
import { DEFAULT_LIMITS } from '../net/topology.ts'

export interface BrowserAppOptions {
  /** Origin put into invite links (location.origin). */
  origin: string
  /** Signalling endpoint: ws(s)://<host>/signal of the relay that served the page. */
  signalUrl: string
  online: { get(): boolean; subscribe(fn: () => void): () => void }
  now?: () => number
  /** Use only loopback ICE candidates (single-machine tests and demos). */
  loopbackOnly?: boolean
  /** End-to-end encryption of audio; default 'auto' (see SessionEnv). */
  e2ee?: E2eeSetting
  /** Largest room kept on the mesh (default 8; tests put small rooms on the relay). */
  meshSize?: number
}

export interface BrowserApp {
  /** Full offline check of an invite link (structure, grant, expiry). */
  parseLink(link: string): { ok: true; roomId: string } | { ok: false; message: string }
  createRoom(input: { title: string; topic: string }): Promise<{ link: string }>
  openRoom(link: string): Promise<BrowserRoomSession>
  recentRooms(): Promise<RecentRoom[]>
  forgetRoom(roomId: string): Promise<void>
  profile: ProfileStore
}

/** What tests read through `window.__stoop`: measured from the audio the page really plays. */
export interface StoopDebug {
  /** Share (0..1) of the played output's power around `freq` Hz; 0 outside a room. */
  heard(freq: number): number
  session(): BrowserRoomSession | null
  /** A JSON-able dump of the current session's audio and connections. */
  debug(): Promise<unknown>
}

export function signalUrlFor(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signal`
}

export function createBrowserApp(opts: BrowserAppOptions): BrowserApp {
  const now = opts.now ?? Date.now
  const db = new KvDb()
  let identity: Promise<Identity> | null = null
  const getIdentity = (): Promise<Identity> =>
    (identity ??= loadOrCreateBrowserIdentity().catch((err: unknown) => {
      identity = null
      throw err
    }))
  const recent = new RecentRooms(db)
  const profile = new ProfileStore(db, async () => keyId((await getIdentity()).publicKey))
  let current: BrowserRoomSession | null = null
  const debug: StoopDebug = {
    heard: (freq) => current?.playback.heard(freq) ?? 0,
    session: () => current,
    debug: async () => current && {
      self: current.client.selfId,
      plan: current.client.plan,
      connected: current.client.mesh.connected,
      sources: current.playback.describe(),
      stats: Object.fromEntries(await current.client.mesh.stats()),
      dropped: current.dropped,
      e2ee: current.e2ee,
      epoch: { n: current.client.epochs.current.n, chain: current.client.state.epochs.chain.length, present: [...current.client.mesh.present] },
    },
  }
  ;(globalThis as { __stoop?: StoopDebug }).__stoop = debug

  return {
    profile,
    parseLink(link) {
      const parsed = parseInvite(link, now())
      if (parsed.ok) return { ok: true, roomId: parsed.invite.roomId }
      // A well-formed link whose key is not its room's: `openRoom` refuses it with the wrong-secret screen.
      if (parsed.code === 'wrong-secret') return precheckLink(link)
      return { ok: false, message: parsed.message }
    },
    recentRooms: () => recent.list(),

    async forgetRoom(roomId) {
      await recent.forget(roomId)
      await clearDocument(roomDbName(roomId))
    },

    async createRoom({ title, topic }) {
      const id = await getIdentity()
      const room = await createRoom(id, { title, topic, now })
      // Persist the doc before anyone navigates to it: the owner's room exists from here on, offline too.
      const persistence = new IndexeddbPersistence(roomDbName(room.roomId), room.doc)
      await persistence.whenSynced
      await persistence.destroy()
      const genesis = logOf(room.doc).get(0)
      room.doc.destroy()
      const link = formatInvite({ origin: opts.origin, roomId: room.roomId, secret: room.secret, genesis })
      await recent.update(room.roomId, { title, topic, link, lastSeen: now(), speakers: [], ended: false, verifiedSecret: room.secret })
      return { link }
    },

    async openRoom(link) {
      const parsed = parseInvite(link, now())
      if (!parsed.ok) throw sessionError(parsed.code === 'wrong-secret' ? 'wrong-secret' : 'bad-link', parsed.message)
      const session = await openRoomSession({
        link,
        invite: parsed.invite,
        identity: await getIdentity(),
        origin: opts.origin,
        signalUrl: opts.signalUrl,
        WebSocket: globalThis.WebSocket as unknown as WebSocketClass,
        wrtc: globalThis as unknown as PeerWrtc,
        media: navigator.mediaDevices,
        profile,
        recent,
        online: opts.online,
        now,
        ...(opts.loopbackOnly ? { loopbackOnly: true } : {}),
        ...(opts.e2ee ? { e2ee: opts.e2ee } : {}),
        ...(opts.meshSize ? { limits: { ...DEFAULT_LIMITS, meshSize: opts.meshSize, hysteresis: Math.min(DEFAULT_LIMITS.hysteresis, opts.meshSize - 1) } } : {}),
        onleave: (s) => {
          if (current === s) current = null
        },
      })
      current = session
      return session
    },
  }
}
