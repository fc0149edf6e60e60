/**
 * Shared set-up for the real-app browser tests (room, offline, errors): the
 * production build served by an in-process relay, Chromium with a fake
 * microphone playing a WAV we write, and small page helpers that go through
 * the UI by accessible names, as a person would.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { expect } from 'vitest'
import { createTone, SAMPLE_RATE } from '../../src/audio/tone.ts'
import { encodeWav } from '../../src/audio/wav.ts'
import { launchChromium, LOOPBACK_ICE_FLAGS } from './browser.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const ARTIFACTS = join(ROOT, 'test/e2e/artifacts')
export const VIEWPORT = { width: 360, height: 740 }
/** Generous: two shared cores run three Chromium pages, a Node peer and the relay. */
export const SLOW = { timeout: 60_000, interval: 250 }

/**
 * Builds the app from the current sources into a private folder for the relay to serve
 * (`startRelay({ dist })`), so a build running elsewhere (dist/) cannot change files under a test.
 */
export async function buildApp(into: string): Promise<string> {
  const outDir = join(into, 'dist')
  await build({ root: join(ROOT, 'src'), configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } })
  return outDir
}

/** A temporary folder for fake-microphone WAVs (and the test build), removed by `cleanup()`. */
export interface FakeMics {
  dir: string
  /** A WAV file of `freq` Hz beeps (0: digital silence), 4 s, looped by Chromium. */
  wav(freq: number): string
  cleanup(): void
}

