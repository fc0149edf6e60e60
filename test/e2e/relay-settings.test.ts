/**
 * Relays in settings (issue 15): a relay added in Settings → Connection is used besides the
 * relay that served the page. Two pages in a room past their mesh size (`stoop.mesh-size` 1)
 * go to the serving relay; the relay from the settings is the path's next one, so it gets
 * their standby subscriptions (relay-path.ts), seen in its /metrics. That relay starts with an
 * empty room, so it serves nobody until it learns the room's first epoch: each standby pushes
 * the room log there once (a standby that pushed nothing stayed held for ever). The settings form is
 * used with the keyboard and checked with axe; a refused address says why. Then a network change
 * in a page (network-signals.ts) shows "Reconnecting…" until its relay path is back.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Browser } from 'playwright-core'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { axeViolations, buildApp, fakeMics, inviteLink, joinRoom, launchWithMic, newAppPage, shot, SLOW, startRoom, withDumps, type AppPage, type FakeMics } from './app-helpers.ts'

let serving: Relay
let extra: Relay
let browser: Browser
let mics: FakeMics
const pages: AppPage[] = []
const SMALL_MESH = { 'stoop.mesh-size': '1' }

beforeAll(async () => {
  mics = fakeMics()
  const dist = await buildApp(mics.dir)
  serving = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist })
  extra = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist })
  browser = await launchWithMic(mics.wav(0))
}, 180_000)

afterAll(async () => {
  for (const p of pages) await p.context.close().catch(() => undefined)
  await browser?.close()
  await serving?.close()
  await extra?.close()
  mics?.cleanup()
})

/** A gauge or counter summed over its labels in a relay's /metrics. */
async function metric(relay: Relay, name: string): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text()
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
}

/** Adds `address` in the settings, with the keyboard, and saves. */
async function addRelay(p: AppPage, address: string): Promise<void> {
  const { page } = p
  await page.goto(serving.url)
  await page.getByRole('button', { name: 'Settings' }).click()
  const dialog = page.getByRole('dialog', { name: 'Settings' })
  await dialog.getByText('Connection (advanced)').click()
  const field = dialog.getByRole('textbox', { name: 'Relay address' })
  // A plain ws:// relay elsewhere is refused with the reason.
  await field.fill('ws://relay.example.org')
  await field.press('Enter')
  await dialog.getByRole('alert').filter({ hasText: 'only for a relay on this device' }).waitFor()
  await field.fill(address)
  await field.press('Enter')
  await dialog.getByRole('button', { name: `Remove relay ${address}/relay` }).waitFor()
  expect(await axeViolations(page)).toEqual([])
  await shot(page, 'relay-settings-01-added.png')
  await dialog.getByRole('button', { name: 'Save' }).click()
  await dialog.waitFor({ state: 'hidden' })
}

test('a relay added in the settings is the next relay of the room: it holds the standby', async () => {
  const a = await newAppPage(browser, 'A', SMALL_MESH)
  const b = await newAppPage(browser, 'B', SMALL_MESH)
  pages.push(a, b)
  await withDumps({ A: a, B: b }, async () => {
    const address = extra.url.replace(/^http/, 'ws')
    for (const p of [a, b]) await addRelay(p, address)
    expect(await metric(extra, 'stoop_relay_standby_subscribers')).toBe(0)

    await startRoom(a.page, serving.url, 'Ana', 'Relays in settings')
    const link = await inviteLink(a.page, 'Listener')
    await joinRoom(b.page, serving.url, link, 'Bea')
    // Past the mesh size the room is on the serving relay...
    await expect.poll(() => metric(serving, 'stoop_relay_subscribers'), SLOW).toBeGreaterThan(0)
    // ...and the relay from the settings keeps the standby (set up 5-10 s after the first is ready).
    await expect.poll(() => metric(extra, 'stoop_relay_standby_subscribers'), { timeout: 90_000, interval: 1000 }).toBeGreaterThan(0)
    // It learnt the room's log from them (its first epoch is what let it serve them).
    expect(await metric(extra, 'stoop_relay_doc_bytes')).toBeGreaterThan(0)

    // A network change in Bea's page (issue 14; an 'online' event, as after being offline):
    // "Reconnecting…" while her relay path is made anew, then on the relay again.
    const before = await metric(serving, 'stoop_relay_connections_total')
    await b.page.evaluate(() => {
      const el = document.querySelector('button.conn')!
      const seen: string[] = ((window as unknown as { __shown: string[] }).__shown = [])
      new MutationObserver(() => seen.push(el.textContent?.trim() ?? '')).observe(el, { subtree: true, childList: true, characterData: true })
      window.dispatchEvent(new Event('online'))
    })
    await expect.poll(() => b.page.evaluate(() => (window as unknown as { __shown: string[] }).__shown), SLOW).toContain('Reconnecting…')
    await expect.poll(async () => (await b.page.getByRole('button', { name: /^Connection:/ }).textContent())?.trim(), SLOW).toBe('Relay')
    expect(await metric(serving, 'stoop_relay_connections_total')).toBeGreaterThan(before)
  })
  for (const p of pages) expect(p.errors).toEqual([])
}, 240_000)
