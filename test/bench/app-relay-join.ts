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
 */
import type { Browser } from 'playwright-core'
import { generateIdentity } from '../../src/identity/index.ts'
import { DEFAULT_LIMITS } from '../../src/net/topology.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { spawnPeerBatch } from '../integration/helpers/peer-batch.ts'
import { startJsonPeer } from '../integration/helpers/json-peer.ts'
import { benchCase, waitFor, type BenchCase } from './stats.ts'

const TONE = 440
const LISTENERS = 8
const JOIN_TIMEOUT_MS = 30_000

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
}

export async function relayJoinTimes(opts: { origin: string; browser: Browser; joins: number }): Promise<RelayJoinResult> {
  const links = await createRoomLinks(await generateIdentity(), { title: 'Bench relay room', topic: '', origin: opts.origin })
  const moderator = startJsonPeer([links.moderator, '--name', 'Mod', '--speak', `tone:${TONE}`, '--ice-loopback'])
  const names = Array.from({ length: LISTENERS }, (_, i) => `L${i + 1}`)
  const relay = opts.origin.replace(/^http/, 'ws') + '/relay'
  const batch = await spawnPeerBatch(
    names.map((name) => ({ name, link: links.listener, relay: [relay] })),
    { limits: DEFAULT_LIMITS, freqs: [TONE] },
  )
  const times: number[] = []
  const firstVia: Record<string, number> = {}
  let failed = 0
  try {
    await moderator.next((ev) => ev.event === 'joined')
    await waitFor('the room on the relay, heard by every listener', () => names.every((n) => batch.status.get(n)?.via === 'relay' && batch.status.get(n)?.hears[TONE]), 60_000, 200)
    for (let i = 0; i <= opts.joins; i++) {
      const context = await opts.browser.newContext({ viewport: { width: 360, height: 740 }, serviceWorkers: 'block' })
      await context.addInitScript(`localStorage.setItem('stoop.ice', 'loopback');${FIRST_AUDIO_PROBE}`)
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
  } finally {
    await batch.stop()
    await moderator.stop()
  }
  return {
    case: benchCase('browser join, relay room: link to first audio', 'ms', times, { room: LISTENERS + 2, failed, ...Object.fromEntries(Object.entries(firstVia).map(([k, v]) => [`via ${k}`, v])) }),
    joins: opts.joins,
    failed,
    firstVia,
  }
}
