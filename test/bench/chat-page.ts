/**
 * Chat bench, browser part: what a page records about itself, and the two Chromium cases.
 *
 * The probe (an init script, a string: tsx's keepNames would wrap named helpers in
 * `__name`) records in the page, from navigation start:
 *   - every requestAnimationFrame timestamp (a frame's length is the gap to the next);
 *   - every long task (PerformanceObserver 'longtask': > 50 ms on the main thread);
 *   - `room`: the room screen is up (its Chat heading exists);
 *   - `shown`: the chat panel shows all N messages (its count reads N and the newest
 *     message, the last of the rendered window, holds the last text);
 *   - the time each reaction bubble is put on a tile.
 *
 * CPU time of the page's main thread (DevTools' ThreadTime) goes with the wall times: on a shared
 * machine a task's wall time grows with the load, its CPU time much less.
 *
 * A frame "over 16.7 ms" is a gap over 16.7 ms x 1.25: a vsync missed. rAF timestamps are
 * vsync times and jitter by well under a millisecond, so the margin only keeps a frame that
 * was on time from counting; `idle` reports the same numbers for a quiet stretch.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'
import { REACTION_SHOW_MS } from '../../src/participant/reactions.ts'
import type { Reactors } from './chat-reactors.ts'

export const VIEWPORT = { width: 360, height: 740 }
const MISSED_VSYNC_MS = 16.7 * 1.25
const LONG_FRAME_MS = 50

export function probe(messages: number, lastText: string): string {
  return `(() => {
  const b = (window.__bench = { frames: [], tasks: [], marks: {}, reactions: [] })
  const loop = (t) => { b.frames.push(t); requestAnimationFrame(loop) }
  requestAnimationFrame(loop)
  try {
    new PerformanceObserver((list) => { for (const e of list.getEntries()) b.tasks.push([e.startTime, e.duration]) })
      .observe({ type: 'longtask', buffered: true })
  } catch (e) { b.noLongtask = String(e) }
  const N = ${JSON.stringify(String(messages))}, LAST = ${JSON.stringify(lastText)}
  const check = () => {
    if (b.marks.room === undefined) {
      for (const h of document.querySelectorAll('h2')) if (h.textContent.startsWith('Chat')) b.marks.room = performance.now()
    }
    const log = document.querySelector('[role="log"][aria-label="Messages"]')
    if (!log) return
    if (b.marks.first === undefined) b.marks.first = performance.now()
    const count = log.closest('section').querySelector('h2 span')
    const last = log.querySelector('li:last-child .text')
    if (count && count.textContent === N && last && last.textContent === LAST) b.marks.shown = performance.now()
  }
  new MutationObserver((records) => {
    if (b.marks.shown === undefined) check()
    for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1 && n.classList.contains('reaction')) b.reactions.push(performance.now())
  }).observe(document, { childList: true, subtree: true, characterData: true })
})()`
}

interface Recorded {
  frames: number[]
  tasks: [number, number][]
  marks: { room?: number; first?: number; shown?: number }
  reactions: number[]
  noLongtask?: string
}

export interface FrameWindow {
  /** rAF frames in the window. */
  frames: number
  missed: number
  over50: number
  longestFrame: number
  longestTask: number
  tasksOver50: number
  tasksOver100: number
}

/** Frames and long tasks between page times `from` and `to`. */
export function windowOf(r: Pick<Recorded, 'frames' | 'tasks'>, from: number, to: number): FrameWindow {
  const t = r.frames.filter((x) => x >= from && x <= to)
  const gaps = t.slice(1).map((x, i) => x - t[i]!)
  const tasks = r.tasks.filter(([start, d]) => start + d >= from && start <= to).map(([, d]) => d)
  return {
    frames: t.length,
    missed: gaps.filter((g) => g > MISSED_VSYNC_MS).length,
    over50: gaps.filter((g) => g > LONG_FRAME_MS).length,
    longestFrame: Math.max(0, ...gaps),
    longestTask: Math.max(0, ...tasks),
    tasksOver50: tasks.length,
    tasksOver100: tasks.filter((d) => d > 100).length,
  }
}

const sessions = new WeakMap<Page, CDPSession>()

/** A fresh browser (a new person: new key, empty storage) on the app, the probe installed. */
export async function newPage(browser: Browser, probeScript: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: VIEWPORT, serviceWorkers: 'block' })
  // Loopback ICE (tests never reach another address); E2EE off: the other members are @roamhq/wrtc peers.
  await context.addInitScript(`localStorage.setItem('stoop.ice', 'loopback');localStorage.setItem('stoop.e2ee', 'off');${probeScript}`)
  const page = await context.newPage()
  const cdp = await context.newCDPSession(page)
  await cdp.send('Performance.enable')
  sessions.set(page, cdp)
  return { context, page }
}

/** CPU ms the page's main thread has used (since its renderer started). */
export async function threadMs(page: Page): Promise<number> {
  const { metrics } = await sessions.get(page)!.send('Performance.getMetrics')
  return (metrics.find((m) => m.name === 'ThreadTime')?.value ?? NaN) * 1000
}

