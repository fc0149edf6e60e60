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

test('the relay serves the built app shell and it renders the room list', async () => {
  const page = await browser.newPage({ viewport: { width: 360, height: 740 } })
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(relay.url)
  await expect.poll(() => page.getByRole('heading', { name: 'Your rooms' }).count()).toBe(1)
  const manifest = await page.evaluate(async () => (await fetch('/manifest.webmanifest')).json())
  expect(manifest.name).toBe('Stoop')
  expect(errors).toEqual([])
})
