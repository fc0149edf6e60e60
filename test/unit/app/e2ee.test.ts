/**
 * The browser's end-to-end encryption choices and what the connection panel says about it.
 * (The transforms themselves run in Chromium: test/e2e/e2ee.test.ts.)
 */
import { describe, expect, test } from 'vitest'
import { e2eeMode } from '../../../src/app/e2ee.ts'
import { peerLinks } from '../../../src/app/peer-links.ts'
import { e2eeText, peerStats } from '../../../src/ui/lib/connection.ts'

const both = { RTCRtpScriptTransform: function () {}, RTCRtpSender: { prototype: { createEncodedStreams() {} } } }
const chromiumOld = { RTCRtpSender: { prototype: { createEncodedStreams() {} } } }
const none = { RTCRtpSender: { prototype: {} } }

describe('e2eeMode', () => {
  test('auto prefers RTCRtpScriptTransform, falls back to createEncodedStreams, else off', () => {
    expect(e2eeMode('auto', both)).toBe('script-transform')
    expect(e2eeMode(undefined, chromiumOld)).toBe('encoded-streams')
    expect(e2eeMode('auto', none)).toBeNull()
  })

  test('a forced mode is used only where the browser has it; off is off', () => {
    expect(e2eeMode('encoded-streams', both)).toBe('encoded-streams')
    expect(e2eeMode('script-transform', chromiumOld)).toBeNull()
    expect(e2eeMode('off', both)).toBeNull()
  })
})

describe('connection panel', () => {
  test('says whether audio is end-to-end encrypted and how many frames failed, per peer too', () => {
    expect(e2eeText({ on: false, undecryptable: 0 })).toMatch(/not end-to-end encrypted/)
    expect(e2eeText({ on: true, undecryptable: 0 })).toBe('Audio is end-to-end encrypted: relays forward it without being able to hear it.')
    expect(e2eeText({ on: true, undecryptable: 1 })).toMatch(/1 audio frame failed to decrypt and was dropped\.$/)
    const [row] = peerLinks(['bea'], new Map(), () => 'Bea', { bea: 12 })
    expect(row!.undecryptable).toBe(12)
    expect(peerStats(row!)).toBe('direct · 12 audio frames failed to decrypt')
    expect(peerLinks(['bea'], new Map(), () => 'Bea')[0]!.undecryptable).toBeUndefined()
  })
})
