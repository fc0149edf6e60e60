/**
 * A browser joins a room that is already on its relay (issue 16): a headless
 * moderator speaking 440 Hz (`stoop peer --json --invite-hands`, a child
 * process) and 8 headless listeners (one child process) make a room of 9,
 * past the mesh size of 8, so everyone is on the relay the page was served
 * from. Chromium opens the listener link (10 people) and must:
 * hear the tone, see everyone present and the speaker's speaking ring, raise a
 * hand the moderator sees, accept the invite and be heard (660 Hz beeps from
 * its fake microphone) by the headless listeners through the relay; then the
 * listeners leave, the room of 2 goes back to the mesh, and the browser keeps
 * hearing the tone across the switch.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { generateIdentity } from '../../src/identity/index.ts'
import { DEFAULT_LIMITS } from '../../src/net/topology.ts'
import { spawnPeerBatch, type PeerBatch } from '../integration/helpers/peer-batch.ts'
import { startJsonPeer, type JsonPeer } from '../integration/helpers/json-peer.ts'
import { buildApp, fakeMics, hears, launchWithMic, newAppPage, setName, shot, SLOW, tile, withDumps, type AppPage, type FakeMics } from './app-helpers.ts'

const LISTENERS = Array.from({ length: 8 }, (_, i) => `L${i + 1}`)

let relay: Relay
let browser: Browser
let mics: FakeMics
let moderator: JsonPeer | undefined
let listeners: PeerBatch | undefined
let app: AppPage | undefined

beforeAll(async () => {
  mics = fakeMics()
  const dist = await buildApp(mics.dir)
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist })
  browser = await launchWithMic(mics.wav(660))
}, 180_000)

afterAll(async () => {
  await app?.context.close().catch(() => undefined)
  await browser?.close()
  await listeners?.stop()
  await moderator?.stop()
  await relay?.close()
  mics?.cleanup()
}, 60_000)

test('a browser joining a room on its relay hears it, sees everyone, speaks through the relay, and keeps hearing when the room shrinks to a mesh', async () => {
  const links = await createRoomLinks(await generateIdentity(), { title: 'Relay room', topic: '', origin: relay.url })
  moderator = startJsonPeer([links.moderator, '--name', 'Mod', '--speak', 'tone:440', '--ice-loopback', '--invite-hands', '--media', 'wrtc'])
  await moderator.next((ev) => ev.event === 'joined')
  listeners = await spawnPeerBatch(
    LISTENERS.map((name) => ({ name, link: links.listener, relay: [relay.url.replace('http', 'ws') + '/relay'] })),
    { limits: DEFAULT_LIMITS, freqs: [440, 660] },
  )
  const batch = listeners
  // The room of 9 is on the relay, and every listener hears the moderator there.
  await expect.poll(() => LISTENERS.filter((n) => batch.status.get(n)?.via !== 'relay' || !batch.status.get(n)?.hears['440']), SLOW).toEqual([])

  // The headless peers (@roamhq/wrtc) cannot encrypt their audio end to end: the page does not either.
  app = await newAppPage(browser, 'B', { 'stoop.e2ee': 'off' })
  const page = app.page
  await withDumps({ B: app }, async () => {
    await page.goto(relay.url)
    await setName(page, 'Bea')
    await page.goto(links.listener)
    await tile(page, 'Audience', 'Bea').waitFor({ timeout: SLOW.timeout })

    // It hears the speaker, through the relay alone once the mesh is left, and shows the room as it is.
    await expect.poll(() => hears(page, 440), SLOW).toBeGreaterThan(0.3)
    await expect.poll(() => connectionLabel(page), SLOW).toMatch(/through a relay/)
    await expect.poll(() => client(page, (c) => ({ via: c.via, direct: c.mesh.connected.length })), SLOW).toEqual({ via: 'relay', direct: 0 })
    expect(await hears(page, 440)).toBeGreaterThan(0.3)
    for (const name of LISTENERS) await expect.poll(() => tileLabel(page, 'Audience', name), SLOW).toMatch(new RegExp(`^${name}(?!.*away)`))
    await expect.poll(() => tileLabel(page, 'Stage', 'Mod'), SLOW).toMatch(/speaking/)
    expect(await tileLabel(page, 'Stage', 'Mod')).not.toMatch(/away/)
    await shot(page, 'relay-01-listening.png')

    // A raised hand reaches the moderator, whose bot invites it; the browser accepts and speaks.
    const self = await client(page, (c) => c.selfId)
    await page.getByRole('button', { name: 'Raise hand' }).click()
    await moderator!.next((ev) => ev.event === 'state' && (ev.hands as string[]).includes(self))
    await moderator!.next((ev) => ev.event === 'invited' && ev.to === self)
    const prompt = page.getByRole('region', { name: /invited you to speak/ })
    await prompt.waitFor({ timeout: SLOW.timeout })
    await prompt.getByRole('button', { name: 'Accept' }).click()
    await tile(page, 'Stage', 'Bea').waitFor({ timeout: SLOW.timeout })
    await expect.poll(() => LISTENERS.filter((n) => batch.status.get(n)?.via !== 'relay' || !batch.status.get(n)?.hears['660']), SLOW).toEqual([])
    await shot(page, 'relay-02-speaking.png')

    // The listeners leave: two people go back to the mesh, and the browser hears on throughout.
    const trace = await traceHeard(page, 440)
    await batch.stop()
    await expect.poll(() => connectionLabel(page), SLOW).toMatch(/direct to everyone/)
    await expect.poll(() => client(page, (c) => c.via), SLOW).toBe('mesh')
    await page.waitForTimeout(2000)
    const heard = await trace.stop()
    const gap = longestBelow(heard, 0.2)
    console.log(`browser across relay -> mesh: ${heard.length} readings, longest run below 0.2 at 440 Hz: ${gap} readings of 50 ms`)
    // The analyser window is 170 ms: a run of 10 readings is half a second without the tone.
    expect(gap).toBeLessThan(10)
    expect(await hears(page, 440)).toBeGreaterThan(0.3)
    await shot(page, 'relay-03-back-to-mesh.png')
  })
  expect(app.errors).toEqual([])
  expect(moderator.malformed).toEqual([])
}, 360_000)

type PageClient = { selfId: string; via: string; mesh: { connected: string[] } }

/** Reads the page's RoomClient (window.__stoop, see src/app/browser-app.ts). */
function client<T>(page: Page, read: (c: PageClient) => T): Promise<T> {
  return page.evaluate(`(${read.toString()})(window.__stoop.session().client)`) as Promise<T>
}

