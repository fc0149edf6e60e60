/**
 * The real app end to end: three Chromium pages and a headless Node peer in
 * one room over the relay's signalling and a WebRTC mesh, checked through the
 * UI and through what each page actually plays (WebAudio analyser on the
 * mixed output, see window.__stoop in src/app/browser-app.ts).
 *
 * A (owner) and C (listener) share a Chromium whose fake microphone plays
 * silence; B's Chromium's microphone plays a 660 Hz tone; the headless peer
 * speaks 440 Hz. Screenshots of every step land in test/e2e/artifacts/.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Browser } from 'playwright-core'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { startHeadlessPeer, type HeadlessPeer } from '../../src/headless/headless-peer.ts'
import { addedCandidates, buildApp, fakeMics, withDumps, hears, inviteLink, launchWithMic, newAppPage, section, setName, shot, SLOW, tile, type AppPage, type FakeMics } from './app-helpers.ts'

let relay: Relay
let quiet: Browser
let loud: Browser
let mics: FakeMics
let bot: HeadlessPeer | undefined
const pages: AppPage[] = []
const NO_E2EE = { 'stoop.e2ee': 'off' }

beforeAll(async () => {
  mics = fakeMics()
  const dist = await buildApp(mics.dir)
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist })
  quiet = await launchWithMic(mics.wav(0))
  loud = await launchWithMic(mics.wav(660))
}, 180_000)

afterAll(async () => {
  await bot?.stop()
  for (const p of pages) await p.context.close().catch(() => undefined)
  await quiet?.close()
  await loud?.close()
  await relay?.close()
  mics?.cleanup()
})

test('owner, listeners and a headless speaker: audio, hands, stage moves, leaving', async () => {
  // The headless speaker (@roamhq/wrtc) cannot encrypt its audio end to end: the pages do not either.
  const a = await newAppPage(quiet, 'A', NO_E2EE)
  const b = await newAppPage(loud, 'B', NO_E2EE)
  const c = await newAppPage(quiet, 'C', NO_E2EE)
  pages.push(a, b, c)
  await withDumps({ A: a, B: b, C: c }, () => scenario(a, b, c))
}, 300_000)

async function scenario(a: AppPage, b: AppPage, c: AppPage): Promise<void> {
  // A creates the room and lands on stage as its owner.
  await a.page.goto(relay.url)
  await setName(a.page, 'Ana')
  await a.page.getByLabel('Title').fill('Stoop e2e')
  await a.page.getByRole('button', { name: 'Start room' }).click()
  await tile(a.page, 'Stage', 'Ana').waitFor()
  await shot(a.page, 'room-01-owner.png')

  const listenerLink = await inviteLink(a.page, 'Listener')
  const speakerLink = await inviteLink(a.page, 'Speaker', 'room-02-share-speaker.png')
  expect(new URL(listenerLink).origin).toBe(relay.url)
  expect(speakerLink).toContain('&g=')

  // B and C join with the listener link.
  for (const [p, name] of [[b, 'Bea'], [c, 'Cal']] as const) {
    await p.page.goto(relay.url)
    await setName(p.page, name)
    await p.page.goto(listenerLink)
    await tile(p.page, 'Audience', name).waitFor()
  }
  await expect.poll(() => tile(a.page, 'Audience', 'Bea').count(), SLOW).toBe(1)
  await expect.poll(() => tile(a.page, 'Audience', 'Cal').count(), SLOW).toBe(1)
  await shot(b.page, 'room-03-listener.png')

  // A headless peer joins with the speaker pass and speaks 440 Hz: everyone hears it, and nothing at 1 kHz.
  bot = await startHeadlessPeer({ link: speakerLink, name: 'Tone bot', speak: { kind: 'tone', freq: 440 }, loopbackOnly: true })
  bot.done.catch((err: Error) => console.error('headless peer failed', err))
  for (const p of [a, b, c]) await expect.poll(() => tile(p.page, 'Stage', 'Tone bot').count(), SLOW).toBe(1)
  for (const p of [a, b, c]) {
    await expect.poll(() => hears(p.page, 440), SLOW).toBeGreaterThan(0.3)
    expect(await hears(p.page, 1000)).toBeLessThan(0.05)
  }
  await shot(c.page, 'room-04-tone-speaker.png')

  // B raises a hand; A sees it in the queue and invites B.
  await b.page.getByRole('button', { name: 'Raise hand' }).click()
  const hands = section(a.page, /^Raised hands/)
  await expect.poll(() => hands.getByText('Bea').count(), SLOW).toBe(1)
  await shot(a.page, 'room-05-raised-hand.png')
  await hands.getByRole('button', { name: 'Invite to speak' }).click()

  // B accepts and speaks (660 Hz from its fake microphone); C hears B, A too.
  const prompt = b.page.getByRole('region', { name: /invited you to speak/ })
  await prompt.waitFor({ timeout: SLOW.timeout })
  await shot(b.page, 'room-06-invite.png')
  await prompt.getByRole('button', { name: 'Accept' }).click()
  await tile(b.page, 'Stage', 'Bea').waitFor({ timeout: SLOW.timeout })
  await expect.poll(() => tile(c.page, 'Stage', 'Bea').count(), SLOW).toBe(1)
  await expect.poll(() => hears(c.page, 660), SLOW).toBeGreaterThan(0.15)
  await expect.poll(() => hears(a.page, 660), SLOW).toBeGreaterThan(0.15)
  expect(await hears(c.page, 440)).toBeGreaterThan(0.15)
  await shot(c.page, 'room-07-two-speakers.png')

  // A moves B back to the audience: B is a listener again and C stops hearing B.
  await tile(a.page, 'Stage', 'Bea').click()
  const sheet = a.page.getByRole('dialog', { name: 'Bea' })
  await sheet.getByRole('button', { name: 'Move to audience' }).click()
  await expect.poll(() => tile(b.page, 'Audience', 'Bea').count(), SLOW).toBe(1)
  await expect.poll(() => b.page.getByRole('button', { name: 'Raise hand' }).count(), SLOW).toBe(1)
  await expect.poll(() => hears(c.page, 660), SLOW).toBeLessThan(0.05)
  expect(await hears(c.page, 440)).toBeGreaterThan(0.3)
  await shot(a.page, 'room-08-moved-back.png')

  // C leaves; A's audience no longer lists C.
  await c.page.getByRole('button', { name: 'Leave' }).click()
  await c.page.getByRole('heading', { name: 'Your rooms' }).waitFor()
  // C's device remembers the room, with who was on stage.
  await expect.poll(() => c.page.getByRole('link', { name: /Stoop e2e/ }).textContent(), SLOW).toMatch(/Ana.*Tone bot/)
  await expect.poll(() => tile(a.page, 'Audience', 'Cal').count(), SLOW).toBe(0)
  expect(await tile(a.page, 'Audience', 'Bea').count()).toBe(1)
  await shot(a.page, 'room-09-after-leave.png')

  // The connection panel shows direct links with measurements.
  await a.page.getByRole('button', { name: /^Connection:/ }).click()
  const panel = a.page.getByRole('dialog', { name: 'Connection' })
  await expect.poll(() => panel.getByRole('list', { name: 'Peers' }).getByRole('listitem').count(), SLOW).toBeGreaterThanOrEqual(2)
  await expect.poll(() => panel.textContent(), SLOW).toMatch(/direct · \d+ ms/)
  await shot(a.page, 'room-10-connection.png')

  // Only loopback candidates ever reached WebRTC in A and B (C's page is gone).
  for (const p of [a, b]) {
    const candidates = await addedCandidates(p.page)
    expect(candidates.length).toBeGreaterThan(0)
    expect(candidates.filter((c) => !/ (127\.0\.0\.1|::1) \d+ typ host/.test(c))).toEqual([])
  }
  expect([...a.errors, ...b.errors, ...c.errors]).toEqual([])
}
