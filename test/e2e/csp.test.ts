/**
 * The app under the Content-Security-Policy the relay sends (relay/http.ts): the production
 * build loads, Ana starts a room, its share sheet (a lazily loaded chunk drawing the QR code)
 * opens, Bea joins from the link and hears Ana through SFrame (the module worker that seals and
 * opens frames), the service worker installs; and no page reports a CSP violation at any point.
 * A violation means the policy or the app is wrong; nothing here relaxes the policy for the test.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startRelay, type Relay } from '../../relay/server.ts'
import { CONTENT_SECURITY_POLICY } from '../../relay/http.ts'
import { silentLogger } from '../../relay/log.ts'
import { fakeMics, hears, inviteLink, joinRoom, launchWithMic, newAppPage, SLOW, startRoom, type AppPage, type FakeMics } from './app-helpers.ts'

let relay: Relay
let browser: Browser
let mics: FakeMics
const pages: AppPage[] = []

beforeAll(async () => {
  mics = fakeMics()
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  browser = await launchWithMic(mics.wav(440))
})
afterAll(async () => {
  for (const p of pages) await p.context.close().catch(() => undefined)
  await browser?.close()
  await relay?.close()
  mics?.cleanup()
})

/** An app page that records every CSP violation its document reports, and those the console reports (workers). */
async function watchedPage(label: string): Promise<AppPage & { violations: string[] }> {
  const p = await newAppPage(browser, label)
  pages.push(p)
  const violations: string[] = []
  await p.context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.effectiveDirective} ${e.blockedURI}`))
  })
  p.page.on('console', (m) => {
    if (/Content Security Policy|CSP violation/i.test(m.text())) violations.push(`${label}: ${m.text()}`)
  })
  return { ...p, violations }
}

const e2ee = (page: Page) =>
  page.evaluate(() => (window as unknown as { __stoop: { session(): { e2ee: { mode: string; encrypted: number; decrypted: number } | null } | null } }).__stoop.session()?.e2ee ?? null)

test('the app runs under the relay\'s CSP with no violation: shell, room, share sheet, SFrame worker, service worker', async () => {
  const ana = await watchedPage('ana')
  const bea = await watchedPage('bea')
  const shell = await ana.page.goto(relay.url)
  expect(shell?.headers()['content-security-policy']).toBe(CONTENT_SECURITY_POLICY)
  await startRoom(ana.page, relay.url, 'Ana', 'Under the policy')
  const link = await inviteLink(ana.page, 'Listener')
  await joinRoom(bea.page, relay.url, link, 'Bea')
  await expect.poll(() => hears(bea.page, 440), SLOW).toBeGreaterThan(0.5)
  const stats = await e2ee(bea.page)
  expect(stats?.mode).not.toBe('off')
  // The worker reports its counters once a second: a tone can be heard before the first report.
  await expect.poll(async () => (await e2ee(bea.page))?.decrypted ?? 0, SLOW).toBeGreaterThan(0)
  await expect.poll(async () => (await e2ee(ana.page))?.encrypted ?? 0, SLOW).toBeGreaterThan(0)
  expect(bea.page.workers().some((w) => /sframe-worker/.test(w.url()))).toBe(true)
  expect(await ana.page.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL)).toMatch(/\/sw\.js$/)
  expect([...ana.violations, ...bea.violations]).toEqual([])
  expect([...ana.errors, ...bea.errors]).toEqual([])
}, 180_000)
