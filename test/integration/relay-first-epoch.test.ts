/**
 * Before a room's first epoch at a relay (docs/relay.md, "Membership before the first epoch"),
 * as an attacker runs it: a real relay on 127.0.0.1 that holds nothing of the room (no --data:
 * a restart, or a room new to it), so it can check no proof and admits every connection.
 *
 *   1. a stranger (no secret, no proof) connects to the empty room first and syncs, as a client does
 *   2. an honest member that knows the link connects too, with an empty doc (admitted unproven)
 *   3. both subscribe to the room's audio at once
 *   4. the owner connects, syncs the whole log (the relay learns epoch 0 and asks everyone to
 *      prove) and speaks
 *
 * The stranger receives no sync frame with an entry, no presence and no audio, and is cut
 * after the grace; the member proves, then gets the log, the owner's presence and voice like
 * any member; the owner's state at the relay is intact.
 */
import wrtc from '@roamhq/wrtc'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { afterAll, describe, expect, it } from 'vitest'
import { startRelay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { fromBase64url, generateIdentity, keyId, type Identity } from '../../src/identity/index.ts'
import { createRoom, deriveDiscoveryKey, logOf, membershipKey, type CreatedRoom } from '../../src/room/index.ts'
import { RelayClient, type RelayError } from '../../src/net/relay-client.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'
import { attachSync, decodeSyncMessage } from '../../src/net/sync.ts'
import { loopbackSdp } from '../../src/net/peer.ts'
import { createToneSource } from '../../src/node/audio-io.ts'
import { waitFor } from '../helpers/wait.ts'
import { WS } from './helpers/relay-member.ts'

interface Client {
  relay: RelayClient
  doc: Y.Doc
  awareness: Awareness
  /** What the relay sent: sync frames that carried entries, and presence frames. */
  entryFrames: number
  presenceFrames: number
  /** Publishers whose audio the relay offered. */
  tracks: string[]
  closed: RelayError | null | undefined
  stop(): void
}

/** A client as an attacker or a member runs it: connect (with a proof when `secret` is given), then sync and show presence. */
async function connect(url: string, room: CreatedRoom, secret: Uint8Array | null, opts: { identity?: Identity; doc?: Y.Doc } = {}): Promise<Client> {
  const identity = opts.identity ?? (await generateIdentity())
  const doc = opts.doc ?? new Y.Doc()
  const awareness = new Awareness(doc)
  awareness.setLocalState({ k: 'present' })
  const relay = new RelayClient({ WebSocket: WS, wrtc, sdpFilter: loopbackSdp, ...(secret ? { member: () => membershipKey(secret) } : {}) })
  await relay.connect(url, room.roomId, identity)
  const c: Client = {
    relay,
    doc,
    awareness,
    entryFrames: 0,
    presenceFrames: 0,
    tracks: [],
    closed: undefined,
    stop() {
      relay.destroy()
      awareness.destroy()
    },
  }
  relay.on('close', (err) => (c.closed = err))
  relay.on('track', (id) => c.tracks.push(id))
  relay.link.on('message', (bytes) => {
    const d = decodeSyncMessage(bytes)
    if (!d.ok) return
    if (d.message.type === 'awareness') c.presenceFrames++
    if ((d.message.type === 'step2' || d.message.type === 'update') && Y.decodeUpdate(d.message.update).structs.length > 0) c.entryFrames++
  })
  attachSync(doc, awareness, relay.link)
  return c
}

describe('a relay before the room first epoch', () => {
  const cleanup: Array<() => unknown> = []
  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })

  it('an empty relay room serves nothing to a connection until it proved the epoch the log brings', async () => {
    const server = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, rooms: { sdpFilter: loopbackSdp } })
    cleanup.push(() => server.close())
    const url = `${server.url.replace('http', 'ws')}/relay`
    const ownerId = await generateIdentity()
    const room = await createRoom(ownerId, { title: 'Before the first epoch' })
    const secret = fromBase64url(room.secret)!
    const dk = discoveryHex(deriveDiscoveryKey(room.roomId))
    const entries = logOf(room.doc).length

    // 1-2. The relay holds nothing of the room: both are admitted without a proof it could check.
    const stranger = await connect(url, room, null)
    cleanup.push(() => stranger.stop())
    const member = await connect(url, room, secret)
    cleanup.push(() => member.stop())
    expect(server.rooms.room(dk)?.state).toBeNull()
    // 3. Both were told `subscribed`; what they hear waits for their proof.
    await stranger.relay.subscribe()
    await member.relay.subscribe()

    // 4. The owner brings the log (its own connection is unproven too: the relay had no epoch), then speaks.
    const owner = await connect(url, room, secret, { identity: ownerId, doc: room.doc })
    cleanup.push(() => owner.stop())
    await waitFor('the relay holds epoch 0', () => server.rooms.room(dk)?.state?.epochs.current?.n === 0, 10_000)
    const tone = createToneSource(wrtc, { freq: 440 })
    cleanup.push(() => tone.stop())
    await owner.relay.publish(tone.track, tone.stream)

    // The member proved when asked: it gets the log and the owner's presence like any member.
    await waitFor('the member holds the log', () => logOf(member.doc).length === entries, 10_000)
    await waitFor('the member sees the owner', () => member.awareness.getStates().has(owner.awareness.clientID), 10_000)
    await waitFor('the member is offered the owner', () => member.tracks.includes(keyId(ownerId.publicKey)), 10_000)

    // The stranger could not prove: cut after the grace (5 s), having received nothing of the room.
    await waitFor('the stranger is cut', () => stranger.closed !== undefined, 10_000)
    expect(stranger.closed).toMatchObject({ code: 'relay-closed' })
    expect(stranger.closed?.message).toMatch(/4009/)
    expect(stranger.entryFrames).toBe(0)
    expect(stranger.presenceFrames).toBe(0)
    expect(stranger.tracks).toEqual([])
    expect(logOf(stranger.doc).length).toBe(0)
    expect(stranger.awareness.getStates().size).toBe(1)

    // The owner's state is intact, and it was served all along.
    expect(owner.closed).toBeUndefined()
    expect(member.closed).toBeUndefined()
    expect(logOf(room.doc).length).toBe(entries)
    expect(server.rooms.room(dk)?.state?.owner).toBe(keyId(ownerId.publicKey))
    expect(logOf(server.rooms.room(dk)!.doc).length).toBe(entries)
  }, 60_000)
})
