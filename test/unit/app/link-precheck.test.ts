import { describe, expect, it } from 'vitest'
import { toBase64url, randomBytes } from '../../../src/identity/index.ts'
import { formatInvite, parseInvite } from '../../../src/invite/index.ts'
import { precheckLink } from '../../../src/app/link-precheck.ts'

const roomId = toBase64url(randomBytes(16))
const secret = toBase64url(randomBytes(32))

describe('precheckLink', () => {
  it('accepts what formatInvite makes, with or without origin', () => {
    const link = formatInvite({ origin: 'https://stoop.example', roomId, secret })
    expect(precheckLink(link)).toEqual({ ok: true, roomId })
    expect(precheckLink(link.slice(link.indexOf('#')))).toEqual({ ok: true, roomId })
  })

  it('never accepts a link the full parser refuses for its shape', () => {
    const bad = ['', 'https://x/', 'https://x/#/r/', 'https://x/#/r/abc?k=1', `https://x/#/r/${roomId}`, `https://x/#/r/${roomId}?k=short`, `#/r/${roomId}x?k=${secret}`]
    for (const link of bad) {
      expect(precheckLink(link).ok, link).toBe(false)
      expect(parseInvite(link, 0).ok, link).toBe(false)
    }
  })
})
