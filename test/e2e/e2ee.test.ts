/**
 * End-to-end encrypted audio between browsers (SFrame, src/app/e2ee.ts), on the mesh and through
 * the relay: Ana (Chromium's RTCRtpScriptTransform, the default here) speaks 440 Hz beeps, Bea
 * (forced onto createEncodedStreams, the other browser path) speaks 660 Hz; each hears the
 * other. Then Cal joins with encryption off and speaks 880 Hz in the clear: what Ana and Bea
 * send is not Opus to Cal (Cal's decoder turns it into noise, not their tones, though both
 * tracks arrive and may play), and
 * Cal's plain Opus, attributed to a speaker of the room as a relay's injection would be, is
 * dropped and counted by Ana and Bea, never heard, and the connection panel says so.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import type { E2eeStats } from '../../src/app/e2ee.ts'
import { buildApp, fakeMics, heard, hears, inviteLink, launchWithMic, newAppPage, setName, shot, SLOW, tile, withDumps, type AppPage, type FakeMics } from './app-helpers.ts'

let relay: Relay
let low: Browser
let high: Browser
let mics: FakeMics
const pages: AppPage[] = []

beforeAll(async () => {
  mics = fakeMics()
  const dist = await buildApp(mics.dir)
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist })
  low = await launchWithMic(mics.wav(440))
  high = await launchWithMic(mics.wav(660))
}, 180_000)

afterAll(async () => {
  for (const p of pages) await p.context.close().catch(() => undefined)
  await low?.close()
  await high?.close()
  await relay?.close()
  mics?.cleanup()
})

type Session = {
  e2ee: E2eeStats | null
  client: { selfId: string; via: string; mesh: { connected: string[] } }
  playback: { describe(): Array<{ from: string; allowed: boolean; track: string }> }
}
const session = <T>(page: Page, fn: (s: Session) => T): Promise<T> =>
  page.evaluate((src) => {
    const s = (window as unknown as { __stoop: { session(): unknown } }).__stoop.session()
    return s ? (new Function('s', `return (${src})(s)`) as (s: unknown) => unknown)(s) : null
  }, fn.toString()) as Promise<T>

/**
 * Median over 3 s of the share of the page's output at `freq`. A decoder fed ciphertext as Opus
 * (SFrame's config byte reads as a SILK TOC) plays noise whose spectrum moves: a single reading
 * can land near a tone, the median of a played tone is ~1 and that of noise is not.
 */
async function steadily(page: Page, freq: number): Promise<number> {
  const xs: number[] = []
  for (let i = 0; i < 12; i++) {
    xs.push(await heard(page, freq))
    await page.waitForTimeout(250)
  }
  return xs.sort((x, y) => x - y)[6]!
}

/** A page whose "microphone" is a steady `freq` Hz oscillator (any getUserMedia call). */
async function oscillatorMic(p: AppPage, freq: number): Promise<void> {
  await p.context.addInitScript((f: number) => {
    navigator.mediaDevices.getUserMedia = async () => {
      const ctx = new AudioContext()
      const osc = ctx.createOscillator()
      const gain = ctx.createGain()
      osc.frequency.value = f
      gain.gain.value = 0.3
      const dest = ctx.createMediaStreamDestination()
      osc.connect(gain).connect(dest)
      osc.start()
      return dest.stream
    }
  }, freq)
}

async function enter(p: AppPage, name: string, link: string | null, title?: string): Promise<void> {
  await p.page.goto(relay.url)
  await setName(p.page, name)
  if (link) await p.page.goto(link)
  else {
    await p.page.getByLabel('Title').fill(title ?? 'E2EE')
    await p.page.getByRole('button', { name: 'Start room' }).click()
  }
  await tile(p.page, 'Stage', name).waitFor({ timeout: SLOW.timeout })
}

async function open(browser: Browser, label: string, settings: Record<string, string>): Promise<AppPage> {
  const p = await newAppPage(browser, label, settings)
  pages.push(p)
  return p
}

