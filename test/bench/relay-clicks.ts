/**
 * Relay bench part: the latency the relay adds, by the mesh bench's click
 * method (mesh-clicks.ts). Two rooms, recorded over the same window so that
 * both see the same load (the box is shared): in each, one listener hears one
 * speaker sending chirps (SpeakSource 'frames'). With { meshSize: 2,
 * hysteresis: 1 } the mesh room (speaker + listener) stays a mesh, and the
 * relay room has a silent third peer, so it runs on the relay (and has left
 * the mesh) before recording starts. Headless peers run in this process, the
 * relay in its own (relay.ts), all on 127.0.0.1, one clock. The clicks are
 * split over ROUNDS rounds of fresh rooms and pooled per path, because a
 * stream's delay is mostly the one NetEq settled on (it differs by ~10 ms
 * from stream to stream and hardly moves within one). "added" is relay minus
 * mesh, statistic by statistic; each case notes its rooms' medians.
 *
 * Recorded at two points, as in the mesh bench: `sink` (the decoded track at
 * an RTCAudioSink, only tracks of the path measured) and `heard` (after the
 * headless peer's 10 ms mixer, which plays one path: mayPlay). Compare paths
 * at the sink: `heard` adds the mixer's per-track queue (src/headless/headless-peer.ts),
 * which keeps whatever backlog an event-loop stall left in it, so its depth
 * (0 to a few frames) differs from track to track.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import wrtc from '@roamhq/wrtc'
import { attachSink, type AudioWrtc } from '../../src/node/audio-io.ts'
import { startHeadlessPeer, type HeadlessPeer } from '../../src/headless/headless-peer.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import type { Via } from '../../src/participant/room-client.ts'
import { generateIdentity } from '../../src/identity/index.ts'
import { CLICK_PERIOD_MS, clickSource, FrameLog, heardClicks, type ClickLog, type ClickMatch } from './mesh-clicks.ts'
import { benchCase, summarize, waitFor, type BenchCase } from './stats.ts'

const LIMITS = { meshSize: 2, hysteresis: 1, hardCap: 60 }
/** Each round is a fresh pair of rooms: NetEq settles on its own delay per stream, so one pair is one sample of it. */
const ROUNDS = 4
const now = (): number => performance.now()
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d

interface Opts {
  origin: string
  relay: string
  clicks: number
}

/** One room: a click speaker, a listener recording what arrives over `via`. */
interface Room {
  via: Via
  clicks: ClickLog
  sink: FrameLog
  heard: FrameLog
  listener: HeadlessPeer
  speaker: HeadlessPeer
  hasTrack(): boolean
  /** Route changes of the listener while recording. */
  routeChanges(): number
  stopSinks(): void
}

export async function relayClickLatency(opts: Opts, cases: BenchCase[]): Promise<Record<string, unknown>> {
  const perRound = Math.ceil(opts.clicks / ROUNDS)
  const rounds: Round[] = []
  for (let i = 0; i < ROUNDS; i++) rounds.push(await clickRound(opts, perRound))
  const out: Record<string, unknown> = {
    rounds: ROUNDS,
    clicksPerRound: perRound,
    periodMs: CLICK_PERIOD_MS,
    limits: LIMITS,
    relayRoomOnRelayAfterS: rounds.map((r) => r.relayAfterS),
  }
  for (const point of ['sink', 'heard'] as const) {
    const pooled = (via: Via) => {
      const heard = rounds.map((r) => r[via][point])
      const latencies = heard.flatMap((h) => h.latencies)
      const sent = rounds.reduce((a, r) => a + r[via].sent, 0)
      const medians = heard.map((h) => round(summarize(h.latencies).median))
      const score = round(summarize(heard.flatMap((h) => h.scores)).median, 2)
      const note = `${latencies.length}/${sent} clicks matched, xcorr ${score}; room medians ${medians.join(', ')}`
      cases.push(benchCase(`m2e/${via} ${point}`, 'ms', latencies, { note }))
      return { stats: summarize(latencies), detail: { sent, detected: heard.reduce((a, h) => a + h.detected, 0), matched: latencies.length, medianScore: score, roomMediansMs: medians } }
    }
    const m = pooled('mesh')
    const r = pooled('relay')
    const diff = (k: 'median' | 'p95' | 'min' | 'max' | 'mean') => round(r.stats[k] - m.stats[k], 2)
    cases.push({
      name: `m2e/added ${point}`,
      unit: 'ms',
      samples: Math.min(r.stats.samples, m.stats.samples),
      median: diff('median'),
      p95: diff('p95'),
      min: diff('min'),
      max: diff('max'),
      mean: diff('mean'),
      extra: { note: 'relay minus mesh, statistic by statistic' },
    })
    out[point] = { mesh: m.detail, relay: r.detail, addedMs: { median: diff('median'), p95: diff('p95'), mean: diff('mean') } }
  }
  return out
}

