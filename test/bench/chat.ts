/**
 * Bench: a chat of 1,000 messages (issue 15: "render and sync stay smooth").
 *
 *   chat-sync/N        a fresh Node joiner syncs the room from a relay on 127.0.0.1, through
 *                      the gate and replica a RoomClient uses, until the app's ChatView holds
 *                      all N messages opened; with its phases (transfer, verify, state, open).
 *                      See chat-sync.ts.
 *   chat-render/N      the production build in Chromium (fresh context each time) opens the
 *                      listener link of a room whose host (a headless peer, the owner) holds the
 *                      N messages; a mesh room of two. Navigation start to the chat panel showing
 *                      all N; `chat` from the room screen; the longest long task and rAF frame and
 *                      the frames over 50 ms from the room screen until a second after.
 *   reactions/R        R headless listeners (real RoomClients in child processes; the room of
 *                      R + 2 is on the relay) each react once within one second at a page in the
 *                      room (the N messages in its chat panel); frames of the receiving page from
 *                      the burst until every bubble is gone again; `idle` is the two seconds before.
 * Messages are written by 5 members through RoomActor (signed, sealed under epoch 0): chat-room.ts.
 *
 * Env: BENCH_CHAT_MESSAGES (1000), BENCH_CHAT_REACTIONS (50), BENCH_SAMPLES (5),
 * BENCH_CHAT_DIST (serve this build instead of building the app into a temporary folder),
 * BENCH_CPU_PROF=<dir> (a CPU profile of the page per render sample: chat-page.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import type { Browser, Page } from 'playwright-core'
import { startRelay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { startHeadlessPeer, type HeadlessPeer } from '../../src/headless/headless-peer.ts'
import type { StoopDebug } from '../../src/app/browser-app.ts'
import { launchChromium, LOOPBACK_ICE_FLAGS } from '../e2e/browser.ts'
import { buildChatRoom, type ChatRoom } from './chat-room.ts'
import { chatSyncCases } from './chat-sync.ts'
import { chatShown, newPage, probe, reactionBurst, renderOnce, type FrameWindow, type ReactionSample, type RenderSample } from './chat-page.ts'
import { spawnReactors, type Reactors } from './chat-reactors.ts'
import { benchCase, environment, waitFor, type BenchCase, type BenchReport } from './stats.ts'

const MESSAGES = Number(process.env.BENCH_CHAT_MESSAGES ?? 1000)
const REACTORS = Number(process.env.BENCH_CHAT_REACTIONS ?? 50)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 5)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** Generous: two shared cores run Chromium, 50 wrtc peers in two processes, the relay and this process. */
const PAGE_TIMEOUT_MS = 300_000
/** How long a page in the room waits for every reactor to be present before the bursts start anyway. */
const SETTLE_MS = 90_000

