/**
 * Headless people for the relay bench's crowd and cascade parts (relay-crowd.ts,
 * relay-cascade.ts): two speakers, listeners recording clicks at the sink, and
 * late joiners timed by their own `first-audio` event. All real @roamhq/wrtc
 * peers (src/headless/headless-peer.ts) in the calling process, on 127.0.0.1,
 * so click send times and arrival times are on one clock.
 *
 * The tone speaker is what a joiner's `first-audio` waits for (a click speaker is
 * silent between clicks, which would add up to a click period to first audio); the
 * click speaker is what mouth-to-ear is measured on, at the RTCAudioSink of its
 * track only (the headless mixer would add the tone to the clicks).
 */
import wrtc from '@roamhq/wrtc'
import { attachSink, type AudioWrtc } from '../../src/node/audio-io.ts'
import { startHeadlessPeer, type HeadlessPeer, type PeerEvent } from '../../src/headless/headless-peer.ts'
import type { RoomLinks } from '../../src/cli/room-create.ts'
import type { TopologyLimits } from '../../src/net/topology.ts'
import { parseInvite } from '../../src/invite/index.ts'
import { toBase64url } from '../../src/identity/index.ts'
import { CLICK_PERIOD_MS, clickSource, FrameLog, heardClicks, type ClickLog, type ClickMatch } from './mesh-clicks.ts'
import { benchCase, summarize, waitFor, type BenchCase } from './stats.ts'

export const TONE = 440
const now = (): number => performance.now()
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d
const JOIN_TIMEOUT_MS = 30_000

/** Who may hear and speak, and how: every peer of a part uses the same limits and its own relay list. */
export interface Where {
  links: RoomLinks
  limits: TopologyLimits
}

export interface Speakers {
  tone: HeadlessPeer
  clicks: HeadlessPeer
  log: ClickLog
  stop(): Promise<void>
}

/** The tone speaker (moderator link: it takes the stage itself) and the click speaker (speaker link), on `relay`. */
export async function startSpeakers(where: Where, relay: string[]): Promise<Speakers> {
  const common = { loopbackOnly: true, relay, limits: where.limits, reportEvery: 3600 }
  const log = clickSource({ periodMs: CLICK_PERIOD_MS, now })
  const tone = await startHeadlessPeer({ ...common, link: where.links.moderator, name: 'Tone', speak: { kind: 'tone', freq: TONE } })
  const clicks = await startHeadlessPeer({ ...common, link: where.links.speaker, name: 'Clicks', speak: { kind: 'frames', next: log.next } })
  return { tone, clicks, log, stop: async () => void (await Promise.all([tone.stop(), clicks.stop()])) }
}

export interface ClickListener {
  peer: HeadlessPeer
  /** The click speaker's track over the relay, at its sink, while `recording.on`. */
  sink: FrameLog
  hasTrack(): boolean
  /** Route changes while recording (a path change spoils the recording). */
  routeChanges(): number
  stop(): Promise<void>
}

/** A listener on `relay` recording the click speaker `from` at the sink of its relay track. */
export async function clickListener(where: Where, relay: string[], from: string, recording: { on: boolean }): Promise<ClickListener> {
  const sink = new FrameLog(now)
  const sinks = new Map<MediaStreamTrack, () => void>()
  let changes = 0
  const peer = await startHeadlessPeer({ loopbackOnly: true, relay, limits: where.limits, reportEvery: 3600, link: where.links.listener })
  peer.client.on('track', (id, track, _stream, via) => {
    if (id === from && via === 'relay') sinks.set(track, attachSink(wrtc as unknown as AudioWrtc, track, (f) => recording.on && sink.push(f)))
  })
  peer.client.on('track-ended', (_id, track) => {
    sinks.get(track)?.()
    sinks.delete(track)
  })
  peer.client.on('route', () => {
    if (recording.on) changes++
  })
  return {
    peer,
    sink,
    hasTrack: () => sinks.size > 0 && peer.client.via === 'relay',
    routeChanges: () => changes,
    stop: async () => {
      for (const stop of sinks.values()) stop()
      sinks.clear()
      await peer.stop()
    },
  }
}

export interface Recorded {
  /** Clicks sent while recording. */
  sent: number
  /** Per listener, in the order given. */
  heard: Array<ClickMatch & { detected: number }>
}

