import { describe, expect, test } from 'vitest'
import { openText, sealedEpoch, sealedSize, sealText, type TextContext } from '../../../src/room/sealed-text.ts'

const secret = new Uint8Array(32).fill(9)
const other = new Uint8Array(32).fill(8)
const nonce = new Uint8Array(24).fill(3)
const ctx: TextContext = { roomId: 'room-1', author: 'alice', field: 'title' }

describe('sealed text', () => {
  test('opens with its epoch secret and context only', () => {
    const s = sealText(secret, 4, ctx, 'Friday jam 🎸', nonce)
    expect(openText(secret, ctx, s)).toBe('Friday jam 🎸')
    expect(sealedEpoch(s)).toBe(4)
    expect(openText(other, ctx, s)).toBeNull()
    expect(openText(secret, { ...ctx, author: 'mallory' }, s)).toBeNull()
    expect(openText(secret, { ...ctx, field: 'name' }, s)).toBeNull()
    expect(openText(secret, { ...ctx, roomId: 'room-2' }, s)).toBeNull()
  })

  test('the plaintext does not appear in the bytes, and lengths are padded', () => {
    const s = sealText(secret, 0, ctx, 'secret plans', nonce)
    expect(Buffer.from(s).includes(Buffer.from('secret plans'))).toBe(false)
    expect(sealText(secret, 0, ctx, 'a', nonce).length).toBe(sealText(secret, 0, ctx, 'a'.repeat(30), nonce).length)
    expect(s.length).toBeLessThanOrEqual(sealedSize(12))
  })

  test('an altered byte, a changed epoch number or junk never opens and never throws', () => {
    const s = sealText(secret, 1, ctx, 'hello', nonce)
    for (let i = 0; i < s.length; i++) {
      const t = s.slice()
      t[i]! ^= 1
      expect(openText(secret, ctx, t)).toBeNull()
    }
    for (const junk of [new Uint8Array(0), new Uint8Array([0xff]), new Uint8Array(100).fill(0xff), s.subarray(0, 30)]) {
      expect(openText(secret, ctx, junk)).toBeNull()
    }
    expect(sealedEpoch(new Uint8Array([0xff]))).toBeNull()
  })

  test('the empty text round-trips', () => {
    expect(openText(secret, ctx, sealText(secret, 0, ctx, '', nonce))).toBe('')
  })
})
