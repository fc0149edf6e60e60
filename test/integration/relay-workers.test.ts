/**
 * A relay forwarding over two worker threads (`startRelay({ workers: 2 })`,
 * `stoop relay --workers 2`), end to end on 127.0.0.1 with headless peers
 * (real wrtc) in child processes (helpers/peer-batch.ts):
 *
 *   1. a speaker (440 Hz) and 6 listeners in a room on the relay (mesh size 2):
 *      the listeners are spread over both shards, and every one hears the tone,
 *      so the shard that does not host the speaker forwards what the other
 *      posts to it; /metrics shows subscribers and packets out on each shard
 *   2. a listener joining late hears the tone too
 *   3. the shard without the speaker is stopped (worker.terminate, as a crash):
 *      only the connections it held are closed, the relay keeps running, the
 *      other listeners' connections stay up, the shard restarts, and the
 *      listeners it dropped reconnect and hear the tone again through the relay
 *
 * And the sharded forwarder alone (ShardPool + ShardedForwarder, werift peers,
 * random payloads standing in for SFrame ciphertext): a listener on each shard
 * gets a local speaker's and a cascade (injected) publisher's packets with
 * payload, sequence number, timestamp and marker unchanged; a remote publisher
 * that starts publishing here is adopted without renegotiating anyone; packets
 * are counted in once, whatever the number of shards they crossed.
 */
import { randomBytes } from 'node:crypto'
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket, useOPUS, useSdesMid, type RTCPeerConnectionConfig } from 'werift'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createMetrics } from '../../relay/metrics.ts'
import { ShardPool } from '../../relay/sfu/shard-pool.ts'
import { ShardedForwarder } from '../../relay/sfu/sharded-forwarder.ts'
import type { SessionDescription } from '../../relay/sfu/forwarder.ts'
import { generateIdentity } from '../../src/identity/index.ts'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { spawnPeerBatch, type PeerBatch, type PeerStatus } from './helpers/peer-batch.ts'
import { waitFor } from '../helpers/wait.ts'

const TONE = 440
const limits = { meshSize: 2, hysteresis: 1, hardCap: 60 }
const LISTENERS = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6']

let relay: Relay
const batches: PeerBatch[] = []
let room: { link: string; relayUrl: string } | null = null

function status(name: string): PeerStatus | undefined {
  return batches.map((b) => b.status.get(name)).find(Boolean)
}

function idOf(name: string): string {
  const id = batches.map((b) => b.ids.get(name)).find(Boolean)
  if (!id) throw new Error(`no id for ${name}`)
  return id
}

const hearsOnRelay = (name: string): boolean => status(name)?.via === 'relay' && status(name)?.hears[TONE] === true

/** Values of a metric by label set, as /metrics serves them. */
async function scrape(name: string): Promise<Map<string, number>> {
  await relay.shards!.refresh()
  const text = await (await fetch(`${relay.url}/metrics`)).text()
  const out = new Map<string, number>()
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) out.set(m[1] ?? '', Number(m[2]))
  return out
}

beforeAll(async () => {
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, workers: 2 })
})
afterAll(async () => {
  await Promise.all(batches.map((b) => b.stop()))
  await relay?.close()
})

