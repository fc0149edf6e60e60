/**
 * The terminal and the browser in one room (issue 15): a headless `stoop peer --say --react`
 * (the real command, a child process) reaches the owner's Chromium page, as a chat line and a
 * reaction on its tile; the owner's chat message and reaction reach the peer's `--json` as
 * `chat` and `reaction` events. The page has end-to-end encrypted audio off: the default
 * `--media wrtc` peer cannot take part in it (chat and presence are sealed either way).
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Browser } from 'playwright-core'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { startStoop, type Running } from '../integration/helpers/stoop-cli.ts'
import {
  buildApp, fakeMics, inviteLink, launchWithMic, newAppPage, section, shot, SLOW, startRoom, tile, withDumps,
  type AppPage, type FakeMics,
} from './app-helpers.ts'

let relay: Relay
let browser: Browser
let mics: FakeMics
let owner: AppPage | null = null
let term: Running | null = null

beforeAll(async () => {
  mics = fakeMics()
  const dist = await buildApp(mics.dir)
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist })
  browser = await launchWithMic(mics.wav(0))
}, 180_000)

afterAll(async () => {
  term?.child.kill('SIGTERM')
  await term?.ended
  await owner?.context.close().catch(() => undefined)
  await browser?.close()
  await relay?.close()
  mics?.cleanup()
})

const chat = (a: AppPage) => section(a.page, /^Chat/)
const SAID = 'hello from the terminal <b>not bold</b>'

test('stoop peer --say/--react reach a browser; the browser’s chat and reaction reach --json', async () => {
  const a = (owner = await newAppPage(browser, 'A', { 'stoop.e2ee': 'off' }))
  await withDumps({ A: a }, async () => {
    await startRoom(a.page, relay.url, 'Ana', 'Terminal and browser')
    const link = await inviteLink(a.page, 'Listener')
    // Watched for from before the peer starts: a reaction shows for a few seconds.
    const clapSeen = tile(a.page, 'Audience', 'Term').getByText('👏').waitFor({ timeout: SLOW.timeout })
    const t = (term = startStoop(['peer', link, '--json', '--ice-loopback', '--name', 'Term', '--say', SAID, '--react', '👏'], 240_000))
    const termId = String((await t.next((e) => e.event === 'joined', SLOW.timeout)).id)

    // The terminal's chat line and reaction, in the owner's page (the markup stays text).
    await chat(a).getByText(SAID).waitFor({ timeout: SLOW.timeout })
    expect(await chat(a).locator('b').count()).toBe(0)
    await clapSeen
    await shot(a.page, 'cli-chat-01-terminal-in-browser.png')

    // The owner's chat message and reaction, as the terminal's --json events.
    const ownerId = await a.page.evaluate(() => (window as unknown as { __stoop: { session(): { client: { selfId: string } } } }).__stoop.session().client.selfId)
    await chat(a).getByRole('textbox', { name: 'Message' }).fill('hello from the browser')
    await chat(a).getByRole('button', { name: 'Send message' }).click()
    const line = await t.next((e) => e.event === 'chat' && e.text === 'hello from the browser', SLOW.timeout)
    expect(line).toMatchObject({ author: ownerId, name: 'Ana', at: expect.any(Number), id: expect.any(String) })
    await a.page.getByRole('button', { name: 'React with fire' }).click()
    const reaction = await t.next((e) => e.event === 'reaction', SLOW.timeout)
    expect(reaction).toEqual({ event: 'reaction', t: expect.any(Number), from: ownerId, name: 'Ana', emoji: '🔥', label: 'fire' })
    // The terminal saw its own line in the room too, and reported no reaction of its own.
    expect(t.events.some((e) => e.event === 'chat' && e.text === SAID && e.author === termId)).toBe(true)
    expect(t.events.filter((e) => e.event === 'reaction')).toHaveLength(1)
    expect(a.errors).toEqual([])
  })
}, 360_000)