async function tileLabel(page: Page, where: 'Stage' | 'Audience', name: string): Promise<string> {
  const t = tile(page, where, name)
  // A tile's accessible name is its text (name and visually hidden details), not an aria-label.
  return (await t.count()) === 1 ? ((await t.locator('.name').textContent()) ?? '').replace(/\s+/g, ' ') : ''
}

async function connectionLabel(page: Page): Promise<string> {
  const button = page.getByRole('button', { name: /^Connection:/ })
  return (await button.count()) ? ((await button.getAttribute('aria-label')) ?? '') : ''
}

/** Samples the page's `heard(freq)` every 50 ms until stopped. */
async function traceHeard(page: Page, freq: number): Promise<{ stop(): Promise<number[]> }> {
  await page.evaluate((f) => {
    const w = window as unknown as { __trace: number[]; __traceTimer: number; __stoop: { heard(f: number): number } }
    w.__trace = []
    w.__traceTimer = window.setInterval(() => w.__trace.push(w.__stoop.heard(f)), 50)
  }, freq)
  return {
    stop: () =>
      page.evaluate(() => {
        const w = window as unknown as { __trace: number[]; __traceTimer: number }
        clearInterval(w.__traceTimer)
        return w.__trace
      }),
  }
}

function longestBelow(values: number[], threshold: number): number {
  let longest = 0
  let run = 0
  for (const v of values) {
    run = v < threshold ? run + 1 : 0
    longest = Math.max(longest, run)
  }
  return longest
}