test('a speaker and 6 listeners spread over 2 shards: every listener hears the tone, and so does a late one', async () => {
  const links = await createRoomLinks(await generateIdentity(), { title: 'Workers', topic: '', origin: relay.url })
  const relayUrl = relay.url.replace(/^http/, 'ws') + '/relay'
  room = { link: links.listener, relayUrl }
  batches.push(
    ...(await Promise.all([
      spawnPeerBatch([{ name: 'M', link: links.moderator, relay: [relayUrl], tone: TONE }, ...LISTENERS.slice(0, 3).map((name) => ({ name, link: links.listener, relay: [relayUrl] }))], { limits, freqs: [TONE] }),
      spawnPeerBatch(LISTENERS.slice(3).map((name) => ({ name, link: links.listener, relay: [relayUrl] })), { limits, freqs: [TONE] }),
    ])),
  )
  await waitFor(() => `all on the relay hearing ${TONE} Hz: ${JSON.stringify(LISTENERS.map((n) => [n, status(n)?.via, status(n)?.hears[TONE]]))}`, () => LISTENERS.every(hearsOnRelay), 90_000, 100)

  const placed = relay.shards!.placement()
  const speaker = idOf('M')
  const perShard = [0, 1].map((shard) => LISTENERS.filter((n) => placed.subscribers[idOf(n)] === shard).length)
  console.log(`relay workers: listeners per shard ${perShard.join(' / ')}, speaker's publisher on shard ${placed.publishers[speaker]}, its subscriber on ${placed.subscribers[speaker]}`)
  expect(perShard[0]! + perShard[1]!).toBe(LISTENERS.length)
  expect(Math.min(...perShard)).toBeGreaterThanOrEqual(2)
  // One key's two connections share a shard (a shard that stops takes whole clients).
  expect(placed.publishers[speaker]).toBe(placed.subscribers[speaker])

  const subscribers = await scrape('stoop_relay_shard_subscribers')
  expect(subscribers.get('shard="0"')).toBeGreaterThanOrEqual(2)
  expect(subscribers.get('shard="1"')).toBeGreaterThanOrEqual(2)
  expect((subscribers.get('shard="0"') ?? 0) + (subscribers.get('shard="1"') ?? 0)).toBe(LISTENERS.length + 1) // the speaker listens too
  // Both shards send: the one without the speaker forwards the packets the other posts to it.
  const out = await scrape('stoop_relay_shard_packets_total')
  expect(out.get('direction="out",shard="0"')).toBeGreaterThan(0)
  expect(out.get('direction="out",shard="1"')).toBeGreaterThan(0)

  const late = await spawnPeerBatch([{ name: 'L7', link: links.listener, relay: [relayUrl] }], { limits, freqs: [TONE] })
  batches.push(late)
  await waitFor(() => `the late listener on the relay hearing ${TONE} Hz: ${JSON.stringify(status('L7'))}`, () => hearsOnRelay('L7'), 30_000, 100)
}, 180_000)

test('a shard that stops closes only its connections; they reconnect and hear again', async () => {
  expect(room).not.toBeNull()
  const everyone = [...LISTENERS, 'L7']
  const placed = relay.shards!.placement()
  const speakerShard = placed.subscribers[idOf('M')]!
  const target = 1 - speakerShard
  const victims = everyone.filter((n) => placed.subscribers[idOf(n)] === target)
  const survivors = everyone.filter((n) => placed.subscribers[idOf(n)] === speakerShard)
  expect(victims.length).toBeGreaterThan(0)
  expect(survivors.length).toBeGreaterThan(0)
  const survivorUrls = new Map(survivors.map((n) => [n, status(n)?.url]))

  const killedAt = performance.now()
  await relay.shards!.terminate(target)
  const left = new Set<string>()
  let survivorsLeft: string[] = []
  const watch = (): void => {
    for (const n of victims) if (status(n)?.state !== 'ready') left.add(n)
    survivorsLeft = survivors.filter((n) => status(n)?.state !== 'ready' || status(n)?.url !== survivorUrls.get(n))
    // The survivors' connections are never closed: they stay ready on the same relay throughout.
    expect(survivorsLeft).toEqual([])
  }
  await waitFor(() => `the stopped shard's listeners to lose their relay connection (${[...left].join(', ')} of ${victims.join(', ')})`, () => {
    watch()
    return left.size === victims.length
  }, 15_000, 50)
  await waitFor(() => `the stopped shard's listeners back on the relay hearing ${TONE} Hz: ${JSON.stringify(victims.map((n) => [n, status(n)?.via, status(n)?.state, status(n)?.hears[TONE]]))}`, () => {
    watch()
    return [...everyone].every(hearsOnRelay)
  }, 60_000, 100)
  const backMs = Math.round(performance.now() - killedAt)

  expect((await scrape('stoop_relay_shard_failures_total')).get(`shard="${target}"`)).toBe(1)
  await waitFor('the stopped shard to run again', () => relay.shards!.shards()[target]!.live, 30_000, 100)
  expect(relay.rooms.roomCount).toBe(1)
  console.log(`relay workers: shard ${target} stopped; ${victims.length} listeners (${victims.join(', ')}) back on the relay hearing the tone ${backMs} ms after the kill, ${survivors.length} kept their connections`)
}, 180_000)

