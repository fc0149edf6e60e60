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
 * each, so 40 wrtc peers do not share one event loop with the relays. Every
 * client keeps a standby on its second relay (RelayPath), so the move is one
 * message; the test waits until all standbys are up before the kill.
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
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { createToneSource } from '../../src/node/audio-io.ts'
import { loopbackSdp, type PeerWrtc } from '../../src/net/peer.ts'
import { RelayClient, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { attachSync } from '../../src/net/sync.ts'
import { checkRemoteUpdate, deriveDiscoveryKey, membershipKey } from '../../src/room/index.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'
import { parseInvite } from '../../src/invite/index.ts'
import { spawnPeerBatch, type BatchPeer, type PeerBatch, type PeerStatus } from './helpers/peer-batch.ts'

// 20 in `npm test`; `npm run test:load` runs 40. With 40 on a 2-core machine the whole box
// is at 100 % CPU before the kill (40 wrtc listeners at ~3.5 % of a core each, both relays
// forwarding), so the failover has no headroom to run in: see docs/relay.md, "Failover".
const LISTENERS = Number(process.env.STOOP_CASCADE_LISTENERS ?? 20)
const CHILDREN = Number(process.env.STOOP_CASCADE_CHILDREN ?? 4)
const JOIN_STAGGER_MS = 2000
const POLL = { timeout: 60_000, interval: 200 }
const limits = { meshSize: 2, hysteresis: 1, hardCap: 60 }
const RELAY_CHILD = fileURLToPath(new URL('./helpers/relay-proc.ts', import.meta.url))

let testnet: Testnet
let signal: Relay
let relayA: RelayProc
let relayB: RelayProc
const relays: ChildProcess[] = []

const batches: PeerBatch[] = []
/** Every batch's peers, by name. */
const status = { get: (name: string): PeerStatus | undefined => batches.map((b) => b.status.get(name)).find(Boolean) }
const ids = { get: (name: string): string | undefined => batches.map((b) => b.ids.get(name)).find(Boolean) }

async function spawnPeers(peers: BatchPeer[]): Promise<void> {
  batches.push(await spawnPeerBatch(peers, { limits, freqs: [440, 660], nice: 10 }))
}

interface RoomOnRelay {
  publishers: string[]
  remote: string[]
  links: string[]
  forwarder: { subscribers: number; standby: number } | null
}

interface RelayProc {
  proc: ChildProcess
  url: string
  room(discovery: string): Promise<RoomOnRelay>
}

async function spawnRelay(bootstrap: { host: string; port: number }[]): Promise<RelayProc> {
  const prof = process.env.STOOP_CASCADE_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.STOOP_CASCADE_CPU_PROF}`] : []
  const proc = fork(RELAY_CHILD, [], { execArgv: ['--import', 'tsx', ...prof], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  relays.push(proc)
  const url = await new Promise<string>((ok, ko) => {
    proc.on('message', (msg: { type: string; url?: string; message?: string }) => {
      if (msg.type === 'ready') ok(msg.url!)
      else if (msg.type === 'error') ko(new Error(msg.message))
    })
    proc.once('exit', (code) => ko(new Error(`relay process exited (${code})`)))
    proc.send({ type: 'start', bootstrap })
  })
  return {
    proc,
    url,
    room: (discovery) =>
      new Promise((ok) => {
        const on = (msg: { type: string } & RoomOnRelay) => {
          if (msg.type !== 'room') return
          proc.off('message', on)
          ok(msg)
        }
        proc.on('message', on)
        proc.send({ type: 'room', discovery })
      }),
  }
}

const wsUrl = (r: { url: string }): string => r.url.replace('http', 'ws') + '/relay'

beforeAll(async () => {
  testnet = await createTestnet(3, { host: '127.0.0.1' })
  signal = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  ;[relayA, relayB] = await Promise.all([spawnRelay(testnet.bootstrap), spawnRelay(testnet.bootstrap)])
}, 60_000)

afterAll(async () => {
  await Promise.all(batches.map((b) => b.stop()))
  await Promise.all(
    relays.map(
      (c) =>
        new Promise<void>((done) => {
          if (c.exitCode !== null || c.signalCode !== null) return done()
          const kill = setTimeout(() => c.kill('SIGKILL'), 10_000)
          c.once('exit', () => {
            clearTimeout(kill)
            done()
          })
          if (c.connected) c.send({ type: 'stop' })
          else c.kill('SIGKILL')
        }),
    ),
  )
  await signal?.close()
  await testnet?.destroy()
}, 60_000)

test(`two cascaded relays: 2 speakers, ${LISTENERS} listeners hear both; a listener may not publish; a killed relay's listeners move to the other`, async () => {
  const links = await createRoomLinks(await generateIdentity(), { title: 'Cascade', topic: '', origin: signal.url })
  const a = wsUrl(relayA)
  const b = wsUrl(relayB)
  // The speakers run in a process of their own too.
  await spawnPeers([
    { name: 'M', link: links.moderator, tone: 440, relay: [a, b] },
    { name: 'S', link: links.speaker, tone: 660, relay: [b, a] },
  ])
  const speakerM = { id: ids.get('M')! }
  const speakerS = { id: ids.get('S')! }
  const names = Array.from({ length: LISTENERS }, (_, i) => `L${i}`)
  const groups = Array.from({ length: CHILDREN }, (_, c) => names.filter((_n, i) => i % CHILDREN === c).map((name) => ({ name, link: links.listener, relay: Number(name.slice(1)) % 2 === 0 ? [a, b] : [b, a] })))
  // Batches join a few seconds apart, as a room fills: 40 wrtc listeners setting up at once
  // on 2 shared cores starve the relays' event loops (werift ICE checks time out).
  const started: Promise<void>[] = []
  for (const group of groups.filter((g) => g.length > 0)) {
    started.push(spawnPeers(group))
    await new Promise((r) => setTimeout(r, JOIN_STAGGER_MS))
  }
  await Promise.all(started)
  const hearsBoth = (n: string): boolean => status.get(n)?.hears['440'] === true && status.get(n)?.hears['660'] === true
  await expect.poll(() => ['M', 'S', ...names].filter((n) => status.get(n)?.via !== 'relay'), POLL).toEqual([])
  try {
    await expect.poll(() => names.filter((n) => !hearsBoth(n)), POLL).toEqual([])
  } catch (err) {
    const d = discoveryOf(links.listener)
    console.log(JSON.stringify({ statuses: ['M', 'S', ...names].map((n) => status.get(n)!).filter((p) => p && !hearsBoth(p.name)).map((p) => [p.name, p.url === a ? 'A' : 'B', p.state, p.standby, p.via, p.hears]), a: await relayA.room(d), b: await relayB.room(d) }))
    throw err
  }
  // Everyone's standby on the other relay comes up (5-10 s after joining, see RelayPath):
  // from here on the room is in the state of one that has run a while.
  await expect.poll(() => ['M', 'S', ...names].filter((n) => !status.get(n)?.standby), POLL).toEqual([])
  // Each relay really serves half the room, and forwards the other relay's speaker.
  const onA = names.filter((n) => status.get(n)?.url === a)
  const onB = names.filter((n) => status.get(n)?.url === b)
  // Half prefer each relay (a join that timed out under load may have failed over already).
  expect(onA.length + onB.length).toBe(LISTENERS)
  expect(onA.length).toBeGreaterThanOrEqual(LISTENERS / 4)
  expect(onB.length).toBeGreaterThanOrEqual(LISTENERS / 4)
  const parsed = parseInvite(links.listener, Date.now())
  if (!parsed.ok) throw new Error(parsed.message)
  const discovery = discoveryOf(links.listener)
  const roomA = await relayA.room(discovery)
  const roomB = await relayB.room(discovery)
  // A's subscribers: everyone using it (speakers listen too) and B's cascade link, plus
  // everyone using B standing by on A (their failover reserve: connected, nothing forwarded).
  const using = (url: string): number => ['M', 'S', ...names].filter((n) => status.get(n)?.url === url).length
  expect(roomA.forwarder).toMatchObject({ subscribers: using(a) + 1 + using(b), standby: using(b) })
  expect(roomA.publishers.sort()).toEqual([speakerM.id, speakerS.id].sort())
  expect(roomA.remote).toEqual([speakerS.id])
  expect(roomB.remote).toEqual([speakerM.id])
  expect(roomA.links).toEqual([b])
  expect(roomB.links).toEqual([a])

  // A listener's key asking relay B to publish is refused and counted.
  const refusedBefore = await refusedOn(relayB)
  // A member (it holds the link's secret, so it proves the epoch) that is not on stage.
  const epoch0 = membershipKey(parsed.invite.secretBytes)
  const sneaky = new RelayClient({ WebSocket: WebSocket as unknown as RelayWebSocketClass, wrtc: wrtc as unknown as PeerWrtc, sdpFilter: loopbackSdp, member: () => epoch0 })
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
  expect(await refusedOn(relayB)).toBe(refusedBefore + 1)

  // Relay A is killed (SIGKILL, no goodbye): its listeners and speaker M move to relay B
  // and hear both speakers again within 3 s.
  for (const b of batches) b.mark()
  await new Promise((r) => setTimeout(r, 500))
  const killedAt = Date.now()
  relayA.proc.kill('SIGKILL')
  const readyAt = new Map<string, number>()
  let mReady: number | null = null
  const heardAt = new Map<string, number>()
  const at440 = new Map<string, number>()
  const at660 = new Map<string, number>()
  await expect
    .poll(() => {
      for (const n of onA) {
        const st = status.get(n)
        if (st?.url === b && st.state === 'ready' && !readyAt.has(n)) readyAt.set(n, Date.now() - killedAt)
        if (mReady === null && status.get('M')?.url === b && status.get('M')?.state === 'ready') mReady = Date.now() - killedAt
        if (st?.url === b && st.via === 'relay' && hearsBoth(n) && !heardAt.has(n)) heardAt.set(n, Date.now() - killedAt)
        if (st?.url === b && st.hears['440'] && !at440.has(n)) at440.set(n, Date.now() - killedAt)
        if (st?.url === b && st.hears['660'] && !at660.has(n)) at660.set(n, Date.now() - killedAt)
      }
      return onA.length - heardAt.size
    }, { ...POLL, interval: 100 })
    .toBe(0)
  const movedAfter = Date.now() - killedAt
  console.log(`ready on B after (ms): ${[...readyAt.values()].sort((x, y) => x - y).join(' ')}; hearing both: ${[...heardAt.values()].sort((x, y) => x - y).join(' ')}; 440 (M): ${[...at440.values()].sort((x, y) => x - y).join(' ')}; 660 (S): ${[...at660.values()].sort((x, y) => x - y).join(' ')}; M ready on B at ${mReady}`)
  await new Promise((r) => setTimeout(r, 600))
  const gaps = onA.map((n) => status.get(n)!.gap ?? Infinity)
  const gapsB = onB.map((n) => status.get(n)!.gap ?? Infinity)
  console.log(`cascade: ${LISTENERS} listeners in ${CHILDREN} processes; relay A killed: its ${onA.length} listeners on relay B hear both after ${movedAfter} ms (polled, incl. the 0.5 s detection window); longest silence heard ${Math.max(...gaps)} ms on A's listeners, ${Math.max(...gapsB)} ms on B's`)
  // Issue 4: audio resumes within 3 s. With the standby the move is one message per client.
  expect(Math.max(...gaps)).toBeLessThanOrEqual(3000)
  // B's listeners hear both still (M moved to B).
  await expect.poll(() => onB.filter((n) => !hearsBoth(n)), { timeout: 3000, interval: 100 }).toEqual([])
  expect(Math.max(...gapsB)).toBeLessThanOrEqual(3000)
}, 240_000)

function discoveryOf(link: string): string {
  const parsed = parseInvite(link, Date.now())
  if (!parsed.ok) throw new Error(parsed.message)
  return discoveryHex(deriveDiscoveryKey(parsed.invite.roomId))
}

async function refusedOn(r: RelayProc): Promise<number> {
  const text = await (await fetch(`${r.url}/metrics`)).text()
  return Number(/^stoop_relay_rejected_publish_total\{reason="not-speaker"\} (\d+)$/m.exec(text)?.[1] ?? NaN)
}
