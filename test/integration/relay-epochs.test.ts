/**
 * Epochs at the relay (docs/room-rules.md §8), as an attacker runs it: a real
 * relay on 127.0.0.1, RelayClients on @roamhq/wrtc, each member following the
 * epochs with its own EpochKeeper (the one RoomClient uses).
 *
 *   1. owner (on stage, 440 Hz) and an honest listener through the relay
 *   2. the owner bans the attacker; the owner's keeper rotates the room at once;
 *      the relay asks every connection to prove the new epoch: the honest
 *      listener does (its keeper opened its box) and keeps hearing the owner with
 *      no silence over 1 s
 *   3. the attacker's friend, a fresh key holding the old link, connects: the relay
 *      refuses it (`epoch-replaced`) with a handoff in which it finds no box; it
 *      gets no state, no presence, no audio
 *   4. a connection with no proof at all is refused (`not-member`)
 */
import wrtc from '@roamhq/wrtc'
import * as Y from 'yjs'
import { afterAll, describe, expect, it } from 'vitest'
import { startRelay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createToneSource } from '../../src/node/audio-io.ts'
import { fromBase64url, generateIdentity } from '../../src/identity/index.ts'
import { createRoom, decodeEntry, deriveDiscoveryKey, logOf, RoomActor, RoomReplica, type CreatedRoom } from '../../src/room/index.ts'
import { RelayClient, type RelayError } from '../../src/net/relay-client.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'
import { loopbackSdp } from '../../src/net/peer.ts'
import { EpochKeeper } from '../../src/participant/epoch-keeper.ts'
import { waitFor } from '../helpers/wait.ts'
import { joinRelay as join, longestSilence, WS } from './helpers/relay-member.ts'

const TONE = 440

describe('epochs at the relay', () => {
  const cleanup: Array<() => unknown> = []
  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })

  it('a ban rotates the room: members prove the new epoch and keep hearing; the old link gets nothing', async () => {
    const server = await startRelay({
      port: 0,
      host: '127.0.0.1',
      log: silentLogger,
      rooms: { peerConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }, sdpFilter: loopbackSdp },
    })
    cleanup.push(() => server.close())
    const url = `${server.url.replace('http', 'ws')}/relay`
    const ownerId = await generateIdentity()
    const room = await createRoom(ownerId, { title: 'Epochs at the relay' })
    const linkSecret = fromBase64url(room.secret)!
    const dk = discoveryHex(deriveDiscoveryKey(room.roomId))
    const owner = await join(url, room, linkSecret, { identity: ownerId, doc: room.doc })
    cleanup.push(() => owner.stop())
    const honest = await join(url, room, linkSecret)
    cleanup.push(() => honest.stop())
    const attacker = await join(url, room, linkSecret)
    cleanup.push(() => attacker.stop())
    const tone = createToneSource(wrtc, { freq: TONE })
    cleanup.push(() => tone.stop())
    await waitFor('the relay holds every member key', () => (server.rooms.room(dk)?.state?.epochs.encKeys.size ?? 0) === 3, 10_000)
    await owner.relay.publish(tone.track, tone.stream)
    await honest.relay.subscribe()
    await waitFor('the honest listener hears the owner', () => honest.blocks.slice(-5).every((b) => b.tone) && honest.blocks.length > 5, 30_000)

    // 2. The ban, then the rotation (the owner's keeper, at once) and the relay's `prove`.
    const banAt = Date.now()
    await owner.actor.ban(attacker.id)
    await waitFor('the room is in epoch 1 at the relay', () => server.rooms.room(dk)?.state?.epochs.current?.n === 1, 10_000)
    await waitFor('the honest listener holds epoch 1', () => honest.keeper.current.n === 1, 10_000)
    expect(honest.keeper.current.secret).toEqual(owner.keeper.current.secret)
    expect(attacker.keeper.current.n).toBe(0)
    // Past the relay's grace for proofs (5 s): the honest listener is still served, and hears.
    await new Promise((r) => setTimeout(r, 6000))
    expect(honest.closed).toBeUndefined()
    expect(owner.closed).toBeUndefined()
    const silence = longestSilence(honest.blocks, banAt, Date.now())
    expect(silence).toBeLessThanOrEqual(1000)

    // 3. A fresh key with the old link: refused with a handoff that opens nothing for it.
    const friend = await join(url, room, linkSecret, { doc: new Y.Doc() }).catch((err: RelayError) => err)
    expect(friend).toMatchObject({ code: 'relay-refused', reason: 'epoch-replaced' })
    // The handoff holds no title, names, hands or stage: only what a box needs.
    const kinds = new Set(
      (await handoffOf(url, room, linkSecret)).map((b) => decodeEntry(b)!.kind),
    )
    expect([...kinds].every((k) => ['genesis', 'grant', 'revoke', 'ban', 'unban', 'epoch', 'seal', 'redeem'].includes(k))).toBe(true)

    // 4. No proof at all: refused.
    const none = await join(url, room, linkSecret, { member: false }).catch((err: RelayError) => err)
    expect(none).toMatchObject({ code: 'relay-refused', reason: 'not-member' })
    expect(logOf(room.doc).length).toBeGreaterThan(0)
  }, 90_000)
})

/** Connects a fresh key with the old link and returns the handoff it was given (and its keeper's verdict). */
async function handoffOf(url: string, room: CreatedRoom, linkSecret: Uint8Array): Promise<Uint8Array[]> {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(room.doc, Y.encodeStateVector(new Y.Doc())))
  let got: Uint8Array[] = []
  const identity = await generateIdentity()
  const replica = new RoomReplica(doc, { roomId: room.roomId })
  await replica.ready()
  const keeper = new EpochKeeper({ replica, actor: new RoomActor(replica, identity), linkSecret })
  let replaced = false
  keeper.on('replaced', () => (replaced = true))
  const relay = new RelayClient({ WebSocket: WS, wrtc, member: () => keeper.current.member, onHandoff: (e) => (got = e) })
  await relay.connect(url, room.roomId, identity).catch(() => undefined)
  expect(got.length).toBeGreaterThan(0)
  // Its keeper, fed the handoff: no box for this key, so "replaced"; its secret stays the old one.
  expect(await keeper.handoff(got)).toBe(false)
  expect(replaced).toBe(true)
  expect(keeper.current.secret).toEqual(linkSecret)
  relay.destroy()
  keeper.destroy()
  replica.destroy()
  return got
}