/** Records `clicks` clicks at every listener's sink. */
export async function recordClicks(speakers: Speakers, listeners: ClickListener[], recording: { on: boolean }, clicks: number): Promise<Recorded> {
  const first = speakers.log.sent.length
  recording.on = true
  await new Promise((r) => setTimeout(r, clicks * CLICK_PERIOD_MS + 400))
  recording.on = false
  const changed = listeners.filter((l) => l.routeChanges() > 0).length
  if (changed) throw new Error(`${changed} click listeners changed path while recording`)
  const sent = speakers.log.sent.slice(first)
  return { sent: sent.length, heard: listeners.map((l) => heardClicks(sent, l.sink)) }
}

/** A mouth-to-ear case: the latencies of `rec`'s listeners (all, or those at `which`) pooled. */
export function clickCase(name: string, rec: Recorded, extra: BenchCase['extra'] = {}, which?: number[]): BenchCase {
  const heard = which ? which.map((i) => rec.heard[i]!) : rec.heard
  const latencies = heard.flatMap((h) => h.latencies)
  const medians = heard.map((h) => round(summarize(h.latencies).median))
  const note = `${latencies.length}/${rec.sent * heard.length} clicks matched at ${heard.length} sinks, xcorr ${round(summarize(heard.flatMap((h) => h.scores)).median, 2)}; sink medians ${medians.join(', ')}`
  return benchCase(name, 'ms', latencies, { ...extra, note })
}

export interface JoinTimes {
  /** `joined` to the tone speaker first heard (`first-audio` ms), per join that heard it. */
  firstAudioMs: number[]
  /** startHeadlessPeer() call to `joined`, per join. */
  toJoinedMs: number[]
  /** Joins that heard nothing within 30 s. */
  failed: number
  /** Joins whose first audio came over the relay (the room's mode), by path at first audio. */
  via: Record<string, number>
}

/**
 * `n` listeners join one after another on `relay` (each leaves before the next), each timed by
 * its own `first-audio` event for the tone speaker `from`: what `stoop peer --json` reports.
 */
export async function lateJoins(where: Where, relay: string[], from: string, n: number): Promise<JoinTimes> {
  const out: JoinTimes = { firstAudioMs: [], toJoinedMs: [], failed: 0, via: {} }
  for (let i = 0; i < n; i++) {
    let heard: number | null = null
    let joinedAt: number | null = null
    const t0 = Date.now()
    const onEvent = (ev: PeerEvent): void => {
      if (ev.event === 'joined' && joinedAt === null) joinedAt = ev.t
      if (ev.event === 'first-audio' && ev.from === from && heard === null) heard = Number(ev.ms)
    }
    const peer = await startHeadlessPeer({ link: where.links.listener, relay, limits: where.limits, loopbackOnly: true, reportEvery: 3600, onEvent })
    try {
      await waitFor('first-audio', () => heard !== null, JOIN_TIMEOUT_MS, 10)
      out.firstAudioMs.push(heard!)
      out.toJoinedMs.push(joinedAt! - t0)
      out.via[peer.client.via] = (out.via[peer.client.via] ?? 0) + 1
    } catch {
      out.failed++
    } finally {
      await peer.stop()
    }
  }
  return out
}

/** A late-join case: `joined` to first audio; start to `joined` in the extras. */
export function joinCase(name: string, j: JoinTimes, extra: BenchCase['extra'] = {}): BenchCase {
  const toJoined = summarize(j.toJoinedMs)
  return benchCase(name, 'ms', j.firstAudioMs, {
    ...extra,
    failed: j.failed,
    ...Object.fromEntries(Object.entries(j.via).map(([k, v]) => [`via ${k}`, v])),
    note: `joined -> first-audio of ${j.firstAudioMs.length} joins (${j.failed} heard nothing); start -> joined median ${Math.round(toJoined.median)} ms, p95 ${Math.round(toJoined.p95)} ms`,
  })
}

/** The room id and epoch-0 secret (base64url) a bench listener (relay-child-listeners.ts) needs to join the room of `link`. */
export function roomKeys(link: string): { roomId: string; secret: string } {
  const parsed = parseInvite(link, Date.now())
  if (!parsed.ok) throw new Error(parsed.message)
  return { roomId: parsed.invite.roomId, secret: toBase64url(parsed.invite.secretBytes) }
}
