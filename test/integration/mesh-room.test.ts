/**
 * A live room of four Node peers (real @roamhq/wrtc over loopback): two
 * speakers with different tones, two listeners. Run once over the relay's
 * WebSocket signalling and once over a hyperswarm testnet with no signalling
 * server. Audio is checked by frequency in what each peer actually hears.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import { generateIdentity } from '../../src/identity/index.ts'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks, type RoomLinks } from '../../src/cli/room-create.ts'
import type { HeadlessPeerOptions } from '../../src/headless/headless-peer.ts'
import { createToneSource, type AudioWrtc } from '../../src/node/audio-io.ts'
import wrtc from '@roamhq/wrtc'
import { listeningPeer, type Listening } from './helpers/room-peers.ts'

const POLL = { timeout: 45_000, interval: 250 }
let peers: Listening[] = []

afterEach(async () => {
  await Promise.all(peers.map((p) => p.stop()))
  peers = []
})

async function liveRoom(links: RoomLinks, transport: Pick<HeadlessPeerOptions, 'signal' | 'swarm'>) {
  const owner = await listeningPeer('M', { link: links.moderator, speak: { kind: 'tone', freq: 440 }, ...transport })
  const second = await listeningPeer('S', { link: links.speaker, speak: { kind: 'tone', freq: 660 }, ...transport })
  const hand = await listeningPeer('L1', { link: links.listener, raiseHand: true, speak: { kind: 'tone', freq: 880 }, ...transport })
  const quiet = await listeningPeer('L2', { link: links.listener, ...transport })
  peers = [owner, second, hand, quiet]
  return { owner, second, hand, quiet }
}

async function checkRoom(room: Awaited<ReturnType<typeof liveRoom>>) {
  const { owner, second, hand, quiet } = room
  const speakers = () => peers.map((p) => [...p.client.state.stage.map((s) => s.key)].sort().join())
  const expected = [owner.id, second.id].sort().join()
  await expect.poll(speakers, POLL).toEqual(peers.map(() => expected))

  // Everyone hears the other speakers, and nobody hears a tone nobody sends.
  await expect.poll(() => [owner.hears(660), second.hears(440), hand.hears(440), hand.hears(660), quiet.hears(440), quiet.hears(660)], POLL).toEqual([
    true, true, true, true, true, true,
  ])
  for (const p of peers) expect(p.ratio(1000), `${p.name} hears 1000 Hz`).toBeLessThan(0.02)
  for (const p of peers) expect(p.ratio(880), `${p.name} hears the listener before it is on stage`).toBeLessThan(0.02)

  // The listener's raised hand reaches every replica.
  await expect.poll(() => peers.map((p) => p.client.state.hands.map((h) => h.key).join()), POLL).toEqual(peers.map(() => hand.id))

  // The moderator invites it; it accepts (its hand goes down) and everyone hears it.
  await owner.client.actor.inviteToStage(hand.id)
  await expect.poll(() => peers.map((p) => p.client.state.seatOf.has(hand.id) && p.client.state.hands.length === 0), POLL).toEqual(peers.map(() => true))
  await expect.poll(() => [owner.hears(880), second.hears(880), quiet.hears(880)], POLL).toEqual([true, true, true])
}

describe('a four-peer room over WebSocket signalling', () => {
  let relay: Relay
  let links: RoomLinks
  beforeAll(async () => {
    relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
    links = await createRoomLinks(await generateIdentity(), { title: 'Mesh test', topic: '', origin: relay.url })
  })
  afterAll(() => relay?.close())

  test('speakers are heard by everyone, a raised hand is seen and invited up', async () => {
    await checkRoom(await liveRoom(links, {}))
  }, 180_000)

  test('audio from a participant who is not a speaker is not played, even if its client sends it', async () => {
    const room = await liveRoom(links, {})
    const { quiet } = room
    await expect.poll(() => quiet.client.mesh.connected.length, POLL).toBe(3)
    // A modified client: it ignores the plan and sends a 1000 Hz tone to everyone.
    const tone = createToneSource(wrtc as unknown as AudioWrtc, { freq: 1000 })
    quiet.client.replan = () => {}
    quiet.client.mesh.setLocalAudio({ track: tone.track, stream: tone.stream })
    quiet.client.mesh.apply({ connect: quiet.client.mesh.connected, sendAudioTo: quiet.client.mesh.connected })
    try {
      await expect.poll(() => peers.filter((p) => p !== quiet).every((p) => p.hears(room.owner === p ? 660 : 440)), POLL).toBe(true)
      // Its track does arrive (the others got a 'track' from it) but is never mixed in.
      await new Promise((r) => setTimeout(r, 3000))
      for (const p of peers.filter((x) => x !== quiet)) expect(p.ratio(1000), `${p.name} plays the non-speaker`).toBeLessThan(0.02)
    } finally {
      tone.stop()
    }
  }, 180_000)
})

describe('the same room over hyperswarm, without any signalling server', () => {
  let testnet: { bootstrap: { host: string; port: number }[]; destroy(): Promise<void> }
  let links: RoomLinks
  beforeAll(async () => {
    testnet = await createTestnet(3, { host: '127.0.0.1' })
    // No relay runs: the links point at a closed port to prove nothing uses it.
    links = await createRoomLinks(await generateIdentity(), { title: 'Swarm test', topic: '', origin: 'http://127.0.0.1:9' })
  })
  afterAll(() => testnet?.destroy())

  test('speakers are heard by everyone, a raised hand is seen and invited up', async () => {
    await checkRoom(await liveRoom(links, { swarm: { bootstrap: testnet.bootstrap } }))
  }, 180_000)
})
