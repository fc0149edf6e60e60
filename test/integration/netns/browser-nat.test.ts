/**
 * A browser joins a room of headless peers across NATs: Debian Chromium runs in home B, behind
 * router B (lab-browser.ts), and loads the app from the relay in the public namespace, which
 * also signals and answers STUN. Headless A in home A, behind router A, speaks 440 Hz; headless
 * B in home B, next to the browser, speaks 660 Hz. The page opens a listener link with the
 * app's defaults (the relay's STUN, nothing else), joins the mesh, and hears each tone,
 * measured in what it plays (window.__stoop.heard: an AnalyserNode on its output). Both headless
 * peers see it join: their mesh link to it comes up. Every candidate the page gathered or was
 * given is a lab address (or its namespace's own loopback, or the mDNS name of its host): its
 * namespace has no other route.
 */
import type { Browser } from 'playwright-core'
import { afterAll, expect, it } from 'vitest'
import { candidateInSubnets } from '../../../src/net/ice.ts'
import { buildApp, hears, setName, SLOW, tile, withDumps, type AppPage } from '../../e2e/app-helpers.ts'
import { ADDR, LAB_SUBNET } from './lab.ts'
import { chromiumUnavailable, launchInLab, newLabPage, pageCandidates } from './lab-browser.ts'
import type { Event } from './procs.ts'
import { describeLab, labSkip, useScene } from './scene.ts'

const skip = labSkip ?? (await chromiumUnavailable())
/** A tone counts as heard at this share of the page's output power (two equal tones: about half each). */
const HEARD = 0.2
/** Lab addresses, and a namespace's own loopback (each namespace has its own `lo`). */
const inLab = candidateInSubnets([LAB_SUBNET, '127.0.0.0/8'])

describeLab('a browser behind a NAT joins a mesh room', () => {
  const scene = useScene({ nat: { A: 'cone', B: 'cone' }, tmp: 'stoop-browser-', app: buildApp })
  let browser: Browser | undefined
  let app: AppPage | undefined
  // Registered after the scene's: runs before it (hooks unwind), so Chromium is gone before its namespace.
  afterAll(async () => {
    await app?.context.close().catch(() => undefined)
    await browser?.close()
  })

  it('Chromium in home B, with only the relay’s STUN, connects to both headless peers and hears each tone', async () => {
    const links = await scene.room('A browser across NATs')
    const a = scene.peer('homeA', { link: links.moderator, name: 'Ann', speak: 440 })
    const b = scene.peer('homeB', { link: links.speaker, name: 'Ben', speak: 660 })
    const [joinedA, joinedB] = await Promise.all([a, b].map((p) => p.next((e) => e.event === 'joined', 90_000)))
    const idA = String(joinedA!.id)
    const idB = String(joinedB!.id)
    const linkTo = (id: string) => (ev: Event) => ev.event === 'peer-connected' && ev.peer === id
    await Promise.all([a.next(linkTo(idB), 45_000), b.next(linkTo(idA), 45_000)])

    browser = await launchInLab(scene.lab, 'homeB', scene.file('chromium-in-homeB.sh'), scene.origin)
    // The headless peers (@roamhq/wrtc) cannot encrypt their audio end to end: the page does not either.
    app = await newLabPage(browser, { 'stoop.e2ee': 'off' })
    const page = app.page
    await withDumps({ browser: app }, async () => {
      const opened = Date.now()
      await page.goto(scene.origin)
      await setName(page, 'Cam')
      const named = Date.now()
      await page.goto(links.listener)
      await tile(page, 'Audience', 'Cam').waitFor({ timeout: SLOW.timeout })
      const joined = Date.now()
      const self = await page.evaluate(() => (window as unknown as { __stoop: { session(): { client: { selfId: string } } } }).__stoop.session().client.selfId)
      const [upA, upB] = await Promise.all([a.next(linkTo(self), 60_000), b.next(linkTo(self), 60_000)])
      await expect.poll(() => hears(page, 440), SLOW).toBeGreaterThan(HEARD)
      await expect.poll(() => hears(page, 660), SLOW).toBeGreaterThan(HEARD)
      const heardAt = Date.now()
      // Then five readings in a row, each the best of 4 over 0.6 s: the tones go on.
      const readings: Array<{ 440: number; 660: number }> = []
      for (let i = 0; i < 5; i++) readings.push({ 440: await hears(page, 440), 660: await hears(page, 660) })
      const client = await page.evaluate(() => {
        const c = (window as unknown as { __stoop: { session(): { client: { via: string; mesh: { connected: string[] } } } } }).__stoop.session().client
        return { via: c.via, connected: [...c.mesh.connected].sort() }
      })
      const candidates = await pageCandidates(page)
      console.info(
        `browser behind NAT B: app open and named ${named - opened} ms, in the audience ${joined - named} ms after; linked to A ${upA.t! - joined} ms and to B ${upB.t! - joined} ms after that; ` +
          `both tones heard ${heardAt - joined} ms after; ` +
          `readings ${JSON.stringify(readings)}; candidates ${JSON.stringify(candidates)}`,
      )
      expect(client).toEqual({ via: 'mesh', connected: [idA, idB].sort() })
      expect(readings.filter((r) => r[440] <= HEARD || r[660] <= HEARD)).toEqual([])
      // Its public address came from the relay's STUN, and the peer behind the other NAT offered its own.
      expect(candidates).toContainEqual({ kind: 'local', type: 'srflx', address: ADDR.wanB })
      expect(candidates).toContainEqual({ kind: 'remote', type: 'srflx', address: ADDR.wanA })
      const outside = candidates.filter((c) => !c.address.endsWith('.local') && !inLab(`candidate:0 1 udp 0 ${c.address} 0 typ ${c.type}`))
      expect(outside).toEqual([])
    })
    expect(app.errors).toEqual([])
  }, 420_000) // 212 s once with 7 test runs sharing the 2 cores
}, skip)
