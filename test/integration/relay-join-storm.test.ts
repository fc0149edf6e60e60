/**
 * A crowd joining a room that is already on its relay: 20 listeners started
 * together all hear the speaker's tone within 5 s of being started.
 *
 * The room is on the relay from the start (mesh size 2: a speaker and two
 * listeners are past it). The 20 joiners run in two child processes
 * (helpers/peer-batch.ts), ten each, forked at the same moment; the 5 s count from
 * when both processes have started all their peers (starting Node and loading the
 * code is not joining: it is logged, from the fork, next to the bound). Each
 * joiner asks the relay first, hears from its welcome that the room is there,
 * and subscribes at once, building no mesh (docs/relay.md, "Joining a room on its
 * relay"). Before that change a crowd like this built a mesh among itself while the
 * relay handshakes were under way, and on this 2-core machine some heard nothing for
 * 6 s or more.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { generateIdentity } from '../../src/identity/index.ts'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { spawnPeerBatch, type PeerBatch } from './helpers/peer-batch.ts'
import { startJsonPeer } from './helpers/json-peer.ts'

const TONE = 440
const JOINERS = 20
const PER_PROCESS = 10
const BOUND_MS = 5000
const limits = { meshSize: 2, hysteresis: 1, hardCap: 60 }
const POLL = { timeout: 45_000, interval: 100 }

let relay: Relay
const batches: PeerBatch[] = []
/** The room of the first test (its speaker's id), for the second. */
let room: { link: string; speaker: string } | null = null

/** A gauge as /metrics serves it (gauges are read when scraped). */
async function gauge(name: string): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text()
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN)
}

beforeAll(async () => {
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
})
afterAll(async () => {
  await Promise.all(batches.map((b) => b.stop()))
  await relay?.close()
})

test('20 listeners started together into a room on its relay all hear the speaker within 5 s', async () => {
  const links = await createRoomLinks(await generateIdentity(), { title: 'Join storm', topic: '', origin: relay.url })
  const relayUrl = relay.url.replace(/^http/, 'ws') + '/relay'
  const speakers = await spawnPeerBatch(
    [
      { name: 'M', link: links.moderator, relay: [relayUrl], tone: TONE },
      { name: 'L1', link: links.listener, relay: [relayUrl] },
      { name: 'L2', link: links.listener, relay: [relayUrl] },
    ],
    { limits, freqs: [TONE] },
  )
  batches.push(speakers)
  const first = ['L1', 'L2']
  await expect.poll(() => first.map((n) => [speakers.status.get(n)?.via, speakers.status.get(n)?.hears[TONE]]), POLL).toEqual(first.map(() => ['relay', true]))
  expect(await gauge('stoop_relay_publishers')).toBe(1)

  const names = Array.from({ length: JOINERS }, (_, i) => `J${i + 1}`)
  const forkedAt = performance.now()
  const storm = await Promise.all(
    Array.from({ length: JOINERS / PER_PROCESS }, (_, p) =>
      spawnPeerBatch(
        names.slice(p * PER_PROCESS, (p + 1) * PER_PROCESS).map((name) => ({ name, link: links.listener, relay: [relayUrl] })),
        { limits, freqs: [TONE] },
      ),
    ),
  )
  batches.push(...storm)
  const startedAt = performance.now()
  const status = (name: string) => storm.map((b) => b.status.get(name)).find(Boolean)
  const heardAt = new Map<string, number>()
  await expect
    .poll(
      () => {
        for (const n of names) if (!heardAt.has(n) && status(n)?.hears[TONE]) heardAt.set(n, performance.now())
        return heardAt.size
      },
      { timeout: 30_000, interval: 50 },
    )
    .toBe(JOINERS)
  const since = (t0: number): number[] => [...heardAt.values()].map((t) => Math.max(0, Math.round(t - t0))).sort((a, b) => a - b)
  const times = since(startedAt)
  const fromFork = since(forkedAt)
  console.log(
    `join storm: ${JOINERS} listeners heard the speaker ${times[0]}-${times.at(-1)} ms (median ${times[JOINERS / 2]}) after all were started; ` +
      `${fromFork[0]}-${fromFork.at(-1)} ms after the fork (processes started in ${Math.round(startedAt - forkedAt)} ms)`,
  )
  // Through the relay, every one of them: nobody's audio came over a mesh.
  expect(names.map((n) => status(n)?.via)).toEqual(names.map(() => 'relay'))
  expect(await gauge('stoop_relay_subscribers')).toBe(JOINERS + 3) // the speaker subscribes too
  expect(times.at(-1)!).toBeLessThanOrEqual(BOUND_MS)
  room = { link: links.listener, speaker: speakers.ids.get('M')! }
}, 120_000)

test('stoop peer --json reports when it first hears each speaker: first-audio {from, ms}', async () => {
  expect(room).not.toBeNull()
  const peer = startJsonPeer([room!.link, '--ice-loopback', '--mesh-size', String(limits.meshSize), '--media', 'wrtc'])
  try {
    const joined = await peer.next((ev) => ev.event === 'joined', 30_000)
    const first = await peer.next((ev) => ev.event === 'first-audio', 15_000)
    console.log(`stoop peer: first-audio ${JSON.stringify(first)}`)
    expect(first).toMatchObject({ from: room!.speaker, ms: expect.any(Number) })
    expect(first.ms).toBeGreaterThanOrEqual(0)
    expect(Number(first.t)).toBeGreaterThanOrEqual(Number(joined.t))
  } finally {
    await peer.stop()
  }
}, 60_000)
