/**
 * Bench part of `app`: how long a browser takes from opening a listener link
 * to hearing a room that is already on its relay.
 *
 * The room: a headless moderator speaking 440 Hz (`stoop peer --json`, a child
 * process) and 8 headless listeners (one child process): 9 people, past the
 * mesh size of 8, so everyone is on the relay. Each join is a fresh browser
 * context (new key, cold cache, no service worker) opening the listener link;
 * first audio is the first 20 ms poll at which the page's played output
 * (`window.__stoop.heard`, after gains: what a person hears) holds the tone.
 * Timed from navigation start in the page. Each joiner leaves before the next.
 *
 * Then the same room is joined by headless listeners (`startHeadlessPeer` in this
 * process, one after another), timed by their own `first-audio` event: `joined` to the
 * speaker first heard, as `stoop peer --json` reports it (`headlessJoinTimes`, also
 * usable by other benches). Its median and p95 go in the case's extra fields.
 */
import type { Browser } from 'playwright-core'
import { generateIdentity } from '../../src/identity/index.ts'
import { DEFAULT_LIMITS } from '../../src/net/topology.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { spawnPeerBatch } from '../integration/helpers/peer-batch.ts'
import { startJsonPeer } from '../integration/helpers/json-peer.ts'
import { startHeadlessPeer, type PeerEvent } from '../../src/headless/headless-peer.ts'
import { benchCase, summarize, waitFor, type BenchCase } from './stats.ts'

const TONE = 440
const LISTENERS = 8
const JOIN_TIMEOUT_MS = 30_000
const HEADLESS_JOINS = Number(process.env.BENCH_APP_HEADLESS_JOINS ?? 20)

/** Records when the page first plays the tone, and over which path (a string: see TTI_PROBE in app.ts). */
const FIRST_AUDIO_PROBE = `(() => {
  const timer = setInterval(() => {
    const s = window.__stoop
    if (!s || s.heard(${TONE}) < 0.3) return
    window.__firstAudio = performance.now()
    window.__firstVia = s.session()?.client.via
    clearInterval(timer)
  }, 20)
})()`

export interface RelayJoinResult {
  case: BenchCase
  joins: number
  /** Joins that heard nothing within JOIN_TIMEOUT_MS. */
  failed: number
  /** The path audio was played from when it was first heard. */
  firstVia: Record<string, number>
  /** Headless joins of the same room: `joined` to `first-audio` (ms); also in the case's extra fields. */
  headless?: HeadlessJoins
}

export interface HeadlessJoins {
  /** `first-audio` ms of every join that heard the speaker, in order. */
  ms: number[]
  /** Joins that heard nothing within JOIN_TIMEOUT_MS. */
  failed: number
}

/**
 * `joins` headless listeners join `link` one after another (each leaves before the next) and
 * report their `first-audio` event: ms from `joined` to the first speaker heard above silence.
 */
export async function headlessJoinTimes(opts: { link: string; relay: string[]; joins: number }): Promise<HeadlessJoins> {
  const ms: number[] = []
  let failed = 0
  for (let i = 0; i < opts.joins; i++) {
    let heard: number | null = null
    const onEvent = (ev: PeerEvent): void => {
      if (ev.event === 'first-audio' && heard === null) heard = Number(ev.ms)
    }
    const peer = await startHeadlessPeer({ link: opts.link, relay: opts.relay, loopbackOnly: true, reportEvery: 3600, onEvent })
    try {
      await waitFor('first-audio', () => heard !== null, JOIN_TIMEOUT_MS, 10)
      ms.push(heard!)
    } catch {
      failed++
    } finally {
      await peer.stop()
    }
  }
  return { ms, failed }
}

export async function relayJoinTimes(opts: { origin: string; browser: Browser; joins: number }): Promise<RelayJoinResult> {
  const links = await createRoomLinks(await generateIdentity(), { title: 'Bench relay room', topic: '', origin: opts.origin })
  const moderator = startJsonPeer([links.moderator, '--name', 'Mod', '--speak', `tone:${TONE}`, '--ice-loopback', '--media', 'wrtc'])
  const names = Array.from({ length: LISTENERS }, (_, i) => `L${i + 1}`)
  const relay = opts.origin.replace(/^http/, 'ws') + '/relay'
  const batch = await spawnPeerBatch(
    names.map((name) => ({ name, link: links.listener, relay: [relay] })),
    { limits: DEFAULT_LIMITS, freqs: [TONE] },
  )
  const times: number[] = []
  const firstVia: Record<string, number> = {}
  let failed = 0
  let headless: HeadlessJoins = { ms: [], failed: 0 }
  try {
    await moderator.next((ev) => ev.event === 'joined')
    await waitFor('the room on the relay, heard by every listener', () => names.every((n) => batch.status.get(n)?.via === 'relay' && batch.status.get(n)?.hears[TONE]), 60_000, 200)
    for (let i = 0; i <= opts.joins; i++) {
      const context = await opts.browser.newContext({ viewport: { width: 360, height: 740 }, serviceWorkers: 'block' })
      // E2EE off: the speaker is a @roamhq/wrtc headless peer, which does not seal its frames (see test/e2e/app-helpers.ts).
      await context.addInitScript(`localStorage.setItem('stoop.ice', 'loopback');localStorage.setItem('stoop.e2ee', 'off');${FIRST_AUDIO_PROBE}`)
      const page = await context.newPage()
      try {
        await page.goto(links.listener)
        await page.waitForFunction(() => (window as unknown as { __firstAudio?: number }).__firstAudio !== undefined, undefined, { timeout: JOIN_TIMEOUT_MS })
        const m = await page.evaluate(() => {
          const w = window as unknown as { __firstAudio: number; __firstVia?: string }
          return { at: w.__firstAudio, via: w.__firstVia ?? 'unknown' }
        })
        if (i === 0) continue // warm-up: Chromium's own first-start costs
        times.push(m.at)
        firstVia[m.via] = (firstVia[m.via] ?? 0) + 1
      } catch {
        if (i > 0) failed++
      } finally {
        await context.close()
      }
    }
    headless = await headlessJoinTimes({ link: links.listener, relay: [relay], joins: HEADLESS_JOINS })
  } finally {
    await batch.stop()
    await moderator.stop()
  }
  const h = summarize(headless.ms)
  return {
    case: benchCase('browser join, relay room: link to first audio', 'ms', times, {
      room: LISTENERS + 2,
      failed,
      ...Object.fromEntries(Object.entries(firstVia).map(([k, v]) => [`via ${k}`, v])),
      'headless first-audio p50': h.median,
      'headless first-audio p95': h.p95,
      'headless joins': h.samples,
      'headless failed': headless.failed,
      note: `headless: joined -> first-audio median ${h.median} ms, p95 ${h.p95} ms over ${h.samples} joins (${headless.failed} heard nothing)`,
    }),
    joins: opts.joins,
    failed,
    firstVia,
    headless,
  }
}