async function scenario(via: 'mesh' | 'relay'): Promise<void> {
  const room: Record<string, string> = via === 'relay' ? { 'stoop.mesh-size': '1' } : {}
  const a = await open(low, `A-${via}`, room)
  // Bea runs the createEncodedStreams fallback on both paths. Chromium hands a receiver's transform an
  // empty frame per padding-only probe packet at the start of a connection: dropped, not held
  // against the speaker (src/media/sframe.ts 'empty'), so `undecryptable` stays empty below.
  const b = await open(high, `B-${via}`, { ...room, 'stoop.e2ee': 'encoded-streams' })
  const c = await open(low, `C-${via}`, { ...room, 'stoop.e2ee': 'off' })
  await oscillatorMic(c, 880)
  await withDumps({ A: a, B: b, C: c }, async () => {
    await enter(a, 'Ana', null, `E2EE ${via}`)
    const forBea = await inviteLink(a.page, 'Speaker')
    const forCal = await inviteLink(a.page, 'Speaker')
    await enter(b, 'Bea', forBea)

    // Both ways, each browser path: the decoder gets the decrypted frames.
    await expect.poll(() => hears(a.page, 660), SLOW).toBeGreaterThan(0.15)
    await expect.poll(() => hears(b.page, 440), SLOW).toBeGreaterThan(0.15)
    for (const p of [a, b]) await expect.poll(() => session(p.page, (s) => s.client.via), SLOW).toBe(via)
    if (via === 'relay') for (const p of [a, b]) expect(await session(p.page, (s) => s.client.mesh.connected.length)).toBe(0)
    const stats = (p: AppPage): Promise<E2eeStats> => session(p.page, (s) => s.e2ee!)
    for (const p of [a, b]) await expect.poll(async () => Math.min((await stats(p)).encrypted, (await stats(p)).decrypted), SLOW).toBeGreaterThan(100)
    const [ea, eb] = [await stats(a), await stats(b)]
    expect([ea.mode, eb.mode]).toEqual(['script-transform', 'encoded-streams'])
    for (const e of [ea, eb]) {
      expect(e.undecryptable).toEqual({})
      expect(e.attachFailures).toBe(0)
    }
    console.log(`[e2ee ${via}] heard: A 660 Hz ${(await hears(a.page, 660)).toFixed(2)}, B 440 Hz ${(await hears(b.page, 440)).toFixed(2)}`)
    console.log(`[e2ee ${via}] worker µs/frame: A seal ${ea.encryptUs?.toFixed(0)} open ${ea.decryptUs?.toFixed(0)}; B seal ${eb.encryptUs?.toFixed(0)} open ${eb.decryptUs?.toFixed(0)}`)

    // Cal sends plain Opus under a speaker's id and receives the others' frames without a key.
    await enter(c, 'Cal', forCal)
    const cal = await session(c.page, (s) => s.client.selfId)
    for (const p of [a, b]) {
      await expect.poll(async () => ((await session(p.page, (s) => s.e2ee))?.undecryptable[cal] ?? 0), SLOW).toBeGreaterThan(50)
    }
    // Cal receives both speakers on live tracks its playback may play ...
    await expect.poll(() => session(c.page, (s) => s.playback.describe().filter((d) => d.allowed && d.track === 'live').length), SLOW).toBeGreaterThanOrEqual(2)
    // ... and hears neither; Ana and Bea never hear Cal, and still hear each other.
    const [c440, c660, c550, a880, b880, a660, b440] = await Promise.all([
      steadily(c.page, 440),
      steadily(c.page, 660),
      steadily(c.page, 550),
      steadily(a.page, 880),
      steadily(b.page, 880),
      steadily(a.page, 660),
      steadily(b.page, 440),
    ])
    console.log(`[e2ee ${via}] median tone share over 3 s: keyless Cal hears 440 ${c440.toFixed(3)} 660 ${c660.toFixed(3)} (noise at 550: ${c550.toFixed(3)}); Ana hears Cal ${a880.toExponential(1)}, Bea ${b880.toExponential(1)}, Ana hears Bea ${a660.toFixed(2)}, Bea Ana ${b440.toFixed(2)}`)
    // A played tone reads ~1 (Ana and Bea below); Cal's decoder plays the ciphertext as noise.
    expect(Math.max(c440, c660)).toBeLessThan(0.2)
    expect(Math.max(a880, b880)).toBeLessThan(0.001)
    expect(Math.min(a660, b440)).toBeGreaterThan(0.5)
    expect((await session(c.page, (s) => s.e2ee))).toBeNull()

    // The connection panel says it, with the count.
    await a.page.getByRole('button', { name: /^Connection:/ }).click()
    const panel = a.page.getByRole('dialog', { name: 'Connection' })
    await expect.poll(() => panel.textContent(), SLOW).toMatch(/end-to-end encrypted.*\d+ audio frames failed to decrypt/)
    await shot(a.page, `e2ee-${via}-connection.png`)
    await a.page.keyboard.press('Escape')
    expect([...a.errors, ...b.errors, ...c.errors]).toEqual([])
  })
  for (const p of [a, b, c]) await p.context.close()
}

test('mesh: two browsers hear each other end-to-end encrypted; a peer without the key hears no voice and its plain audio is dropped', async () => {
  await scenario('mesh')
}, 300_000)

test('relay: the same through the relay the page was served from', async () => {
  await scenario('relay')
}, 300_000)
