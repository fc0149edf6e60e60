/**
 * A browser and a headless peer on werift hear each other end-to-end encrypted: Ana's page
 * (Chromium, E2EE on by default) speaks 440 Hz, a `stoop peer --media werift` participant
 * (in-process, E2EE on by default) speaks 660 Hz, over a mesh on loopback. Both seal with the
 * same SFrame keys (the room's epochs, per sender), so each opens every frame of the other.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import type { E2eeStats } from '../../src/app/e2ee.ts'
import type { NodeE2eeStats } from '../../src/headless/e2ee.ts'
import { listeningPeer, type Listening } from '../integration/helpers/room-peers.ts'
import { buildApp, fakeMics, hears, inviteLink, launchWithMic, newAppPage, setName, SLOW, tile, withDumps, type AppPage, type FakeMics } from './app-helpers.ts'

let relay: Relay
let browser: Browser
let mics: FakeMics
let bot: Listening | undefined
const pages: AppPage[] = []

beforeAll(async () => {
  mics = fakeMics()
  const dist = await buildApp(mics.dir)
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist })
  browser = await launchWithMic(mics.wav(440))
}, 180_000)

afterAll(async () => {
  await bot?.stop()
  for (const p of pages) await p.context.close().catch(() => undefined)
  await browser?.close()
  await relay?.close()
  mics?.cleanup()
})

const pageE2ee = (page: Page): Promise<E2eeStats | null> =>
  page.evaluate(() => (window as unknown as { __stoop: { session(): { e2ee: E2eeStats | null } | null } }).__stoop.session()?.e2ee ?? null)

/**
 * Ran opt-in until session 11: it failed in about half the runs. Cause, found with the SDPs and the
 * receiver's stats logged: both sides queued a second offer while answering the first, the two
 * offers collided, and the polite page rolled its own back. After that rollback Chromium passes no
 * frame of that receiver through its transform (0 from the start) and decodes the ciphertext as
 * noise. Fix (src/net/peer.ts `offerNeeded`): a pending offer that the exchange already covered is
 * not sent, so there is no collision. 4 of 4 runs passed with it, in both offer orders.
 */
test('a Chromium page and a werift headless peer hear each other with E2EE on; no frame fails either way', async () => {
  const a = await newAppPage(browser, 'A')
  pages.push(a)
  await withDumps({ A: a }, async () => {
    await a.page.goto(relay.url)
    await setName(a.page, 'Ana')
    await a.page.getByLabel('Title').fill('E2EE werift')
    await a.page.getByRole('button', { name: 'Start room' }).click()
    await tile(a.page, 'Stage', 'Ana').waitFor({ timeout: SLOW.timeout })
    const link = await inviteLink(a.page, 'Speaker')

    let botStats: NodeE2eeStats | null = null
    bot = await listeningPeer('Tone bot', {
      link,
      media: 'werift',
      relay: false,
      speak: { kind: 'tone', freq: 660 },
      onEvent: (ev) => {
        if (ev.event === 'stats' && ev.e2ee) botStats = ev.e2ee as NodeE2eeStats
      },
    })
    bot.done.catch((err: Error) => console.error('headless peer failed', err))

    await expect.poll(() => hears(a.page, 660), SLOW).toBeGreaterThan(0.15)
    await expect.poll(() => bot!.hears(440), SLOW).toBe(true)
    await expect.poll(async () => (await pageE2ee(a.page))?.decrypted ?? 0, SLOW).toBeGreaterThan(100)
    await expect.poll(() => botStats?.decrypted ?? 0, SLOW).toBeGreaterThan(100)

    const ea = (await pageE2ee(a.page))!
    expect(ea.encrypted).toBeGreaterThan(100)
    expect(ea.undecryptable).toEqual({})
    expect(ea.attachFailures).toBe(0)
    const eb = botStats!
    expect(eb.encrypted).toBeGreaterThan(100)
    expect(eb.dropped, JSON.stringify(eb.reasons)).toBeLessThan(eb.decrypted / 10)
    console.log(`[werift e2ee] page hears 660 Hz ${(await hears(a.page, 660)).toFixed(2)}, bot hears 440 Hz ${bot.ratio(440).toFixed(2)}; page ${JSON.stringify(ea)}; bot ${JSON.stringify(eb)}`)
    expect(a.errors).toEqual([])
  })
}, 300_000)
