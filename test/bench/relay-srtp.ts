/**
 * Bench: the cost of protecting one forwarded packet (`npm run bench -- relay-srtp`),
 * werift's SRTP (a Node cipher, and for AES-CM an HMAC, built per packet) against
 * relay/sfu/srtp.ts (keys set once), for both profiles werift negotiates, and the
 * HMAC-SHA1 variants that were weighed for AES-CM: Node's createHmac per packet, a
 * precomputed hash state copied per packet, two one-shot `crypto.hash` calls over the
 * padded key blocks (the one srtp.ts uses) and @noble/hashes' HMAC cloned from a keyed
 * instance (@noble/ciphers is not a dependency; Node's AES is native and a JavaScript
 * AES would not beat one native call per packet).
 *
 * Packets: 80-byte payloads (Opus at 32 kbps, 20 ms) behind a 20-byte header (RTP with
 * the sdes:mid extension), as the relay bench sends. Each case times BENCH_SRTP_N
 * packets (default 50,000) in BENCH_SRTP_ROUNDS rounds (default 7); the samples are
 * microseconds per packet per round.
 */
import { createCipheriv, createHash, createHmac, hash, randomBytes } from 'node:crypto'
import { hmac } from '@noble/hashes/hmac.js'
import { sha1 } from '@noble/hashes/legacy.js'
import { ProtectionProfileAeadAes128Gcm, ProtectionProfileAes128CmHmacSha1_80, RtpHeader, SrtpSession } from 'werift'
import { SrtpEncryptor, type SrtpProfile } from '../../relay/sfu/srtp.ts'
import { benchCase, casesTable, environment, type BenchCase, type BenchReport } from './stats.ts'

const PAYLOAD = 80

interface Context {
  srtpSessionKey: Buffer
  srtpSessionSalt: Buffer
  srtpSessionAuthTag: Buffer
}

function rounds(name: string, n: number, count: number, fn: (i: number) => void): BenchCase {
  for (let i = 0; i < Math.min(n, 10_000); i++) fn(i)
  const samples: number[] = []
  for (let r = 0; r < count; r++) {
    const t = performance.now()
    for (let i = 0; i < n; i++) fn(i)
    samples.push(((performance.now() - t) * 1000) / n)
  }
  return benchCase(name, 'µs', samples)
}

export async function run(): Promise<BenchReport> {
  const n = Number(process.env.BENCH_SRTP_N ?? 50_000)
  const count = Number(process.env.BENCH_SRTP_ROUNDS ?? 7)
  const cases: BenchCase[] = []
  const payload = randomBytes(PAYLOAD)
  const profiles: Array<[SrtpProfile, number]> = [
    ['aead-aes-128-gcm', ProtectionProfileAeadAes128Gcm],
    ['aes-cm-hmac-sha1-80', ProtectionProfileAes128CmHmacSha1_80],
  ]
  for (const [profile, weriftProfile] of profiles) {
    const keys = { localMasterKey: randomBytes(16), localMasterSalt: randomBytes(14), remoteMasterKey: randomBytes(16), remoteMasterSalt: randomBytes(14) }
    const session = new SrtpSession({ keys, profile: weriftProfile } as never)
    const ctx = (session as unknown as { localContext: Context }).localContext
    const enc = new SrtpEncryptor({ profile, key: ctx.srtpSessionKey, salt: ctx.srtpSessionSalt, authKey: ctx.srtpSessionAuthTag })
    const header = new RtpHeader({ payloadType: 111, sequenceNumber: 1, timestamp: 1, ssrc: 0x1234, extensions: [{ id: 1, payload: Buffer.from('0') }] })
    const head = header.serialize(header.serializeSize)
    cases.push(
      rounds(`werift ${profile}`, n, count, (i) => {
        header.sequenceNumber = i & 0xffff
        session.encrypt(payload, header)
      }),
    )
    cases.push(
      rounds(`srtp.ts ${profile}`, n, count, (i) => {
        const out = Buffer.allocUnsafe(head.length + PAYLOAD + enc.overhead)
        head.copy(out)
        enc.seal(out, head.length, payload, 0x1234, i & 0xffff, 0)
      }),
    )
  }
  // HMAC-SHA1 over header + 80 bytes + ROC.
  const key = randomBytes(20)
  const msg = randomBytes(20 + PAYLOAD + 4)
  cases.push(rounds('hmac: createHmac per packet', n, count, () => createHmac('sha1', key).update(msg).digest()))
  const pad = (p: number) => Buffer.from(Array.from({ length: 64 }, (_, i) => (key[i] ?? 0) ^ p))
  const ipad = createHash('sha1').update(pad(0x36))
  const opad = createHash('sha1').update(pad(0x5c))
  cases.push(rounds('hmac: hash state copy', n, count, () => opad.copy().update(ipad.copy().update(msg).digest()).digest()))
  const inner = Buffer.concat([pad(0x36), msg])
  const outer = Buffer.concat([pad(0x5c), Buffer.alloc(20)])
  cases.push(
    rounds('hmac: two crypto.hash (srtp.ts)', n, count, () => {
      hash('sha1', inner, 'buffer').copy(outer, 64)
      hash('sha1', outer, 'buffer')
    }),
  )
  const noble = hmac.create(sha1, key)
  cases.push(rounds('hmac: @noble/hashes clone', n, count, () => noble.clone().update(msg).digest()))
  // AES: a keystream for 96 bytes (6 blocks) from one reused ECB cipher vs a CTR cipher per packet.
  const aesKey = randomBytes(16)
  const ecb = createCipheriv('aes-128-ecb', aesKey, null)
  ecb.setAutoPadding(false)
  const blocks = Buffer.alloc(96)
  cases.push(rounds('aes: reused ECB, 6 blocks', n, count, () => ecb.update(blocks)))
  const iv = randomBytes(16)
  cases.push(rounds('aes: createCipheriv CTR per packet', n, count, () => createCipheriv('aes-128-ctr', aesKey, iv).update(payload)))
  console.log(casesTable(cases))
  return { name: 'relay-srtp', environment: environment(), cases, payloadBytes: PAYLOAD, packetsPerRound: n }
}