/** The app built from the current sources into a folder of our own: a build running elsewhere cannot change it under us. */
async function buildDist(): Promise<{ dist: string; cleanup: () => void }> {
  if (process.env.BENCH_CHAT_DIST) return { dist: process.env.BENCH_CHAT_DIST, cleanup: () => undefined }
  const dir = mkdtempSync(join(tmpdir(), 'stoop-chat-bench-'))
  const { build } = await import('vite')
  await build({ root: join(ROOT, 'src'), configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn', build: { outDir: join(dir, 'dist'), emptyOutDir: true } })
  return { dist: join(dir, 'dist'), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The owner online with the whole chat, as a headless peer: the one member a joiner syncs from. */
async function startHost(room: ChatRoom, relay: string): Promise<HeadlessPeer> {
  const host = await startHeadlessPeer({ link: room.listener, identity: room.owner, name: 'Host', relay: [relay], loopbackOnly: true, reportEvery: 3600 })
  Y.applyUpdate(host.client.doc, Y.encodeStateAsUpdate(room.doc))
  await waitFor(() => `host chat ${host.client.state.chat.length}/${MESSAGES}`, () => host.client.state.chat.length === MESSAGES, 60_000, 50)
  return host
}

/** Progress on stderr: the bench runs for minutes. */
const note = (what: string): void => void process.stderr.write(`[chat] ${new Date().toISOString().slice(11, 19)} ${what}\n`)

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN

function windowCases(prefix: string, ws: FrameWindow[], extra: Record<string, number | string>): BenchCase[] {
  const counts = { ...extra, 'frames>16.7 p50': median(ws.map((w) => w.missed)), 'frames>50 p50': median(ws.map((w) => w.over50)), 'tasks>100 p50': median(ws.map((w) => w.tasksOver100)) }
  return [
    benchCase(`${prefix} longest frame`, 'ms', ws.map((w) => w.longestFrame), counts),
    benchCase(`${prefix} longest task`, 'ms', ws.map((w) => w.longestTask), counts),
    benchCase(`${prefix} frames>16.7`, 'frames', ws.map((w) => w.missed), counts),
    benchCase(`${prefix} frames>50`, 'frames', ws.map((w) => w.over50), counts),
  ]
}

async function renderCases(browser: Browser, room: ChatRoom, failures: string[]): Promise<{ cases: BenchCase[]; samples: RenderSample[] }> {
  const samples: RenderSample[] = []
  const script = probe(MESSAGES, room.texts.at(-1)!)
  for (let i = 0; i <= SAMPLES; i++) {
    try {
      const s = await renderOnce(browser, room.listener, script, PAGE_TIMEOUT_MS)
      if (i > 0) samples.push(s) // warm-up: Chromium's own first-start costs
    } catch (err) {
      failures.push(`render: ${(err as Error).message.split('\n')[0]}`)
    }
  }
  const extra = { messages: MESSAGES, room: 'mesh of 2', 'page-load longest task p50': median(samples.map((s) => s.all.longestTask)) }
  return {
    cases: [
      benchCase(`chat-render/${MESSAGES}`, 'ms', samples.map((s) => s.shown), extra),
      benchCase(`chat-render/${MESSAGES} from room screen`, 'ms', samples.map((s) => s.chat), extra),
      benchCase(`chat-render/${MESSAGES} main-thread cpu`, 'ms', samples.map((s) => s.cpu), extra),
      ...windowCases(`chat-render/${MESSAGES}`, samples.map((s) => s.join), extra),
    ],
    samples,
  }
}

/**
 * Waits until the page shows the chat and is on the relay with `people` present (itself included),
 * for at most SETTLE_MS after the chat: a reactor the page does not see as present is measured as
 * what it is, a reaction that does not arrive (`received`, `present`).
 */
async function settledInRoom(page: Page, people: number): Promise<{ present: number; via: string }> {
  await chatShown(page, PAGE_TIMEOUT_MS)
  type Debug = { __stoop?: StoopDebug }
  const seen = (): { present: number; via: string } => {
    const s = (window as unknown as Debug).__stoop?.session()
    return { present: s ? [...s.snapshot.stage, ...s.snapshot.audience].filter((p) => p.present).length : 0, via: s?.client.via ?? 'none' }
  }
  const ready = (want: number): boolean => {
    const s = (window as unknown as Debug).__stoop?.session()
    return s?.client.via === 'relay' && [...s.snapshot.stage, ...s.snapshot.audience].filter((p) => p.present).length >= want
  }
  await page.waitForFunction(ready, people, { timeout: SETTLE_MS, polling: 250 }).catch(() => undefined)
  return page.evaluate(seen)
}

async function reactionCases(browser: Browser, room: ChatRoom, reactors: Reactors, failures: string[]): Promise<{ cases: BenchCase[]; samples: ReactionSample[] }> {
  const { context, page } = await newPage(browser, probe(MESSAGES, room.texts.at(-1)!))
  const samples: ReactionSample[] = []
  let settled = { present: 0, via: 'none' }
  try {
    await page.goto(room.listener)
    settled = await settledInRoom(page, REACTORS + 2)
    for (let i = 0; i <= SAMPLES; i++) {
      const s = await reactionBurst(page, reactors, 1000)
      if (i > 0) samples.push(s) // warm-up: the first bubbles' styles and fonts
    }
  } catch (err) {
    failures.push(`reactions: ${(err as Error).message.split('\n')[0]}`)
  } finally {
    await context.close()
  }
  const extra = {
    reactors: REACTORS,
    messages: MESSAGES,
    'received p50': median(samples.map((s) => s.received)),
    'arrival spread p50': Math.round(median(samples.map((s) => s.spread))),
    'first latency p50': Math.round(median(samples.map((s) => s.firstLatency))),
    'last latency p50': Math.round(median(samples.map((s) => s.lastLatency))),
    'idle longest frame p50': median(samples.map((s) => s.idle.longestFrame)),
    'idle frames>16.7 p50': median(samples.map((s) => s.idle.missed)),
    'idle cpu p50': Math.round(median(samples.map((s) => s.idleCpu))),
    'present at page': settled.present,
    'page via': settled.via,
    // Where the reactors play audio from (a reactor still on the mesh reaches the page only if linked to it).
    'reactors via relay': reactors.via().relay ?? 0,
    'reactors see present (fewest)': reactors.present(),
  }
  const cases = [
    benchCase(`reactions/${REACTORS} received`, 'reactions', samples.map((s) => s.received), extra),
    benchCase(`reactions/${REACTORS} main-thread cpu`, 'ms', samples.map((s) => s.cpu), extra),
    ...windowCases(`reactions/${REACTORS}`, samples.map((s) => s.burst), extra),
  ]
  return { cases, samples }
}

export async function run(): Promise<BenchReport> {
  note('building the app')
  const { dist, cleanup } = await buildDist()
  const relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist })
  const relayWs = `${relay.url.replace(/^http/, 'ws')}/relay`
  const failures: string[] = []
  let host: HeadlessPeer | null = null
  let reactors: Reactors | null = null
  let browser: Browser | null = null
  try {
    note(`writing ${MESSAGES} messages`)
    const room = await buildChatRoom(MESSAGES, relay.url)
    note('chat-sync')
    const sync = await chatSyncCases(room, SAMPLES)
    host = await startHost(room, relayWs)
    browser = await launchChromium(LOOPBACK_ICE_FLAGS)
    note('chat-render')
    const render = await renderCases(browser, room, failures)
    note(`${REACTORS} reactors joining`)
    reactors = await spawnReactors({ link: room.listener, relay: relayWs, count: REACTORS, batches: 2 })
    note('reactions')
    const reactions = await reactionCases(browser, room, reactors, failures)
    return {
      name: 'chat',
      environment: environment(),
      messages: MESSAGES,
      failures,
      render: render.samples,
      reactions: reactions.samples,
      cases: [...sync, ...render.cases, ...reactions.cases],
    }
  } finally {
    await browser?.close()
    await reactors?.stop()
    await host?.stop()
    await relay.close()
    cleanup()
  }
}