/**
 * Waits until the probe saw every message shown. A function, not a string: a string predicate is
 * eval'd in the page, which the relay's Content-Security-Policy refuses.
 */
export async function chatShown(page: Page, timeoutMs: number): Promise<void> {
  await page.waitForFunction(() => (window as unknown as { __bench: Recorded }).__bench.marks.shown !== undefined, undefined, { timeout: timeoutMs })
}

function recorded(page: Page): Promise<Recorded> {
  return page.evaluate('window.__bench') as Promise<Recorded>
}

export interface RenderSample {
  /** Navigation start to all messages shown. */
  shown: number
  /** Room screen up to all messages shown: the sync, verification, opening and rendering of the chat. */
  chat: number
  /** From the room screen until a second after `shown`. */
  join: FrameWindow
  /** From navigation start until a second after `shown` (page load included). */
  all: FrameWindow
  /** CPU ms of the page's main thread over `all`. */
  cpu: number
}

/** Opens `link` in a fresh context and waits until the chat panel shows every message. */
export async function renderOnce(browser: Browser, link: string, probeScript: string, timeoutMs: number): Promise<RenderSample> {
  const { context, page } = await newPage(browser, probeScript)
  const profile = await startProfile(page)
  try {
    await page.goto(link)
    await chatShown(page, timeoutMs)
    await page.waitForTimeout(1000)
    await profile?.()
    return { ...renderSample(await recorded(page)), cpu: await threadMs(page) }
  } finally {
    await context.close()
  }
}

/**
 * BENCH_CPU_PROF=<dir>: a V8 CPU profile of the page's main thread per render sample, from before
 * navigation until a second after the chat is shown (open it in DevTools' Performance panel; serve an
 * unminified build with BENCH_CHAT_DIST for readable names). Returns the function that writes it.
 */
async function startProfile(page: Page): Promise<(() => Promise<void>) | null> {
  const dir = process.env.BENCH_CPU_PROF
  if (!dir) return null
  const cdp = sessions.get(page)!
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 })
  await cdp.send('Profiler.start')
  return async () => {
    const { profile } = await cdp.send('Profiler.stop')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `chat-render-${Date.now()}.cpuprofile`), JSON.stringify(profile))
  }
}

function renderSample(r: Recorded): Omit<RenderSample, 'cpu'> {
  if (r.noLongtask) throw new Error(`no longtask observer: ${r.noLongtask}`)
  const { room, shown } = r.marks as Required<Recorded['marks']>
  return { shown, chat: shown - room, join: windowOf(r, room, shown + 1000), all: windowOf(r, 0, shown + 1000) }
}

export interface ReactionSample {
  /** Reaction bubbles put on tiles in the window, and the ms from the first to the last. */
  received: number
  spread: number
  /** Ms from the first reaction sent to its bubble, and from the last one sent to the last bubble. */
  firstLatency: number
  lastLatency: number
  burst: FrameWindow
  /** CPU ms of the page's main thread over the burst's window. */
  cpu: number
  /** The two seconds before the reactions: the page's frames when nothing happens. */
  idle: FrameWindow
  /** CPU ms of the main thread in those two seconds, scaled to the burst window's length. */
  idleCpu: number
}

/**
 * One burst: every reactor reacts once, spread over `spreadMs`, at `page` (already in the room,
 * the probe installed). Measured from the command until every reaction has been shown and taken
 * off again (REACTION_SHOW_MS), so the bubbles' pop animation and their removal count too.
 */
export async function reactionBurst(page: Page, reactors: Reactors, spreadMs: number): Promise<ReactionSample> {
  const idleFrom = (await page.evaluate('performance.now()')) as number
  const idleCpu0 = await threadMs(page)
  await page.waitForTimeout(2000)
  const cpu0 = await threadMs(page)
  const from = (await page.evaluate('performance.now()')) as number
  const origin = (await page.evaluate('performance.timeOrigin')) as number
  const startAt = Date.now() + 100
  reactors.react(startAt, spreadMs)
  const to = from + 100 + spreadMs + REACTION_SHOW_MS + 1000
  await page.waitForTimeout(to - from + 200)
  const cpu = (await threadMs(page)) - cpu0
  const r = await recorded(page)
  const got = r.reactions.filter((t) => t >= from && t <= to)
  return {
    received: got.length,
    spread: got.length ? got.at(-1)! - got[0]! : 0,
    // Page time + timeOrigin is the same wall clock the reactors were given (one machine).
    firstLatency: got.length ? origin + got[0]! - startAt : NaN,
    lastLatency: got.length ? origin + got.at(-1)! - (startAt + ((reactors.count - 1) * spreadMs) / reactors.count) : NaN,
    burst: windowOf(r, from, to),
    cpu,
    idle: windowOf(r, idleFrom, from),
    idleCpu: ((cpu0 - idleCpu0) * (to - from)) / (from - idleFrom),
  }
}
