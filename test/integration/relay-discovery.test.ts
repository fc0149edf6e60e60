/**
 * Clients find relays on hyperswarm (a hyperdht testnet on 127.0.0.1): a relay
 * announces the rooms it serves under their relay topic, and a headless peer
 * on hyperswarm with no relay URL of its own finds it there and uses it once
 * the room is past mesh size.
 *
 *   - speaker M knows the relay (as a browser served from it would); the room
 *     has three people and a mesh size of 2, so M goes to the relay, which
 *     loads the room and announces it
 *   - listeners L1 and L2 were given no relay: they find it, switch to it and
 *     hear M's tone through it
 */
import createTestnet, { type Testnet } from 'hyperdht/testnet.js'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { generateIdentity } from '../../src/identity/index.ts'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { loopbackSdp } from '../../src/net/peer.ts'
import { listeningPeer, type Listening } from './helpers/room-peers.ts'

const POLL = { timeout: 60_000, interval: 250 }
const limits = { meshSize: 2, hysteresis: 1, hardCap: 12 }
let testnet: Testnet
let relay: Relay
const peers: Listening[] = []

beforeAll(async () => {
  testnet = await createTestnet(3, { host: '127.0.0.1' })
  relay = await startRelay({
    port: 0,
    host: '127.0.0.1',
    log: silentLogger,
    swarm: { bootstrap: testnet.bootstrap, host: '127.0.0.1' },
    rooms: { peerConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }, sdpFilter: loopbackSdp },
  })
}, 60_000)

afterAll(async () => {
  await Promise.all(peers.map((p) => p.stop()))
  await relay?.close()
  await testnet?.destroy()
}, 60_000)

test('listeners on hyperswarm with no relay URL find the relay serving their room and hear the speaker through it', async () => {
  const links = await createRoomLinks(await generateIdentity(), { title: 'Found', topic: '', origin: relay.url })
  const relayWs = `${relay.url.replace('http', 'ws')}/relay`
  const swarm = { bootstrap: testnet.bootstrap }
  const found: string[][] = []
  const speaker = await listeningPeer('M', { link: links.moderator, speak: { kind: 'tone', freq: 440 }, swarm, relay: [relayWs], limits })
  const listeners = [
    await listeningPeer('L1', { link: links.listener, swarm, limits, onEvent: (e) => e.event === 'relays-found' && found.push(e.urls as string[]) }),
    await listeningPeer('L2', { link: links.listener, swarm, limits }),
  ]
  peers.push(speaker, ...listeners)
  expect(listeners.map((l) => l.client.relay?.url ?? null)).toEqual([null, null])

  await expect.poll(() => listeners.map((l) => [l.client.relay?.url, l.client.via, l.hears(440)]), POLL).toEqual(listeners.map(() => [relayWs, 'relay', true]))
  expect(found.at(-1)).toEqual([relayWs])
  expect(speaker.client.via).toBe('relay')
}, 120_000)