type Heard = ClickMatch & { detected: number }
interface Round {
  relayAfterS: number
  mesh: { sent: number; sink: Heard; heard: Heard }
  relay: { sent: number; sink: Heard; heard: Heard }
}

/** Fresh rooms, one per path, recorded over the same window. */
async function clickRound(opts: Opts, clicks: number): Promise<Round> {
  const peers: HeadlessPeer[] = []
  const rooms: Room[] = []
  const recording = { on: false }
  try {
    const mesh = await clickRoom('mesh', opts, recording, peers)
    rooms.push(mesh)
    const relay = await clickRoom('relay', opts, recording, peers)
    rooms.push(relay)
    await waitFor('the mesh listener to get the track', () => mesh.hasTrack() && mesh.listener.client.via === 'mesh', 20_000)
    const t0 = now()
    const left = (p: HeadlessPeer) => p.client.mesh.connected.length === 0
    await waitFor('the relay room to move to the relay and leave the mesh', () => relay.hasTrack() && relay.listener.client.via === 'relay' && left(relay.speaker) && left(relay.listener), 45_000, 50)
    const relayAfterS = round((now() - t0) / 1000, 2)
    await sleep(1500) // past the first packets and NetEq's start-up
    const first = rooms.map((r) => r.clicks.sent.length)
    recording.on = true
    await sleep(clicks * CLICK_PERIOD_MS + 400)
    recording.on = false
    const [m, r] = rooms.map((room, i) => {
      if (room.routeChanges()) throw new Error(`relay m2e: the ${room.via} listener's path changed ${room.routeChanges()} times while recording`)
      return { sent: room.clicks.sent.length - first[i]!, sink: heardClicks(room.clicks.sent, room.sink), heard: heardClicks(room.clicks.sent, room.heard) }
    })
    return { relayAfterS, mesh: m!, relay: r! }
  } finally {
    for (const room of rooms) room.stopSinks()
    await Promise.all(peers.map((p) => p.stop()))
  }
}

async function clickRoom(via: Via, opts: Opts, recording: { on: boolean }, peers: HeadlessPeer[]): Promise<Room> {
  const links = await createRoomLinks(await generateIdentity(), { title: `bench m2e ${via}`, topic: '', origin: opts.origin })
  const common = { loopbackOnly: true, relay: opts.relay, limits: LIMITS, reportEvery: 3600 }
  const clicks = clickSource({ periodMs: CLICK_PERIOD_MS, now })
  const sink = new FrameLog(now)
  const heard = new FrameLog(now)
  const sinks = new Map<MediaStreamTrack, () => void>()
  let routeChanges = 0
  // The listener first, so its 'track' handler is in place before the speaker shows up.
  const listener = await startHeadlessPeer({ ...common, link: links.listener, onHeard: (f) => recording.on && heard.push(f) })
  peers.push(listener)
  listener.client.on('track', (_from, track, _stream, trackVia) => {
    if (trackVia === via) sinks.set(track, attachSink(wrtc as unknown as AudioWrtc, track, (f) => recording.on && sink.push(f)))
  })
  listener.client.on('track-ended', (_from, track) => {
    sinks.get(track)?.()
    sinks.delete(track)
  })
  listener.client.on('route', () => {
    if (recording.on) routeChanges++
  })
  const speaker = await startHeadlessPeer({ ...common, link: links.speaker, speak: { kind: 'frames', next: clicks.next } })
  peers.push(speaker)
  if (via === 'relay') peers.push(await startHeadlessPeer({ ...common, link: links.listener }))
  return {
    via,
    clicks,
    sink,
    heard,
    listener,
    speaker,
    hasTrack: () => sinks.size > 0,
    routeChanges: () => routeChanges,
    stopSinks: () => {
      for (const stop of sinks.values()) stop()
      sinks.clear()
    },
  }
}
