/**
 * Two relays serving one room find each other on hyperswarm (a hyperdht
 * testnet on 127.0.0.1) and cascade: each forwards its local speakers once to
 * the other, so listeners on either relay hear both speakers.
 *
 *   - speaker M (moderator link, 440 Hz) uses relay A first, speaker S
 *     (speaker link, 660 Hz) relay B first; listeners alternate; every peer
 *     is given both relays (the second one is its failover)
 *   - every listener hears both tones, through its relay
 *   - a listener key that asks relay B to publish is refused (counted)
 *   - relay A shuts down: its listeners (and speaker M) move to relay B and
 *     hear both tones again within 3 s
 *
 * Signalling (presence) runs on a third server, so killing a relay leaves it up.
 * The listeners run in child processes (helpers/listener-proc.ts), a batch
 * each, so 40 wrtc peers do not share one event loop with the relays.
 * Every WebRTC path is kept on 127.0.0.1 (loopback SDP filters both ways).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import * as Y from 'yjs'
import wrtc from '@roamhq/wrtc'
import createTestnet, { type Testnet } from 'hyperdht/testnet.js'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { generateIdentity } from '../../src/identity/index.ts'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks } from '../../relay/room-create.ts'
import { createToneSource } from '../../relay/audio-io.ts'
import { loopbackSdp, type PeerWrtc } from '../../src/net/peer.ts'
import { RelayClient, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { attachSync } from '../../src/net/sync.ts'
import { checkRemoteUpdate, deriveDiscoveryKey } from '../../src/room/index.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'
import { parseInvite } from '../../src/invite/index.ts'
import { listeningPeer, type Listening } from './helpers/room-peers.ts'

const LISTENERS = Number(process.env.STOOP_CASCADE_LISTENERS ?? 40)
const CHILDREN = Number(process.env.STOOP_CASCADE_CHILDREN ?? 4)
const CHILD = fileURLToPath(new URL('./helpers/listener-proc.ts', import.meta.url))
const POLL = { timeout: 60_000, interval: 200 }
const limits = { meshSize: 2, hysteresis: 1, hardCap: 60 }
const rooms = {
  peerConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false },
  sdpFilter: loopbackSdp,
}

let testnet: Testnet
let signal: Relay
let relayA: Relay
let relayB: Relay
let aClosed = false
const peers: Listening[] = []
const children: ChildProcess[] = []

interface Status {
  name: string
  url: string | null
  via: string
  hears: Record<string, boolean>
  gap: number | null
}
const status = new Map<string, Status>()

function spawnListeners(link: string, batch: { name: string; relay: string[] }[]): Promise<void> {
  const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.push(child)
  child.on('message', (msg: { type: string; peers?: Status[] }) => {
    if (msg.type === 'status') for (const p of msg.peers!) status.set(p.name, p)
  })
  return new Promise((ok, ko) => {
    child.on('message', (msg: { type: string; message?: string }) => {
      if (msg.type === 'started') ok()
      else if (msg.type === 'error') ko(new Error(msg.message))
    })
    child.once('exit', (code) => ko(new Error(`listener process exited (${code})`)))
    child.send({ type: 'start', link, peers: batch, limits, freqs: [440, 660] })
  })
}

const wsUrl = (r: Relay): string => r.url.replace('http', 'ws') + '/relay'

beforeAll(async () => {
  testnet = await createTestnet(3, { host: '127.0.0.1' })
  const swarm = { bootstrap: testnet.bootstrap, host: '127.0.0.1' }
  signal = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  relayA = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, swarm, rooms })
  relayB = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, swarm, rooms })
}, 60_000)

afterAll(async () => {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((done) => {
          if (c.exitCode !== null) return done()
          const kill = setTimeout(() => c.kill('SIGKILL'), 10_000)
          c.once('exit', () => {
            clearTimeout(kill)
            done()
          })
          c.send({ type: 'stop' })
        }),
    ),
  )
  await Promise.all(peers.map((p) => p.stop()))
  if (!aClosed) await relayA?.close()
  await relayB?.close()
  await signal?.close()
  await testnet?.destroy()
}, 60_000)

test(`two cascaded relays: 2 speakers, ${LISTENERS} listeners hear both; a listener may not publish; a dead relay's listeners move within 3 s`, async () => {
  const links = await createRoomLinks(await generateIdentity(), { title: 'Cascade', topic: '', origin: signal.url })
  const a = wsUrl(relayA)
  const b = wsUrl(relayB)
  const speakerM = await listeningPeer('M', { link: links.moderator, speak: { kind: 'tone', freq: 440 }, relay: [a, b], limits })
  peers.push(speakerM)
  const speakerS = await listeningPeer('S', { link: links.speaker, speak: { kind: 'tone', freq: 660 }, relay: [b, a], limits })
  peers.push(speakerS)
  const names = Array.from({ length: LISTENERS }, (_, i) => `L${i}`)
  const batches = Array.from({ length: CHILDREN }, (_, c) => names.filter((_n, i) => i % CHILDREN === c).map((name) => ({ name, relay: Number(name.slice(1)) % 2 === 0 ? [a, b] : [b, a] })))
  await Promise.all(batches.filter((batch) => batch.length > 0).map((batch) => spawnListeners(links.listener, batch)))
  const hearsBoth = (n: string): boolean => status.get(n)?.hears['440'] === true && status.get(n)?.hears['660'] === true
  await expect.poll(() => [...peers.filter((p) => p.client.via !== 'relay').map((p) => p.name), ...names.filter((n) => status.get(n)?.via !== 'relay')], POLL).toEqual([])
  await expect.poll(() => names.filter((n) => !hearsBoth(n)), POLL).toEqual([])
  // Each relay really serves half the room, and forwards the other relay's speaker.
  const onA = names.filter((n) => status.get(n)?.url === a)
  const onB = names.filter((n) => status.get(n)?.url === b)
  expect(onA.length).toBe(Math.ceil(LISTENERS / 2))
  expect(onB.length).toBe(Math.floor(LISTENERS / 2))
  expect(relayA.rooms.room(discoveryOf(links.listener))!.forwarderStats).toMatchObject({ subscribers: onA.length + 2 })
  const parsed = parseInvite(links.listener, Date.now())
  if (!parsed.ok) throw new Error(parsed.message)
  const discovery = discoveryOf(links.listener)
  const roomA = relayA.rooms.room(discovery)!
  const roomB = relayB.rooms.room(discovery)!
  expect(roomA.publishers.sort()).toEqual([speakerM.id, speakerS.id].sort())
  expect(roomA.remotePublishers).toEqual([speakerS.id])
  expect(roomB.remotePublishers).toEqual([speakerM.id])
  expect(relayA.cascade!.links(roomA.discovery).map((l) => l.url)).toEqual([b])
  expect(relayB.cascade!.links(roomB.discovery).map((l) => l.url)).toEqual([a])

  // A listener's key asking relay B to publish is refused and counted.
  const refusedBefore = relayB.metrics.value('stoop_relay_rejected_publish_total', { reason: 'not-speaker' })
  const sneaky = new RelayClient({ WebSocket: WebSocket as unknown as RelayWebSocketClass, wrtc: wrtc as unknown as PeerWrtc, sdpFilter: loopbackSdp })
  await sneaky.connect(b, parsed.invite.roomId, await generateIdentity())
  const doc = new Y.Doc()
  const detach = attachSync(doc, null, sneaky.link, { acceptUpdate: (u) => checkRemoteUpdate(u).ok })
  const fake = createToneSource(wrtc as never, { freq: 1000 })
  try {
    await expect(sneaky.publish(fake.track, fake.stream)).rejects.toMatchObject({ code: 'publish-refused', reason: 'not-speaker' })
  } finally {
    fake.stop()
    detach()
    sneaky.destroy()
  }
  expect(relayB.metrics.value('stoop_relay_rejected_publish_total', { reason: 'not-speaker' })).toBe(refusedBefore + 1)

  // Relay A goes away: its listeners move to relay B and hear both speakers again within 3 s.
  for (const c of children) c.send({ type: 'mark' })
  await new Promise((r) => setTimeout(r, 500))
  const killedAt = Date.now()
  aClosed = true
  await relayA.close()
  await expect.poll(() => onA.filter((n) => !(status.get(n)?.url === b && status.get(n)?.via === 'relay' && hearsBoth(n))).length, POLL).toBe(0)
  const movedAfter = Date.now() - killedAt
  await new Promise((r) => setTimeout(r, 600))
  const gaps = onA.map((n) => status.get(n)!.gap ?? Infinity)
  const gapsB = onB.map((n) => status.get(n)!.gap ?? Infinity)
  console.log(`cascade: ${LISTENERS} listeners in ${CHILDREN} processes; relay A closed: its ${onA.length} listeners on relay B hear both after ${movedAfter} ms (polled, incl. the 0.5 s detection window); longest silence heard ${Math.max(...gaps)} ms on A's listeners, ${Math.max(...gapsB)} ms on B's`)
  expect(Math.max(...gaps)).toBeLessThanOrEqual(3000)
  // B's listeners hear both still (M moved to B).
  expect(onB.filter((n) => !hearsBoth(n))).toEqual([])
}, 240_000)

function discoveryOf(link: string): string {
  const parsed = parseInvite(link, Date.now())
  if (!parsed.ok) throw new Error(parsed.message)
  return discoveryHex(deriveDiscoveryKey(parsed.invite.roomId))
}
