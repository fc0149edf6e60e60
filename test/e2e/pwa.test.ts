/** The production build installs as a PWA and its app shell opens offline. */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Browser } from 'playwright-core'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { launchChromium } from './browser.ts'

let relay: Relay
let browser: Browser

beforeAll(async () => {
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  await relay?.close()
})

test('manifest has installable icons and the shell loads offline from the service worker', async () => {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } })
  const page = await context.newPage()
  await page.goto(relay.url)
  const manifest = await page.evaluate(async () => (await fetch('/manifest.webmanifest')).json())
  const icons = manifest.icons as { sizes: string; purpose: string; type: string }[]
  expect(icons.some((i) => i.sizes === '512x512' && i.purpose === 'maskable')).toBe(true)
  expect(icons.some((i) => i.sizes === '192x192' && i.type === 'image/png')).toBe(true)

  // Once the worker is active, the next navigation is controlled by it.
  await page.evaluate(async () => void (await navigator.serviceWorker.ready))
  await page.reload()
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true)
  await context.setOffline(true)
  await page.reload()
  await page.getByRole('heading', { name: 'Your rooms' }).waitFor()
  await page.goto(`${relay.url}/#/r/someroom?k=x`)
  // Never a blank page: the room route renders something actionable offline too.
  await expect.poll(() => page.locator('h1').count()).toBeGreaterThan(0)
  await context.close()
})
