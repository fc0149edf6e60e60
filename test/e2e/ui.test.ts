/**
 * UI-only browser tests: the real App with fake deps (test/e2e/ui-fixture),
 * no src/app, no network. Checks the accessible names other tests rely on.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { build } from 'vite'
import type { Browser, Page } from 'playwright-core'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { launchChromium } from './browser.ts'
import { ARTIFACTS, axeViolations } from './app-helpers.ts'
import { FIXTURE_DIST } from './ui-fixture/vite.config.ts'

let relay: Relay
let browser: Browser

beforeAll(async () => {
  await build({ configFile: new URL('./ui-fixture/vite.config.ts', import.meta.url).pathname })
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist: FIXTURE_DIST })
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  await relay?.close()
})

async function open(query: string, hash = '', width = 360): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 740 } })
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(`${relay.url}/?${query}${hash}`)
  return { page, errors }
}

const calls = (page: Page) => page.evaluate(() => (window as unknown as { stoopFixture: { session: { calls: string[] } } }).stoopFixture.session.calls)
const live = (page: Page) => page.locator('[aria-live="polite"]').textContent()
const ROOM = '#/r/abc?k=secret'

describe('home', () => {
  test('validates the forms inline and opens a pasted link', async () => {
    const { page, errors } = await open('')
    await page.getByRole('heading', { name: 'Your rooms' }).waitFor()
    await page.getByRole('button', { name: 'Start room' }).click()
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Give the room a title')
    await expect.poll(() => page.getByLabel('Title').getAttribute('aria-invalid')).toBe('true')

    await page.getByLabel('Invite link').fill('https://example.org/nothing')
    await page.getByRole('button', { name: 'Join' }).click()
    await expect.poll(() => page.getByText('not a Stoop room link').count()).toBe(1)
    await page.getByLabel('Invite link').fill('http://x/#/r/abc')
    await page.getByRole('button', { name: 'Join' }).click()
    await expect.poll(() => page.getByText('missing its room key').count()).toBe(1)
    await page.getByLabel('Invite link').fill(`http://elsewhere${ROOM}`)
    await page.getByRole('button', { name: 'Join' }).click()
    await page.getByRole('region', { name: /Stage/ }).waitFor()
    expect(await page.evaluate(() => location.hash)).toBe(ROOM)
    expect(errors).toEqual([])
  })

  test('creates a room and lands in it', async () => {
    const { page } = await open('')
    await page.getByLabel('Title').fill('Garden club')
    await page.getByRole('button', { name: 'Start room' }).click()
    await page.getByRole('region', { name: /Stage/ }).waitFor()
  })
})

describe('room', () => {
  test('owner: hands queue, person sheet, mute, end room', async () => {
    const { page, errors } = await open('s=owner', ROOM)
    const hands = page.getByRole('region', { name: /Raised hands/ })
    await hands.waitFor()
    await page.getByRole('region', { name: /Audience/ }).waitFor()
    await hands.getByRole('button', { name: 'Invite to speak' }).first().click()
    await expect.poll(() => calls(page)).toContain('inviteToStage:DeeKey333333333333333333333333333333333333')

    await page.evaluate(() => {
      const s = (window as unknown as { stoopFixture: { session: { snapshot: { audience: unknown[] }; update(p: object): void } } }).stoopFixture.session
      s.update({ hands: [s.snapshot.audience[1]] })
    })
    await expect.poll(() => live(page)).toContain('Eli Moreau raised a hand')

    await page.getByRole('button', { name: /^Bo Lindqvist/ }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Move to audience' }).click()
    await expect.poll(() => calls(page)).toContain('moveToAudience:BoKey11111111111111111111111111111111111111')

    await page.getByRole('button', { name: 'Mute', exact: true }).click()
    await page.getByRole('button', { name: 'Unmute' }).click()
    await page.getByRole('button', { name: 'Mute', exact: true }).waitFor()

    await page.getByRole('button', { name: 'End room' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'End room for everyone' }).click()
    await page.getByRole('heading', { name: 'This room has ended' }).waitFor()
    expect(errors).toEqual([])
  })

  test('share sheet: the system share sheet where there is one, the clipboard otherwise', async () => {
    const page = await browser.newPage({ viewport: { width: 360, height: 740 } })
    await page.addInitScript(() => {
      const shared: ShareData[] = ((window as unknown as { __shared: ShareData[] }).__shared = [])
      Object.defineProperty(navigator, 'share', { value: async (d: ShareData) => void shared.push(d), configurable: true })
      Object.defineProperty(navigator, 'canShare', { value: () => true, configurable: true })
    })
    await page.goto(`${relay.url}/?s=owner${ROOM}`)
    await page.getByRole('button', { name: 'Share', exact: true }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByRole('button', { name: 'Share link…' }).click()
    await dialog.getByText('Shared.').waitFor()
    const shared = await page.evaluate(() => (window as unknown as { __shared: ShareData[] }).__shared)
    expect(shared[0]).toMatchObject({ title: 'Friday night jazz talk', url: expect.stringContaining('#/r/r0om1d') })
    // Without the API there is no share button, and copying is the way.
    const plain = await open('s=owner', ROOM)
    await plain.page.getByRole('button', { name: 'Share', exact: true }).click()
    await plain.page.getByRole('dialog').getByRole('button', { name: 'Copy link' }).waitFor()
    expect(await plain.page.getByRole('dialog').getByRole('button', { name: 'Share link…' }).count()).toBe(0)
  })

  test('share sheet: roles, copy link, QR code', async () => {
    const { page } = await open('s=owner', ROOM)
    await page.getByRole('button', { name: 'Share' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByRole('radio', { name: 'Moderator' }).check()
    await expect.poll(() => dialog.getByRole('textbox', { name: 'Moderator link' }).inputValue()).toContain('g=moderator')
    await dialog.getByRole('img', { name: /QR code/ }).waitFor()
    await dialog.getByRole('button', { name: 'Copy link' }).click()
    await page.keyboard.press('Escape')
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0)
  })

  test('listener: raise and lower hand, accept an invite', async () => {
    const { page } = await open('s=listener', ROOM)
    await page.getByRole('button', { name: 'Raise hand' }).click()
    await page.getByRole('button', { name: 'Lower hand' }).click()
    await page.getByRole('button', { name: 'Raise hand' }).waitFor()
    expect(await page.getByRole('region', { name: /Raised hands/ }).count()).toBe(0)

    await page.evaluate(() =>
      (window as unknown as { stoopFixture: { session: { update(p: object): void } } }).stoopFixture.session.update({
        pendingInvite: { id: 'i1', fromName: 'Ana Ortiz' },
      }),
    )
    await expect.poll(() => live(page)).toContain('Ana Ortiz invited you to speak')
    await page.getByRole('button', { name: 'Accept' }).click()
    await expect.poll(() => live(page)).toContain('You are on stage')
    await page.getByRole('button', { name: 'Unmute' }).waitFor()
    await page.getByRole('button', { name: 'Leave stage' }).waitFor()
  })

  test('audio blocked, offline and mic-denied banners', async () => {
    const { page } = await open('s=blocked', ROOM)
    await page.getByRole('button', { name: /Tap to hear the room/ }).click()
    await expect.poll(() => calls(page)).toContain('resumeAudio')
    await expect.poll(() => page.getByText('Tap to hear the room').count()).toBe(0)

    const offline = await open('s=offline', ROOM)
    await offline.page.getByText('You are offline.').waitFor()
    await offline.page.getByRole('region', { name: /Stage/ }).waitFor()

    const mic = await open('s=micdenied', ROOM)
    await mic.page.getByText('Your microphone is blocked').waitFor()
    await mic.page.getByRole('button', { name: 'Listen only' }).click()
    await expect.poll(() => calls(mic.page)).toContain('leaveStage')
  })

  test('connection details show peers and rejected entries', async () => {
    const { page } = await open('s=owner', ROOM)
    await page.getByRole('button', { name: /^Connection: / }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText('380 ms · 9.1% loss').waitFor()
    await dialog.getByText('Debug: rejected entries (3)').click()
    await dialog.getByText('bad-signature').waitFor()
  })
})

describe('problems', () => {
  for (const [query, heading] of [
    ['fail=wrong-secret', 'This link does not open this room'],
    ['fail=banned', 'You cannot join this room'],
    ['fail=room-ended', 'This room has ended'],
    ['fail=whatever', 'Could not reach this room'],
    ['s=full', 'This room is full'],
  ] as const) {
    test(`${query} shows "${heading}"`, async () => {
      const { page, errors } = await open(query, ROOM)
      await page.getByRole('heading', { name: heading }).waitFor()
      if (query === 's=full') await page.getByText('limit of 200 listeners').waitFor()
      await page.getByRole('button', { name: 'Go to home' }).click()
      await page.getByRole('heading', { name: 'Your rooms' }).waitFor()
      expect(errors).toEqual([])
    })
  }

  test('a link without a room key is a bad link', async () => {
    const { page } = await open('', '#/r/abc')
    await page.getByRole('heading', { name: 'This link is not a room link' }).waitFor()
  })
})

describe('chat, reactions, recording and moderation (fixture)', () => {
  const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}/${name}` })

  test('chat shows text as text, sends from the keyboard; reactions go out with one tap; no axe violations', async () => {
    const { page, errors } = await open('s=listener', ROOM)
    const chat = page.getByRole('region', { name: /^Chat/ })
    await chat.waitFor()
    // The message typed as markup is shown as its characters, and no element was made from it.
    await chat.getByText('<img src=x onerror=alert(1)> is what I typed').waitFor()
    expect(await chat.locator('img').count()).toBe(0)
    // Links are text, never anchors (nothing is fetched or followed).
    expect(await chat.locator('a').count()).toBe(0)
    await chat.getByText('A message this device cannot read.').waitFor()
    expect(await chat.getByRole('button', { name: /^Hide/ }).count()).toBe(0)

    // Keyboard only: focus the message field, type, Enter.
    await chat.getByRole('textbox', { name: 'Message' }).focus()
    await page.keyboard.type('<b>bold?</b> see https://example.org')
    await page.keyboard.press('Enter')
    await chat.getByText('<b>bold?</b> see https://example.org').waitFor()
    expect(await chat.locator('b').count()).toBe(0)
    expect(await calls(page)).toContain('sendChat:<b>bold?</b> see https://example.org')

    // A reaction from the control bar, by keyboard too.
    await page.getByRole('button', { name: 'React with applause' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => calls(page)).toContain('react:👏')
    const bubble = page.getByRole('region', { name: /^Audience/ }).getByText('👏')
    await bubble.waitFor()
    expect(await bubble.evaluate((el) => getComputedStyle(el).animationName)).toMatch(/pop/)
    await shot(page, 'features-ui-01-listener-chat.png')
    // Reduced motion: the emoji is shown for its time, without the animation.
    await page.emulateMedia({ reducedMotion: 'reduce' })
    expect(await bubble.evaluate((el) => getComputedStyle(el).animationName)).toBe('none')
    expect(await axeViolations(page)).toEqual([])
    expect(errors).toEqual([])
  })

  test('owner: hide a message, record with a warning first, mute, remove for a while, hand over', async () => {
    const { page, errors } = await open('s=owner', ROOM)
    const chat = page.getByRole('region', { name: /^Chat/ })
    await chat.getByRole('button', { name: 'Hide message from Eli Moreau' }).click()
    await expect.poll(() => calls(page)).toContain('hideChat:c2')
    await expect.poll(() => chat.getByText('is what I typed').count()).toBe(0)
    // The owner's own messages need no hiding button from the fixture's rule; others' have one.
    expect(await chat.getByRole('button', { name: 'Hide message from Chen Wei' }).count()).toBe(1)

    await page.getByRole('button', { name: 'Record this room' }).click()
    const ask = page.getByRole('dialog', { name: 'Record this room?' })
    await ask.getByText('nothing is uploaded').waitFor()
    expect(await axeViolations(page)).toEqual([])
    await shot(page, 'features-ui-02-record-warning.png')
    await ask.getByRole('button', { name: 'Start recording' }).click()
    await page.getByRole('status').filter({ hasText: 'Recording' }).waitFor()
    await shot(page, 'features-ui-03-recording.png')
    await page.getByRole('button', { name: 'Stop recording' }).click()
    await expect.poll(() => calls(page)).toContain('setRecording:false')

    await page.getByRole('button', { name: /^Chen Wei/ }).click()
    const chen = page.getByRole('dialog', { name: 'Chen Wei' })
    await chen.getByRole('button', { name: 'Mute Chen Wei' }).click()
    await expect.poll(() => calls(page)).toContain('muteSpeaker:ChenKey22222222222222222222222222222222222')

    await page.getByRole('button', { name: /^Eli Moreau/ }).click()
    const eli = page.getByRole('dialog', { name: 'Eli Moreau' })
    await eli.getByRole('button', { name: 'Remove for a while…' }).click()
    await eli.getByLabel('5 minutes').check()
    expect(await axeViolations(page)).toEqual([])
    await shot(page, 'features-ui-04-kick.png')
    await eli.getByRole('button', { name: 'Remove Eli Moreau' }).click()
    await expect.poll(() => calls(page)).toContain('kick:EliKey444444444444444444444444444444444444:300000')

    await page.getByRole('button', { name: /^Bo Lindqvist/ }).click()
    const bo = page.getByRole('dialog', { name: 'Bo Lindqvist' })
    await bo.getByRole('button', { name: 'Make owner…' }).click()
    await bo.getByRole('button', { name: 'Make Bo Lindqvist owner' }).click()
    await expect.poll(() => calls(page)).toContain('transferOwnership:BoKey11111111111111111111111111111111111111')
    expect(errors).toEqual([])
  })

  test('an invite during a recording says so; declining keeps the person in the audience', async () => {
    const { page } = await open('s=recorded', ROOM)
    const prompt = page.getByRole('region', { name: /invited you to speak/ })
    await prompt.getByText('This room is being recorded.').waitFor()
    await page.getByRole('status').filter({ hasText: 'Recording' }).getByText('by Ana Ortiz').waitFor()
    expect(await axeViolations(page)).toEqual([])
    await shot(page, 'features-ui-05-consent.png')
    await prompt.getByRole('button', { name: 'Decline' }).click()
    await expect.poll(() => calls(page)).toContain('declineInvite')
    await page.getByRole('button', { name: 'Raise hand' }).waitFor()
  })

  test('muted by a moderator: who, and the hold before unmuting; removed for a while: when to come back', async () => {
    const { page } = await open('s=forcemuted', ROOM)
    await page.getByText('Muted by Bo Lindqvist.').waitFor()
    await page.getByText(/You can unmute in \d+ s/).waitFor()
    await page.getByRole('button', { name: 'Unmute' }).click()
    await page.getByRole('alert').filter({ hasText: 'you can unmute in' }).waitFor()
    expect(await axeViolations(page)).toEqual([])
    await shot(page, 'features-ui-06-muted-by.png')

    const kicked = await open('s=kicked', ROOM)
    await kicked.page.getByRole('heading', { name: 'You are out of this room for now' }).waitFor()
    await kicked.page.getByText('until 21:30').waitFor()
    await shot(kicked.page, 'features-ui-07-kicked.png')
  })
})