const CONFIG: RTCPeerConnectionConfig = {
  codecs: { audio: [useOPUS()], video: [] },
  headerExtensions: { audio: [useSdesMid()], video: [] },
  iceServers: [],
  iceAdditionalHostAddresses: ['127.0.0.1'],
  iceUseIpv6: false,
  bundlePolicy: 'max-bundle',
}

function loopbackOnly(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || / 127\.0\.0\.1 \d+ typ host/.test(l))
    .join('\r\n')
}

interface Sent {
  payload: Buffer
  seq: number
  timestamp: number
  marker: boolean
}

/** A werift publisher sending random payloads (an SFrame stand-in) through `write`. */
function rtpSource(ssrc: number, write: (rtp: RtpPacket) => void) {
  const sent = new Map<string, Sent>()
  let seq = 65_530 // crosses the 16-bit wrap
  return {
    sent,
    send(): void {
      const payload = randomBytes(20 + Math.floor(Math.random() * 120))
      const s: Sent = { payload, seq: seq & 0xffff, timestamp: (seq * 960) >>> 0, marker: seq % 5 === 0 }
      sent.set(payload.toString('hex'), s)
      write(new RtpPacket(new RtpHeader({ ssrc, sequenceNumber: s.seq, timestamp: s.timestamp, payloadType: 111, marker: s.marker }), payload))
      seq++
    },
  }
}

