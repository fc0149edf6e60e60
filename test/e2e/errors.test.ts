/**
 * Error screens of the real app: a malformed link, a link whose room key is
 * wrong (refused offline by the link's key check), and a room that ended
 * while we were in it. Never a blank page; the owner is not thrown out by a
 * stranger's junk on the room's signalling topic.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Browser } from 'playwright-core'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { WebSocket } from 'ws'
import { toBase64url } from '../../src/identity/index.ts'
import { parseInvite } from '../../src/invite/index.ts'
import { deriveDiscoveryKey } from '../../src/room/index.ts'
import { buildApp, debugDump, fakeMics, inviteLink, launchWithMic, newAppPage, setName, shot, SLOW, tile, withDumps, type AppPage, type FakeMics } from './app-helpers.ts'

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

const problemTitle = (p: AppPage) => p.page.locator('main[data-problem] h1')

test('a malformed link shows the bad-link screen with a way home', async () => {
  const e = await newAppPage(browser, 'E')
  pages.push(e)
  await e.page.goto(`${relay.url}/#/r/not-a-room?k=abc`)
  await expect.poll(() => problemTitle(e).textContent(), SLOW).toBe('This link is not a room link')
  expect(await e.page.locator('main[data-problem]').getAttribute('data-problem')).toBe('bad-link')
  await shot(e.page, 'errors-01-bad-link.png')
  await e.page.getByRole('button', { name: 'Go to home' }).click()
  await e.page.getByRole('heading', { name: 'Your rooms' }).waitFor()

  // A link that looks right but carries a damaged pass is refused by the full parser.
  const grantless = `${relay.url}/#/r/AAAAAAAAAAAAAAAAAAAAAA?k=${'A'.repeat(43)}&g=%%%`
  await e.page.goto(grantless)
  await expect.poll(() => problemTitle(e).textContent(), SLOW).toBe('This link is not a room link')
  expect(e.errors).toEqual([])
}, 120_000)

test('wrong room key: the stranger gets the wrong-secret screen, the owner stays in the room; banned; ended', async () => {
  const a = await newAppPage(browser, 'A')
  const b = await newAppPage(browser, 'B')
  const e = await newAppPage(browser, 'E')
  pages.push(a, b, e)
  await withDumps({ A: a, B: b, E: e }, async () => {
    await a.page.goto(relay.url)
    await setName(a.page, 'Ana')
    await a.page.getByLabel('Title').fill('Keyed room')
    await a.page.getByRole('button', { name: 'Start room' }).click()
    await tile(a.page, 'Stage', 'Ana').waitFor()
    const link = await inviteLink(a.page, 'Listener')

    const wrong = link.replace(/k=[A-Za-z0-9_-]{43}/, `k=${'Q'.repeat(42)}A`)
    expect(wrong).not.toBe(link)
    await e.page.goto(wrong)
    await expect.poll(() => problemTitle(e).textContent(), SLOW).toBe('This link does not open this room')
    await shot(e.page, 'errors-02-wrong-secret.png')

    // That link was refused offline by its key check. A stranger who knows only the room id
    // publishes junk on the room's signalling topic (no subscription needed): the owner ignores it.
    const parsed = parseInvite(link, Date.now())
    if (!parsed.ok) throw new Error(parsed.message)
    const junk = new WebSocket(relay.url.replace(/^http/, 'ws') + '/signal')
    await new Promise((ok, fail) => junk.once('open', ok).once('error', fail))
    const topic = toBase64url(deriveDiscoveryKey(parsed.invite.roomId))
    for (let i = 0; i < 10; i++) junk.send(JSON.stringify({ type: 'publish', topic, data: `junk ${i}` }))
    junk.close()
    expect(await a.page.locator('main[data-problem]').count()).toBe(0)
    await tile(a.page, 'Stage', 'Ana').waitFor()

    // A listener with the right link gets in; the owner bans them; they see the banned screen.
    await b.page.goto(relay.url)
    await setName(b.page, 'Bo')
    await b.page.goto(link)
    await tile(b.page, 'Stage', 'Ana').waitFor({ timeout: SLOW.timeout })
    await expect.poll(() => tile(a.page, 'Audience', 'Bo').count(), SLOW).toBe(1)
    expect(await a.page.locator('main[data-problem]').count()).toBe(0)
    await tile(a.page, 'Audience', 'Bo').click()
    const sheet = a.page.getByRole('dialog', { name: 'Bo' })
    await sheet.getByRole('button', { name: 'Ban', exact: true }).click()
    await sheet.getByRole('button', { name: 'Ban Bo' }).click()
    await expect.poll(() => problemTitle(b).textContent(), SLOW).toBe('You cannot join this room')
    await shot(b.page, 'errors-03-banned.png')
    await expect.poll(() => tile(a.page, 'Audience', 'Bo').count(), SLOW).toBe(0)

    // The ban rotated the room (docs/room-rules.md §8): the old link no longer reaches it (the
    // members moved to the new epoch's topic; a relay that holds the room says "replaced").
    const d = await newAppPage(browser, 'D')
    pages.push(d)
    await d.page.goto(link)
    await new Promise((r) => setTimeout(r, 8000))
    expect(await tile(d.page, 'Stage', 'Ana').count()).toBe(0)
    expect(await tile(a.page, 'Audience', 'D').count()).toBe(0)
    await shot(d.page, 'errors-04-old-link.png')

    // A second listener, with a link made now, is in; the owner ends the room; both see it ended.
    const fresh = await inviteLink(a.page, 'Listener')
    expect(fresh).not.toBe(link)
    const c = await newAppPage(browser, 'C')
    pages.push(c)
    await c.page.goto(fresh)
    await tile(c.page, 'Stage', 'Ana').waitFor({ timeout: SLOW.timeout }).catch(async (err: Error) => {
      console.error(await debugDump(c, 'C'), await debugDump(a, 'A'), fresh)
      throw err
    })
    await a.page.getByRole('button', { name: 'End room' }).click()
    await a.page.getByRole('button', { name: 'End room for everyone' }).click()
    await expect.poll(() => problemTitle(c).textContent(), SLOW).toBe('This room has ended')
    await expect.poll(() => problemTitle(a).textContent(), SLOW).toBe('This room has ended')
    await shot(c.page, 'errors-05-ended.png')
    expect([...a.errors, ...b.errors, ...c.errors, ...d.errors, ...e.errors]).toEqual([])
  })
}, 240_000)

test('a denied microphone shows how to allow it, and the room goes on', async () => {
  const m = await newAppPage(browser, 'M')
  pages.push(m)
  // As if the person had blocked the microphone for this site.
  await m.context.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'))
  })
  await m.page.goto(relay.url)
  await m.page.getByLabel('Title').fill('Quiet owner')
  await m.page.getByRole('button', { name: 'Start room' }).click()
  const alert = m.page.getByRole('alert').filter({ hasText: 'Your microphone is blocked' })
  await alert.waitFor({ timeout: SLOW.timeout })
  await shot(m.page, 'errors-05-mic-denied.png')
  // Trying again asks again (and is refused again): the banner stays, nothing crashes.
  await alert.getByRole('button', { name: 'Try again' }).click()
  await expect.poll(() => alert.count(), SLOW).toBe(1)
  expect(await m.page.getByRole('heading', { name: 'Quiet owner' }).count()).toBe(1)
  expect(m.errors).toEqual([])
}, 120_000)
