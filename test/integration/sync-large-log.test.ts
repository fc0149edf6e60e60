/**
 * Logs of any size sync (issue 12): a room of 20,000 signed entries (~3 MB,
 * three times the 1 MiB sync message cap) reaches a fresh joiner whole, over
 * the mesh (two @roamhq/wrtc peers on loopback, the data channel as a
 * PeerLink) and over a relay on 127.0.0.1 (RelayClients over WebSocket). The
 * joiner is set up as a RoomClient: an UpdateVerifier as the sync gate (every
 * new entry's signature checked before it is applied) and a RoomReplica that
 * reuses what the gate decoded and verified.
 * Before the fix, step 2 was one ~3 MB message, dropped by the sender's cap:
 * the joiner's log stayed empty.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import wrtc from '@roamhq/wrtc'
import * as Y from 'yjs'
import { Peer, type PeerOptions } from '../../src/net/peer.ts'
import { PeerLink } from '../../src/net/peer-link.ts'
import { attachSync, DEFAULT_MAX_SYNC_MESSAGE_BYTES, type SyncAttachment } from '../../src/net/sync.ts'
import { RelayClient, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { fromBase64url, generateIdentity } from '../../src/identity/index.ts'
import { deriveDiscoveryKey, logOf, membershipKey, RoomReplica } from '../../src/room/index.ts'
import { UpdateVerifier } from '../../src/room/verify-update.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { buildRoom, type RoomFixture } from '../bench/room-fixture.ts'
import { waitFor } from '../helpers/wait.ts'

const ENTRIES = 20_000
const WS = WebSocket as unknown as RelayWebSocketClass

let room: RoomFixture
const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c()
})

beforeAll(async () => {
  room = await buildRoom(100, ENTRIES, 12)
  expect(Y.encodeStateAsUpdate(room.doc).byteLength).toBeGreaterThan(2 * DEFAULT_MAX_SYNC_MESSAGE_BYTES)
}, 60_000)

/** A fresh joiner, as a RoomClient: an empty doc behind the verifying gate, and a replica of what lands. */
function joiner() {
  const doc = new Y.Doc()
  const verifier = new UpdateVerifier({ doc, roomId: room.roomId, refuseNothingNew: false })
  const replica = new RoomReplica(doc, { roomId: room.roomId, now: () => room.now, verified: verifier })
  cleanups.push(() => replica.destroy(), () => verifier.destroy())
  return { doc, replica, acceptUpdate: async (u: Uint8Array) => (await verifier.verify(u)).ok }
}

async function expectWholeLog(j: ReturnType<typeof joiner>, sync: SyncAttachment): Promise<void> {
  await waitFor(() => `joiner log ${logOf(j.doc).length}/${ENTRIES}`, () => logOf(j.doc).length === ENTRIES, 60_000)
  await waitFor('step 2', () => sync.synced, 10_000)
  await j.replica.whenSettled()
  expect(j.replica.entries).toHaveLength(ENTRIES) // every signature verified, by the gate before it was applied
  expect(j.replica.rejected).toMatchObject({ 'bad-signature': 0, malformed: 0, 'wrong-room': 0 })
  expect(Y.encodeStateVector(j.doc)).toEqual(Y.encodeStateVector(room.doc))
  expect(Object.values(sync.stats.rejected).every((n) => n === 0)).toBe(true)
}

describe('a 20,000-entry room reaches a fresh joiner', () => {
  it('over the mesh: a data channel between two wrtc peers on loopback', async () => {
    const a = new Peer({ wrtc: wrtc as unknown as PeerOptions['wrtc'], polite: false })
    const b = new Peer({ wrtc: wrtc as unknown as PeerOptions['wrtc'], polite: true })
    cleanups.push(() => a.destroy(), () => b.destroy())
    // Signals cross in-process, as JSON, and only loopback host candidates: nothing but 127.0.0.1 is contacted.
    const wire = (to: Peer) => (msg: unknown) => {
      const m = msg as { type: string; candidate?: string }
      if (m.type === 'candidate' && !/ 127\.0\.0\.1 \d+ typ host/.test(m.candidate ?? '')) return
      const copy = JSON.parse(JSON.stringify(msg)) as unknown
      setImmediate(() => to.signal(copy))
    }
    a.on('signal', wire(b))
    b.on('signal', wire(a))
    const j = joiner()
    const connected = (p: Peer) => new Promise<void>((ok) => p.on('connect', ok))
    const [la, lb] = await Promise.all([connected(a), connected(b)]).then(() => [new PeerLink(a), new PeerLink(b)] as const)
    const holder = attachSync(room.doc, null, la)
    const sync = attachSync(j.doc, null, lb, { acceptUpdate: j.acceptUpdate })
    cleanups.push(holder, sync)
    await expectWholeLog(j, sync)
    expect(holder.stats.droppedOutgoing).toBe(0)
    expect(holder.stats.messagesOut).toBeGreaterThan(3) // step 1 and step 2 in several parts
    expect(la.dropped + lb.dropped).toBe(0)
    expect(Object.values(lb.stats.rejected).every((n) => n === 0)).toBe(true)
  }, 120_000)

  describe('over a relay on loopback', () => {
    let relay: Relay
    beforeAll(async () => {
      relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
    })
    afterAll(() => relay?.close())

    it('the owner pushes the log to the relay, then a fresh joiner gets it from the relay', async () => {
      const url = `${relay.url.replace('http', 'ws')}/relay`
      // Members prove the room's membership key (derived from the secret the links carry).
      const key = membershipKey(fromBase64url(room.secret)!)
      const member = () => key
      const owner = new RelayClient({ WebSocket: WS, wrtc, member })
      cleanups.push(() => owner.destroy())
      await owner.connect(url, room.roomId, room.owner)
      const pushed = attachSync(room.doc, null, owner.link)
      cleanups.push(pushed)
      const held = () => relay.rooms.room(discoveryHex(deriveDiscoveryKey(room.roomId)))
      await waitFor(() => `relay log ${held() ? logOf(held()!.doc).length : 0}/${ENTRIES}`, () => held() !== undefined && logOf(held()!.doc).length === ENTRIES, 60_000)

      const j = joiner()
      const guest = new RelayClient({ WebSocket: WS, wrtc, member })
      cleanups.push(() => guest.destroy())
      await guest.connect(url, room.roomId, await generateIdentity())
      const sync = attachSync(j.doc, null, guest.link, { acceptUpdate: j.acceptUpdate })
      cleanups.push(sync)
      await expectWholeLog(j, sync)
      expect(pushed.stats.droppedOutgoing).toBe(0)
    }, 120_000)
  })
})
