/** Shared set-up for browser tests: Debian Chromium with fake media devices. */
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--disable-background-networking',
  '--autoplay-policy=no-user-gesture-required',
]

/** The Chromium binary the browser tests drive. */
export const CHROMIUM = process.env.STOOP_CHROMIUM ?? '/usr/bin/chromium'

/** `executablePath`: what to start instead of CHROMIUM, e.g. a wrapper that starts it in a network namespace. */
export function launchChromium(extraArgs: string[] = [], executablePath = CHROMIUM): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: [...CHROMIUM_FLAGS, ...extraArgs],
  })
}

/**
 * For pages that join rooms: loopback candidates are gathered (the app keeps to them when
 * `stoop.ice` is 'loopback') and not hidden behind mDNS names, which nothing here resolves.
 */
export const LOOPBACK_ICE_FLAGS = ['--disable-features=WebRtcHideLocalIpsWithMdns', '--allow-loopback-in-peer-connection']
