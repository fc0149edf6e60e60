/**
 * The forwarder's SRTP (relay/sfu/srtp.ts: keys set once, AES-ECB keystream, GHASH in
 * JavaScript, HMAC from the padded key blocks) makes the same bytes as werift's own
 * SrtpSession for both profiles werift negotiates, across sequence number wraps
 * (rollover counter 0 -> 1), gaps and swapped packets, payload lengths on and off the
 * 16-byte block size, two interleaved SSRCs, with and without the sdes:mid header extension. werift's receiver then decrypts it.
 */
import { randomBytes } from 'node:crypto'
import { ProtectionProfileAeadAes128Gcm, ProtectionProfileAes128CmHmacSha1_80, RtpHeader, SrtpSession } from 'werift'
import { describe, expect, it } from 'vitest'
import { SrtpEncryptor, type SrtpProfile } from '../../relay/sfu/srtp.ts'

interface Context {
  srtpSessionKey: Buffer
  srtpSessionSalt: Buffer
  srtpSessionAuthTag: Buffer
  getSrtpSsrcState(ssrc: number): { rolloverCounter: number }
}

const PROFILES: Array<[SrtpProfile, number]> = [
  ['aead-aes-128-gcm', ProtectionProfileAeadAes128Gcm],
  ['aes-cm-hmac-sha1-80', ProtectionProfileAes128CmHmacSha1_80],
]

describe('SrtpEncryptor', () => {
  for (const [profile, weriftProfile] of PROFILES) {
    it(`seals ${profile} exactly as werift does`, () => {
      const a = { key: randomBytes(16), salt: randomBytes(weriftProfile === ProtectionProfileAeadAes128Gcm ? 12 : 14) }
      const b = { key: randomBytes(16), salt: randomBytes(a.salt.length) }
      const keys = { localMasterKey: a.key, localMasterSalt: a.salt, remoteMasterKey: b.key, remoteMasterSalt: b.salt }
      const sender = new SrtpSession({ keys, profile: weriftProfile } as never)
      const receiver = new SrtpSession({
        keys: { localMasterKey: b.key, localMasterSalt: b.salt, remoteMasterKey: a.key, remoteMasterSalt: a.salt },
        profile: weriftProfile,
      } as never)
      const ctx = (sender as unknown as { localContext: Context }).localContext
      const enc = new SrtpEncryptor({ profile, key: ctx.srtpSessionKey, salt: ctx.srtpSessionSalt, authKey: ctx.srtpSessionAuthTag })
      const rocs = new Set<number>()
      let mismatches = 0
      for (let k = 0; k < 300; k++) {
        // Two streams on one connection, interleaved (each has its own counters and rollover).
        const ssrc = k % 3 ? 0x89abcdef : 0x1234
        // Mostly one after another; now and then a gap or two packets swapped.
        const seq = (65_400 + k + 5 * Math.floor(k / 40) + (k % 23 === 1 ? 1 : k % 23 === 2 ? -1 : 0)) & 0xffff
        const length = k < 64 ? k + 1 : 1 + Math.floor(Math.random() * 1200)
        const payload = randomBytes(length)
        const header = new RtpHeader({
          payloadType: 111,
          sequenceNumber: seq,
          timestamp: (0xfffff000 + k * 960) >>> 0,
          ssrc,
          marker: k % 5 === 0,
          extensions: k % 2 ? [{ id: 1 + (k % 14), payload: Buffer.from(String(k % 3)) }] : [],
        })
        const head = header.serialize(header.serializeSize)
        const reference = sender.encrypt(payload, header)
        const roc = ctx.getSrtpSsrcState(ssrc).rolloverCounter
        rocs.add(roc)
        const out = Buffer.alloc(head.length + length + enc.overhead)
        head.copy(out)
        enc.seal(out, head.length, payload, ssrc, seq, roc)
        if (!out.equals(reference)) mismatches++
        const plain = receiver.decrypt(out)
        expect(Buffer.compare(plain.subarray(head.length), payload)).toBe(0)
      }
      expect(mismatches).toBe(0)
      expect([...rocs].sort()).toEqual([0, 1])
    })
  }

  it('refuses keys of the wrong size', () => {
    expect(() => new SrtpEncryptor({ profile: 'aead-aes-128-gcm', key: randomBytes(15), salt: randomBytes(12) })).toThrow(RangeError)
    expect(() => new SrtpEncryptor({ profile: 'aes-cm-hmac-sha1-80', key: randomBytes(16), salt: randomBytes(14) })).toThrow(RangeError)
  })
})