describe('ShardedForwarder over 2 shards', () => {
  let pool: ShardPool
  beforeAll(async () => {
    pool = await ShardPool.start({ workers: 2, peerConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }, log: silentLogger, metrics: createMetrics() })
  })
  afterAll(async () => {
    await pool?.close()
  })

  test('local and cascade publishers reach a listener on each shard untouched; adoption renegotiates nobody; packets counted in once', async () => {
    const errors: unknown[] = []
    const subs = new Map<string, { pc: RTCPeerConnection; got: RtpPacket[]; offers: number; queue: Promise<void> }>()
    const fwd = new ShardedForwarder(pool, {
      onError: (err) => errors.push(err),
      onOffer: (id, offer) => {
        const sub = subs.get(id)!
        sub.offers++
        sub.queue = sub.queue
          .then(async () => {
            await sub.pc.setRemoteDescription({ type: 'offer', sdp: loopbackOnly(offer.sdp) })
            await sub.pc.setLocalDescription(await sub.pc.createAnswer())
            await fwd.acceptAnswer(id, { type: 'answer', sdp: loopbackOnly(sub.pc.localDescription!.sdp) })
          })
          .catch((err: unknown) => void errors.push(err))
      },
    })
    try {
      for (const id of ['a', 'b']) {
        const pc = new RTCPeerConnection(CONFIG)
        const got: RtpPacket[] = []
        // A renegotiation fires onTrack again for a track it already announced: listen once per track.
        const tracks = new Set<unknown>()
        pc.onTrack.subscribe((track) => {
          if (tracks.has(track)) return
          tracks.add(track)
          track.onReceiveRtp.subscribe((rtp) => void got.push(rtp))
        })
        subs.set(id, { pc, got, offers: 0, queue: Promise.resolve() })
        fwd.addSubscriber(id)
      }
      // Least loaded first: one listener on each shard.
      expect(new Set(Object.values(fwd.placement().subscribers))).toEqual(new Set([0, 1]))

      // A publisher from another relay (cascade): its packets are posted from this thread.
      fwd.addRemotePublisher('remote')
      for (const id of subs.keys()) fwd.subscribe(id, 'remote')
      await waitFor('both listeners connected', () => [...subs.values()].every((s) => s.pc.connectionState === 'connected'), 30_000)
      const cascade = rtpSource(0xcafe, (rtp) => fwd.injectRtp('remote', rtp))

      // A local speaker: its connection on one shard, its packets posted to the other.
      const pubPc = new RTCPeerConnection(CONFIG)
      const track = new MediaStreamTrack({ kind: 'audio' })
      pubPc.addTransceiver(track, { direction: 'sendonly' })
      await pubPc.setLocalDescription(await pubPc.createOffer())
      const answer: SessionDescription = await fwd.addPublisher('speaker', { type: 'offer', sdp: loopbackOnly(pubPc.localDescription!.sdp) })
      await pubPc.setRemoteDescription({ type: 'answer', sdp: loopbackOnly(answer.sdp) })
      for (const id of subs.keys()) fwd.subscribe(id, 'speaker')
      await waitFor('the speaker connected', () => pubPc.connectionState === 'connected', 30_000)
      const local = rtpSource(0xbeef, (rtp) => track.writeRtp(rtp))

      const from = (sub: string, source: typeof local) => subs.get(sub)!.got.filter((r) => source.sent.has(Buffer.from(r.payload).toString('hex')))
      await waitFor(
        () => `50 packets of each publisher at each listener: ${[...subs.keys()].map((id) => `${id} ${from(id, local).length}/${from(id, cascade).length}`).join(', ')}`,
        async () => {
          local.send()
          cascade.send()
          await new Promise((r) => setTimeout(r, 10))
          return [...subs.keys()].every((id) => from(id, local).length >= 50 && from(id, cascade).length >= 50)
        },
        60_000,
        0,
      )
      for (const [id, sub] of subs) {
        for (const source of [local, cascade]) {
          for (const rtp of from(id, source)) {
            const s = source.sent.get(Buffer.from(rtp.payload).toString('hex'))!
            expect([rtp.header.sequenceNumber, rtp.header.timestamp, rtp.header.marker, rtp.header.payloadType]).toEqual([s.seq, s.timestamp, s.marker, 111])
          }
        }
        expect(sub.got.length, `${id}: every packet is one that was sent`).toBe(from(id, local).length + from(id, cascade).length)
      }

      // The cascade publisher now publishes here: adopted in place, nobody gets a new offer.
      const offersBefore = [...subs.values()].map((s) => s.offers)
      const movedPc = new RTCPeerConnection(CONFIG)
      const movedTrack = new MediaStreamTrack({ kind: 'audio' })
      movedPc.addTransceiver(movedTrack, { direction: 'sendonly' })
      await movedPc.setLocalDescription(await movedPc.createOffer())
      const movedAnswer = await fwd.addPublisher('remote', { type: 'offer', sdp: loopbackOnly(movedPc.localDescription!.sdp) })
      await movedPc.setRemoteDescription({ type: 'answer', sdp: loopbackOnly(movedAnswer.sdp) })
      await waitFor('the moved speaker connected', () => movedPc.connectionState === 'connected', 30_000)
      const moved = rtpSource(0xd00d, (rtp) => movedTrack.writeRtp(rtp))
      await waitFor('the moved speaker at both listeners', async () => {
        moved.send()
        await new Promise((r) => setTimeout(r, 10))
        return [...subs.keys()].every((id) => from(id, moved).length >= 20)
      }, 30_000, 0)
      expect([...subs.values()].map((s) => s.offers)).toEqual(offersBefore)

      // Counted in once: what this thread injected plus what the two connections brought, not once per shard.
      await pool.refresh()
      const stats = fwd.stats()
      const sentIn = cascade.sent.size + local.sent.size + moved.sent.size
      expect(stats.packetsIn).toBeLessThanOrEqual(sentIn)
      expect(stats.packetsIn).toBeGreaterThan(sentIn * 0.8)
      expect(stats.packetsOut).toBeGreaterThanOrEqual(2 * (50 + 50 + 20))
      expect(fwd.packetsDirect).toBe(stats.packetsOut)
      expect(stats).toMatchObject({ publishers: 2, subscribers: 2, streams: 4 })

      await fwd.removePublisher('speaker')
      expect(fwd.stats()).toMatchObject({ publishers: 1, streams: 2 })
      await pubPc.close()
      await movedPc.close()
      expect(errors).toEqual([])
    } finally {
      await fwd.close()
      for (const s of subs.values()) await s.pc.close()
    }
  }, 120_000)
})
