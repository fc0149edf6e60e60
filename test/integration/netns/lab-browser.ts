/**
 * Debian Chromium inside a lab namespace, driven by playwright-core as the browser tests drive
 * it (test/e2e/browser.ts): playwright starts a wrapper that execs Chromium under
 * `ip netns exec`, and talks to it over the pipe it inherits, which crosses the namespace. So
 * the browser's only network is that namespace's: a home behind its NAT router, with no route
 * out of the lab (lab.ts), whatever a page tries.
 *
 * Pages get the app's secure-context APIs (WebCrypto keys, getUserMedia) on the relay's plain
 * http:// origin by `--unsafely-treat-insecure-origin-as-secure`, standing in for the TLS a
 * deployed relay has. Every RTCPeerConnection a page makes is kept in `window.__pcs`, so a test
 * can read which candidates it gathered and was given (`pageCandidates`).
 */
import { execFile } from 'node:child_process'
import { constants } from 'node:fs'
import { access, chmod, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { CHROMIUM, launchChromium } from '../../e2e/browser.ts'
import type { Lab, NsName } from './lab.ts'

const ENSURE_CHROMIUM = fileURLToPath(new URL('../../e2e/ensure-chromium.sh', import.meta.url))

/** null when Chromium is there (installed from Debian when missing and root); otherwise why not. */
export async function chromiumUnavailable(): Promise<string | null> {
  if (await access(CHROMIUM, constants.X_OK).then(() => true, () => false)) return null
  try {
    await promisify(execFile)('sh', [ENSURE_CHROMIUM])
    return null
  } catch (err) {
    return `Chromium is missing and could not be installed: ${String((err as { stderr?: string }).stderr ?? err).trim()}`
  }
}

/** Chromium in namespace `where`, started through a wrapper script written at `wrapper`; `origin` (http://) is treated as secure. */
export async function launchInLab(lab: Lab, where: NsName, wrapper: string, origin: string): Promise<Browser> {
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec '${lab.ns[where]}' '${CHROMIUM}' "$@"\n`)
  await chmod(wrapper, 0o755)
  return launchChromium([`--unsafely-treat-insecure-origin-as-secure=${origin}`], wrapper)
}

/** A page whose device settings (localStorage, src/main.ts) are `settings`, its connections tracked. */
export async function newLabPage(browser: Browser, settings: Record<string, string>): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext()
  await context.addInitScript((extra: Record<string, string>) => {
    // about:blank has no storage; the app's pages do.
    if (location.protocol.startsWith('http')) for (const [k, v] of Object.entries(extra)) localStorage.setItem(k, v)
    const pcs: RTCPeerConnection[] = ((window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = [])
    const setLocal = RTCPeerConnection.prototype.setLocalDescription as (this: RTCPeerConnection, d?: RTCLocalSessionDescriptionInit) => Promise<void>
    RTCPeerConnection.prototype.setLocalDescription = function (this: RTCPeerConnection, d?: RTCLocalSessionDescriptionInit) {
      if (!pcs.includes(this)) pcs.push(this)
      return setLocal.call(this, d)
    } as typeof RTCPeerConnection.prototype.setLocalDescription
  }, settings)
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  if (process.env.STOOP_E2E_DEBUG) page.on('console', (m) => console.log(`[lab page] ${m.type()} ${m.text()}`))
  return { context, page, errors }
}

export interface PageCandidate {
  kind: 'local' | 'remote'
  type: string
  address: string
}

/** Every local and remote ICE candidate in the stats of the page's connections (open ones). */
export function pageCandidates(page: Page): Promise<PageCandidate[]> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? []
    const out: Array<{ kind: 'local' | 'remote'; type: string; address: string }> = []
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue
      const stats = await pc.getStats()
      stats.forEach((s: { type: string; candidateType?: string; address?: string; ip?: string }) => {
        if (s.type === 'local-candidate' || s.type === 'remote-candidate') {
          out.push({ kind: s.type === 'local-candidate' ? 'local' : 'remote', type: s.candidateType ?? '', address: s.address ?? s.ip ?? '' })
        }
      })
    }
    return out
  })
}
