/** The system share sheet for invite links, feature-detected, with copying as the fallback. */
import { describe, expect, it } from 'vitest'
import { canShareLink, shareLink } from '../../../src/ui/lib/share.ts'

describe('shareLink', () => {
  it('shares where the browser can, and tells a cancel from a failure', async () => {
    const shared: ShareData[] = []
    const nav = { share: async (d: ShareData) => void shared.push(d), canShare: () => true }
    expect(canShareLink(nav)).toBe(true)
    expect(await shareLink('https://x/#/r/a?k=s', 'Porch', nav)).toBe('shared')
    expect(shared[0]).toMatchObject({ url: 'https://x/#/r/a?k=s', title: 'Porch' })
    const cancel = { share: async () => Promise.reject(new DOMException('closed', 'AbortError')) }
    expect(await shareLink('l', 't', cancel)).toBe('cancelled')
    const refuse = { share: async () => Promise.reject(new DOMException('no', 'NotAllowedError')) }
    expect(await shareLink('l', 't', refuse)).toBe('failed')
  })

  it('is off without the API or when links cannot be shared', async () => {
    expect(canShareLink(undefined)).toBe(false)
    expect(canShareLink({} as never)).toBe(false)
    expect(canShareLink({ share: async () => {}, canShare: () => false })).toBe(false)
    expect(await shareLink('l', 't', undefined)).toBe('failed')
  })
})
