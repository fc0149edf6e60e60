/**
 * Opening a room in the browser: restore the room doc from IndexedDB (so a
 * room opened offline shows its last state), connect WebSocket signalling to
 * the relay that served the page, build the RoomClient over them (following
 * the browser's network changes, network-signals.ts), and hand everything to a
 * `BrowserRoomSession`, which resolves once the room exists locally and the
 * link's pass is redeemed. On failure everything opened here is released again.
 */
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { keyId, toBase64url } from '../identity/index.ts'
import { deriveDiscoveryKey, epochTopic } from '../room/index.ts'
import { deriveSignalKey } from '../net/room-crypto.ts'
import { isLoopbackCandidate, loopbackSdp } from '../net/peer.ts'
import { iceServersFor } from '../net/ice.ts'
import type { RelayWebSocketClass } from '../net/relay-client.ts'
import { SignalClient } from '../net/signal-client.ts'
import { WsBus } from '../net/ws-bus.ts'
import { SwitchBus } from '../net/switch-bus.ts'
import { followEpochs, type OpenBus } from '../participant/epoch-bus.ts'
import { RoomClient } from '../participant/room-client.ts'
import { BrowserRoomSession, roomDbName, type SessionEnv } from './session.ts'
import { BrowserE2ee, e2eeMode } from './e2ee.ts'
import { relayUrlsFor } from './relay-urls.ts'
import { followBrowserNetwork } from './network-signals.ts'

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
  // The relay's own STUN, unless the settings list ICE servers (src/net/ice.ts).
  const iceServers = iceServersFor({ servers: profile.iceServers, relayUrl: env.signalUrl, loopbackOnly: env.loopbackOnly })
  // Audio is sealed per epoch; until epochs exist, epoch 0's secret is the link's room secret.
  const mode = e2eeMode(env.e2ee)
  const e2ee = mode ? new BrowserE2ee({ mode, self: env.identity.publicKey }) : null
  e2ee?.setEpoch(env.invite.epoch, env.invite.secretBytes)
  const signal = new SignalClient({ url: env.signalUrl, WebSocket: env.WebSocket, backoff: { maxMs: RECONNECT_MAX_MS } })
  const open: OpenBus = (topic, sealKey) => new WsBus({ client: signal, topic: toBase64url(topic), key: sealKey, selfId })
  // Members meet on the topic of the link's epoch (docs/room-rules.md §8; epoch 0: the discovery key).
  const topic = env.invite.epoch > 0 ? epochTopic(env.invite.secretBytes) : deriveDiscoveryKey(env.invite.roomId)
  const bus = new SwitchBus(open(topic, key))
  const client = new RoomClient({
    invite: env.invite,
    identity: env.identity,
    bus,
    wrtc: e2ee ? e2ee.wrap(env.wrtc) : env.wrtc,
    doc,
    name: profile.name,
    ...(env.now ? { now: env.now } : {}),
    ...(env.limits ? { limits: env.limits } : {}),
    mesh: { peer: { config: { iceServers }, ...(env.loopbackOnly ? { acceptCandidate: isLoopbackCandidate } : {}) } },
    // The relay that served the page forwards audio past mesh size; relays from the settings
    // come after it, for failover and standby (relay-urls.ts).
    relay: {
      url: relayUrlsFor(env.signalUrl.replace(/\/signal$/, '/relay'), profile.relays),
      WebSocket: env.WebSocket as unknown as RelayWebSocketClass,
      client: {
        // The relay has a public address; only servers the user listed (TURN) help reach it.
        ...(profile.iceServers?.length ? { rtcConfig: { iceServers } } : {}),
        ...(env.loopbackOnly ? { sdpFilter: loopbackSdp } : {}),
      },
    },
  })
  // A track is opened with the key of whoever the client says it is from (set again when a
  // relay's reused section changes hands); registered before the session plays anything.
  if (e2ee) client.on('track', (from, track) => e2ee.attribute(track, from))
  // Signalling and audio keys follow the room's epochs (docs/room-rules.md §8).
  followEpochs(client.epochs, bus, env.invite.roomId, open, (err) => console.warn('moving to a new epoch failed', err))
  if (e2ee) client.epochs.on('epoch', (e) => e2ee.setEpoch(Math.max(e.n, 0), e.secret))
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
    e2ee,
    // A browser whose network changes restarts its links as the Node peer does (network-switch.ts).
    followNetwork: (hooks) => followBrowserNetwork(client, signal, window, hooks),
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
