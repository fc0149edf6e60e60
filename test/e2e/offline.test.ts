/**
 * Offline: a room this device has opened reopens from IndexedDB with the
 * network off (app shell from the service worker, last room state, offline
 * banner), and a hand raised while offline reaches the owner once the
 * network is back (signalling reconnects by itself, the mesh syncs the doc).
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Browser } from 'playwright-core'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { buildApp, fakeMics, inviteLink, launchWithMic, newAppPage, section, setName, shot, SLOW, tile, withDumps, type AppPage, type FakeMics } from './app-helpers.ts'

let relay: Relay
let browser: Browser
let mics: FakeMics
const pages: AppPage[] = []

beforeAll(async () => {
  mics = fakeMics()
  const dist = await buildApp(mics.dir)
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist })
  browser = await launchWithMic(mics.wav(0))
}, 180_000)

afterAll(async () => {
  for (const p of pages) await p.context.close().catch(() => undefined)
  await browser?.close()
  await relay?.close()
  mics?.cleanup()
})

test('reopens a room offline from local state; a hand raised offline syncs when back online', async () => {
  const a = await newAppPage(browser, 'A')
  const d = await newAppPage(browser, 'D')
  pages.push(a, d)
  await withDumps({ A: a, D: d }, async () => {
    await a.page.goto(relay.url)
    await setName(a.page, 'Ana')
    await a.page.getByLabel('Title').fill('Offline room')
    await a.page.getByLabel('Topic').fill('Still here without a network')
    await a.page.getByRole('button', { name: 'Start room' }).click()
    await tile(a.page, 'Stage', 'Ana').waitFor()
    const link = await inviteLink(a.page, 'Listener')

    // D joins once online, so the room doc lands in D's IndexedDB; the service worker takes control.
    await d.page.goto(relay.url)
    await setName(d.page, 'Dee')
    await d.page.goto(link)
    await tile(d.page, 'Stage', 'Ana').waitFor({ timeout: SLOW.timeout })
    await expect.poll(() => tile(a.page, 'Audience', 'Dee').count(), SLOW).toBe(1)
    await d.page.evaluate(async () => void (await navigator.serviceWorker.ready))
    await d.page.reload()
    await tile(d.page, 'Stage', 'Ana').waitFor({ timeout: SLOW.timeout })
    expect(await d.page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true)

    // Offline reload: shell, last known room and the banner.
    await d.context.setOffline(true)
    await d.page.reload()
    await d.page.getByRole('heading', { name: 'Offline room' }).waitFor({ timeout: SLOW.timeout })
    await d.page.getByText('Still here without a network').waitFor()
    await tile(d.page, 'Stage', 'Ana').waitFor()
    await d.page.getByRole('status').filter({ hasText: 'You are offline' }).waitFor()
    expect(await d.page.getByRole('button', { name: /^Connection:/ }).textContent()).toContain('Offline')

    // A hand raised offline is kept locally ...
    await d.page.getByRole('button', { name: 'Raise hand' }).click()
    await d.page.getByRole('button', { name: 'Lower hand' }).waitFor()
    await shot(d.page, 'offline-01-hand-raised-offline.png')
    await expect.poll(() => section(a.page, /^Raised hands/).getByText('Dee').count()).toBe(0)

    // ... and reaches the owner when the network is back.
    await d.context.setOffline(false)
    await expect.poll(() => section(a.page, /^Raised hands/).getByText('Dee').count(), SLOW).toBe(1)
    await expect.poll(() => d.page.getByRole('status').filter({ hasText: 'You are offline' }).count(), SLOW).toBe(0)
    await shot(a.page, 'offline-02-hand-synced.png')
    expect([...a.errors, ...d.errors]).toEqual([])
  })
}, 240_000)
