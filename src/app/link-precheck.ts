/**
 * A dependency-free first look at an invite link, for the moments before the
 * app chunk (src/app/browser-app.ts, which has the real `parseInvite`) has
 * loaded: a room link opened cold must route at once. It only checks the
 * shape (`#/r/<22-char room id>?k=<43-char secret>`); `openRoom` parses the
 * link fully and rejects with 'bad-link' whatever this lets through.
 */
import type { LinkCheck } from './types.ts'

const B64URL = /^[A-Za-z0-9_-]+$/

export function precheckLink(link: string): LinkCheck {
  const text = link.trim()
  const at = text.indexOf('#/r/')
  if (at < 0) return { ok: false, message: 'This is not a Stoop room link: it has no "#/r/..." part. Copy the whole link.' }
  const fragment = text.slice(at + 4)
  const q = fragment.indexOf('?')
  const roomId = (q < 0 ? fragment : fragment.slice(0, q)).replace(/\/+$/, '')
  if (roomId.length !== 22 || !B64URL.test(roomId)) {
    return { ok: false, message: 'The room id in this link is not valid (expected 22 letters, digits, "-" or "_"). The link may be mistyped or cut off.' }
  }
  const secret = new URLSearchParams(q < 0 ? '' : fragment.slice(q + 1)).get('k')
  if (!secret) return { ok: false, message: 'The link has no room key ("k=..."). Without it you cannot join; ask for the full link.' }
  if (secret.length !== 43 || !B64URL.test(secret)) return { ok: false, message: 'The room key ("k=...") in the link is damaged (expected 43 characters). The link may be cut off.' }
  return { ok: true, roomId }
}
