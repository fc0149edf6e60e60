/**
 * Opening a room in the browser: restore the room doc from IndexedDB (so a
 * room opened offline shows its last state), connect WebSocket signalling to
 * the relay that served the page, build the RoomClient over them, and hand
 * everything to a `BrowserRoomSession`, which resolves once the room exists
 * locally and the link's pass is redeemed. On failure everything opened here
 * is released again.
 */
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { keyId, toBase64url } from '../identity/index.ts'
import { deriveDiscoveryKey } from '../room/index.ts'
import { deriveSignalKey } from '../net/room-crypto.ts'
import { isLoopbackCandidate, loopbackSdp } from '../net/peer.ts'
import type { RelayWebSocketClass } from '../net/relay-client.ts'
import { SignalClient } from '../net/signal-client.ts'
import { WsBus } from '../net/ws-bus.ts'
import { RoomClient } from '../participant/room-client.ts'
import { BrowserRoomSession, roomDbName, type SessionEnv } from './session.ts'

const RECONNECT_MAX_MS = 5000
const DB_TIMEOUT_MS = 5000

/** Opens a room; rejects with a `SessionError` ('unreachable'). The link was parsed, and its key checked, before. */
export async function openRoomSession(env: SessionEnv): Promise<BrowserRoomSession> {
  const doc = new Y.Doc()
  const persistence = new IndexeddbPersistence(roomDbName(env.invite.roomId), doc)
  let storageProblem: string | undefined
  await withTimeout(persistence.whenSynced, DB_TIMEOUT_MS).catch((err: Error) => {
    // The room still works in memory; it just will not be there offline next time.
    storageProblem = err.message
  })
  const [key, profile, stored] = await Promise.all([
    deriveSignalKey(env.invite.secretBytes),
    env.profile.get(),
    env.recent.get(env.invite.roomId).catch(() => undefined),
  ])
  const selfId = keyId(env.identity.publicKey)
  const signal = new SignalClient({ url: env.signalUrl, WebSocket: env.WebSocket, backoff: { maxMs: RECONNECT_MAX_MS } })
  const bus = new WsBus({ client: signal, topic: toBase64url(deriveDiscoveryKey(env.invite.roomId)), key, selfId })
  const client = new RoomClient({
    invite: env.invite,
    identity: env.identity,
    bus,
    wrtc: env.wrtc,
    doc,
    name: profile.name,
    ...(env.now ? { now: env.now } : {}),
    ...(env.loopbackOnly ? { mesh: { peer: { acceptCandidate: isLoopbackCandidate } } } : {}),
    // The relay that served the page also forwards audio past mesh size.
    relay: {
      url: env.signalUrl.replace(/\/signal$/, '/relay'),
      WebSocket: env.WebSocket as unknown as RelayWebSocketClass,
      ...(env.loopbackOnly ? { client: { sdpFilter: loopbackSdp } } : {}),
    },
  })
  const session = new BrowserRoomSession(env, {
    doc,
    persistence,
    signal,
    bus,
    client,
    profileName: profile.name,
    microphoneId: profile.microphoneId,
    secretVerified: stored?.verifiedSecret === env.invite.secret,
    knownRoom: stored !== undefined,
  })
  if (storageProblem) console.warn('room storage unavailable', storageProblem)
  try {
    await session.ready()
  } catch (err) {
    await session.leave()
    throw err
  }
  return session
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
    p.then(
      (v) => {
        clearTimeout(t)
        resolve(v)
      },
      (err: unknown) => {
        clearTimeout(t)
        reject(err instanceof Error ? err : new Error(String(err)))
      },
    )
  })
}
