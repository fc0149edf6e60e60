import { describe, expect, it } from 'vitest'
import { generateIdentity, randomBytes, toBase64url } from '../../../src/identity/index.ts'
import { createLinkGrant, deriveRoomId, encodePass } from '../../../src/room/index.ts'
import { formatInvite, parseInvite } from '../../../src/invite/index.ts'

const T = 1_700_000_000_000

async function setup() {
  const owner = await generateIdentity()
  const roomId = deriveRoomId(owner.publicKey, randomBytes(16))
  const secret = toBase64url(randomBytes(32))
  const grant = await createLinkGrant(owner, { roomId, auth: roomId, role: 'speaker', issuedAt: T, expiresAt: T + 1000, singleUse: true })
  return { owner, roomId, secret, grant }
}

describe('invite links', () => {
  it('round-trips with and without a grant; secrets stay in the fragment', async () => {
    const { roomId, secret, grant } = await setup()
    const plain = formatInvite({ origin: 'https://stoop.example/', roomId, secret })
    expect(plain).toBe(`https://stoop.example/#/r/${roomId}?k=${secret}`)
    const p = parseInvite(plain, T)
    expect(p).toMatchObject({ ok: true, invite: { roomId, secret, origin: 'https://stoop.example' } })
    const withGrant = formatInvite({ origin: 'https://stoop.example', roomId, secret, grant })
    const url = new URL(withGrant)
    expect(url.search).toBe('')
    expect(url.hash).toContain(secret)
    const q = parseInvite(url, T + 10)
    expect(q.ok).toBe(true)
    if (q.ok) {
      expect(q.invite.grant?.role).toBe('speaker')
      expect(q.invite.grant?.bytes).toEqual(grant.grant)
      expect(q.invite.pass).toEqual(grant)
      expect(q.invite.secretBytes).toHaveLength(32)
    }
    // A bare fragment works as well (pasted without the host).
    expect(parseInvite(`  #/r/${roomId}?k=${secret} `, T).ok).toBe(true)
  })

  it('explains what is wrong', async () => {
    const { roomId, secret, grant } = await setup()
    const base = `https://h.example/#/r/${roomId}`
    const cases: Array<[string, string]> = [
      ['', 'not-a-link'],
      ['hello there', 'not-a-link'],
      ['https://h.example/r/x', 'not-a-link'],
      ['https://h.example/#/settings', 'not-a-link'],
      ['https://h.example/#/r/', 'missing-room'],
      ['https://h.example/#/r/abc?k=' + secret, 'bad-room-id'],
      [base, 'missing-secret'],
      [`${base}?k=`, 'missing-secret'],
      [`${base}?k=${secret.slice(0, 20)}`, 'bad-secret'],
      [`${base}?k=${secret}&g=${toBase64url(encodePass(grant)).slice(0, 40)}`, 'bad-grant'],
      [`${base}?k=${secret}&g=!!!`, 'bad-grant'],
      [`${base}?k=${secret}&g=${toBase64url(encodePass(grant))}`, 'expired'],
    ]
    for (const [input, code] of cases) {
      const r = parseInvite(input, T + 5000)
      expect(r, input).toMatchObject({ ok: false, code })
      if (!r.ok) expect(r.message.length).toBeGreaterThan(20)
    }
    const other = deriveRoomId(randomBytes(32), randomBytes(16))
    expect(parseInvite(`https://h.example/#/r/${other}?k=${secret}&g=${toBase64url(encodePass(grant))}`, T)).toMatchObject({ ok: false, code: 'bad-grant' })
  })

  it('never throws on truncations of a valid link', async () => {
    const { roomId, secret, grant } = await setup()
    const link = formatInvite({ origin: 'https://h.example', roomId, secret, grant })
    for (let i = 0; i <= link.length; i++) {
      const r = parseInvite(link.slice(0, i), T)
      expect(typeof r.ok).toBe('boolean')
    }
    expect(parseInvite(link, T).ok).toBe(true)
  })

  it('formatInvite refuses invalid ids and secrets', () => {
    expect(() => formatInvite({ origin: 'https://h', roomId: 'x', secret: 'y' })).toThrow(RangeError)
  })
})