export function fakeMics(): FakeMics {
  const dir = mkdtempSync(join(tmpdir(), 'stoop-e2e-'))
  return {
    dir,
    wav(freq) {
      const seconds = 4
      const samples = freq > 0 ? beeps(freq, seconds) : new Int16Array(seconds * SAMPLE_RATE)
      const path = join(dir, `mic-${freq}.wav`)
      writeFileSync(path, encodeWav({ sampleRate: SAMPLE_RATE, channels: 1, samples }))
      return path
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/**
 * Beeps, not a steady tone: the browser's noise suppression (on, as in the app)
 * learns a steady tone as background noise and fades it out within seconds;
 * 400 ms on / 100 ms off with 10 ms ramps reads as speech.
 */
function beeps(freq: number, seconds: number): Int16Array {
  const out = createTone({ freq, amplitude: 0.3 }).take((seconds * SAMPLE_RATE) / 480)
  const period = 0.5 * SAMPLE_RATE
  const on = 0.4 * SAMPLE_RATE
  const ramp = 0.01 * SAMPLE_RATE
  for (let i = 0; i < out.length; i++) {
    const t = i % period
    const gain = t >= on ? 0 : Math.min(1, t / ramp, (on - t) / ramp)
    out[i] = Math.round(out[i]! * gain)
  }
  return out
}

/** Chromium whose fake microphone plays `wav`, on loopback ICE (see LOOPBACK_ICE_FLAGS and newAppPage). */
export function launchWithMic(wav: string): Promise<Browser> {
  return launchChromium([`--use-file-for-fake-audio-capture=${wav}`, ...LOOPBACK_ICE_FLAGS])
}

export interface AppPage {
  context: BrowserContext
  page: Page
  errors: string[]
}

/**
 * A fresh browser context on the app. `settings` are device-local settings put in localStorage
 * (src/main.ts), e.g. `{ 'stoop.e2ee': 'off' }` for rooms with a @roamhq/wrtc headless peer,
 * which cannot take part in end-to-end encrypted audio.
 */
export async function newAppPage(browser: Browser, label: string, settings: Record<string, string> = {}): Promise<AppPage> {
  const context = await browser.newContext({ viewport: VIEWPORT })
  // WebRTC stays on 127.0.0.1 (see src/main.ts): tests never contact another address.
  await context.addInitScript((extra: Record<string, string>) => {
    localStorage.setItem('stoop.ice', 'loopback')
    for (const [k, v] of Object.entries(extra)) localStorage.setItem(k, v)
    // Record every remote candidate handed to WebRTC, so tests can check they were all loopback.
    const seen: string[] = ((window as unknown as { __candidates: string[] }).__candidates = [])
    const add = RTCPeerConnection.prototype.addIceCandidate as (this: RTCPeerConnection, c?: RTCIceCandidateInit) => Promise<void>
    RTCPeerConnection.prototype.addIceCandidate = function (this: RTCPeerConnection, c?: RTCIceCandidateInit | null) {
      if (c?.candidate) seen.push(c.candidate)
      return add.call(this, c ?? undefined)
    } as typeof RTCPeerConnection.prototype.addIceCandidate
  }, settings)
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`))
  if (process.env.STOOP_E2E_DEBUG) page.on('console', (m) => console.log(`[${label}] ${m.type()} ${m.text()}`))
  return { context, page, errors }
}

/** Sets the display name on the home screen (stored on the device, signed into rooms). */
export async function setName(page: Page, name: string): Promise<void> {
  const profile = page.getByRole('region', { name: 'Your profile' })
  await profile.getByRole('button', { name: /Set name|Edit your name/ }).click()
  await profile.getByLabel('Your name').fill(name)
  await profile.getByRole('button', { name: 'Save' }).click()
  await expect.poll(() => profile.textContent(), SLOW).toContain(name)
}

/** Ratio (0..1) of the page's played output around `freq` Hz (window.__stoop, see src/app/browser-app.ts). */
export function heard(page: Page, freq: number): Promise<number> {
  return page.evaluate((f) => (window as unknown as { __stoop?: { heard(f: number): number } }).__stoop?.heard(f) ?? 0, freq)
}

/** Best of a few readings spaced out: the analyser sees 170 ms at a time. */
export async function hears(page: Page, freq: number): Promise<number> {
  let best = 0
  for (let i = 0; i < 4; i++) {
    best = Math.max(best, await heard(page, freq))
    await page.waitForTimeout(150)
  }
  return best
}

/** The session's audio and connection state (window.__stoop.debug()), for failure reports. */
export async function debugDump(p: AppPage, label: string): Promise<string> {
  const dump = await p.page
    .evaluate(() => (window as unknown as { __stoop?: { debug(): Promise<unknown> } }).__stoop?.debug())
    .catch((err: Error) => `unavailable: ${err.message}`)
  return `${label}: ${JSON.stringify(dump)}`
}

/** Runs `body`; on failure prints every page's debug dump before rethrowing. */
export async function withDumps(pages: Record<string, AppPage>, body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (err) {
    for (const [label, p] of Object.entries(pages)) {
      console.error(await debugDump(p, label))
      await shot(p.page, `failure-${label}.png`).catch(() => undefined)
    }
    throw err
  }
}

/** Remote ICE candidates the page gave to WebRTC (recorded by newAppPage). */
export function addedCandidates(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __candidates?: string[] }).__candidates ?? [])
}

export function section(page: Page, name: RegExp | string) {
  return page.getByRole('region', { name })
}

/** Tile of a person in a section (stage, audience), by the start of its accessible name. */
export function tile(page: Page, where: 'Stage' | 'Audience', name: string) {
  return section(page, new RegExp(`^${where}`)).getByRole('button', { name: new RegExp(`^${name}\\b`) })
}

export async function shot(page: Page, file: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, file) })
}

/** Reads an invite link for `role` from the Share sheet, then closes the sheet. */
export async function inviteLink(page: Page, role: 'Listener' | 'Speaker' | 'Moderator', screenshot?: string): Promise<string> {
  await page.getByRole('button', { name: 'Share' }).click()
  const sheet = page.getByRole('dialog', { name: 'Share this room' })
  await sheet.waitFor()
  if (role !== 'Listener') await sheet.getByLabel(role, { exact: true }).check()
  const input = sheet.getByRole('textbox', { name: `${role} link` })
  await expect.poll(() => input.inputValue(), SLOW).toMatch(/#\/r\//)
  const link = await input.inputValue()
  if (screenshot) await shot(page, screenshot)
  await page.keyboard.press('Escape')
  await sheet.waitFor({ state: 'hidden' })
  return link
}

/** Creates a room from the home screen as `name`; resolves once the owner is on stage. */
export async function startRoom(page: Page, origin: string, name: string, title: string): Promise<void> {
  await page.goto(origin)
  await setName(page, name)
  await page.getByLabel('Title').fill(title)
  await page.getByRole('button', { name: 'Start room' }).click()
  await tile(page, 'Stage', name).waitFor({ timeout: SLOW.timeout })
}

/** Opens `link` as `name` (set on the home screen first); resolves once in the audience. */
export async function joinRoom(page: Page, origin: string, link: string, name: string): Promise<void> {
  await page.goto(origin)
  await setName(page, name)
  await page.goto(link)
  await tile(page, 'Audience', name).waitFor({ timeout: SLOW.timeout })
}

const AXE_SOURCE = createRequire(import.meta.url).resolve('axe-core/axe.min.js')

/**
 * Accessibility problems axe-core finds on the page as it is now (WCAG 2.1 A and AA plus
 * best practices), one line each; an empty list passes. `exclude` takes CSS selectors.
 */
export async function axeViolations(page: Page, exclude: string[] = []): Promise<string[]> {
  // Evaluated, not added as a <script>: the relay's Content-Security-Policy refuses inline scripts (relay/http.ts).
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(readFileSync(AXE_SOURCE, 'utf8'))
  const violations = await page.evaluate(async (excluded) => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe
    const ctx = excluded.length ? { exclude: excluded.map((sel) => [sel]) } : document
    const result = await axe.run(ctx, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
    return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)
  }, exclude)
  return violations
}
