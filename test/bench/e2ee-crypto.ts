/**
 * The e2ee bench's Node crypto part: SFrame seal and open (SframeKeyring, src/media/sframe.ts, the
 * code `stoop peer --media werift` runs on every frame) on real 20 ms Opus packets of a voice-like
 * signal at 32 kbit/s, the packets a speaker sends; with Node's own AES-GCM (`nodeFrameCipher`,
 * what the headless peer uses) or WebCrypto's (the browsers' code path, run in Node).
 *
 *   back to back   every call timed (wall), and the process CPU over all of them per frame
 *                  (WebCrypto's AES-GCM runs on libuv's thread pool: process CPU counts it)
 *   paced          one frame every 20 ms, as a speaker seals and a listener opens: seal + open
 *                  of each frame, the time E2EE adds to that frame's way (thread pool woken from idle)
 */
import { counterStart, SframeKeyring, SframeStream, type FrameCipherFactory } from '../../src/media/sframe.ts'
import { generateIdentity, keyId } from '../../src/identity/index.ts'
import { loadOpus } from '../../src/node/opus-codec.ts'
import { FRAME_SIZE, SAMPLE_RATE } from '../../src/audio/tone.ts'

/** 20 ms Opus packets of a voice-like signal: a 150 Hz buzz with harmonics and noise, syllables at 4 Hz. */
export function opusPackets(count: number): Uint8Array[] {
  const enc = loadOpus().createEncoder({ bitrate: 32_000 })
  const out: Uint8Array[] = []
  let n = 0
  let seed = 1
  const noise = (): number => ((seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff) * 2 - 1
  try {
    while (out.length < count) {
      const pcm = new Int16Array(FRAME_SIZE * 2)
      for (let i = 0; i < pcm.length; i++, n++) {
        const t = n / SAMPLE_RATE
        const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t)
        let v = 0
        for (let h = 1; h <= 8; h++) v += Math.sin(2 * Math.PI * 150 * h * t) / h
        pcm[i] = Math.round((v * 0.15 + noise() * 0.03) * envelope * 32767)
      }
      const packet = enc.encode(pcm)
      if (packet.length > 2) out.push(packet.slice())
    }
  } finally {
    enc.destroy()
  }
  return out
}

export interface CryptoRun {
  /** Wall time per call, µs. */
  sealUs: number[]
  openUs: number[]
  /** Process CPU per frame over the whole run, µs. */
  sealCpuUs: number
  openCpuUs: number
  bytes: { median: number; overhead: number }
}

async function keyrings(cipher?: FrameCipherFactory): Promise<{ ana: SframeKeyring; bea: SframeKeyring; fromAna: SframeStream }> {
  const [a, b] = await Promise.all([generateIdentity(), generateIdentity()])
  const secret = crypto.getRandomValues(new Uint8Array(32))
  const ana = new SframeKeyring({ self: a.publicKey, ctrStart: counterStart(Date.now()), ...(cipher ? { cipher } : {}) })
  const bea = new SframeKeyring({ self: b.publicKey, ctrStart: counterStart(Date.now()), ...(cipher ? { cipher } : {}) })
  ana.addEpoch(0, secret)
  bea.addEpoch(0, secret)
  return { ana, bea, fromAna: new SframeStream(keyId(a.publicKey)) }
}

const cpuUs = (): number => {
  const u = process.cpuUsage()
  return u.user + u.system
}

/** Seals every packet back to back, then opens every one; each call timed. WebCrypto unless `cipher`. */
export async function backToBack(packets: readonly Uint8Array[], cipher?: FrameCipherFactory): Promise<CryptoRun> {
  const { ana, bea, fromAna } = await keyrings(cipher)
  for (const p of packets.slice(0, 200)) await bea.decrypt(fromAna, (await ana.encrypt(p))!) // warm-up: JIT, keys imported
  const sealed: Uint8Array[] = []
  const sealUs: number[] = []
  let cpu = cpuUs()
  for (const p of packets) {
    const t = performance.now()
    sealed.push((await ana.encrypt(p))!)
    sealUs.push((performance.now() - t) * 1000)
  }
  const sealCpuUs = (cpuUs() - cpu) / packets.length
  const openUs: number[] = []
  cpu = cpuUs()
  for (const s of sealed) {
    const t = performance.now()
    if (!(await bea.decrypt(fromAna, s))) throw new Error('e2ee bench: a sealed frame did not open')
    openUs.push((performance.now() - t) * 1000)
  }
  const openCpuUs = (cpuUs() - cpu) / packets.length
  const sizes = packets.map((p) => p.length).sort((x, y) => x - y)
  return { sealUs, openUs, sealCpuUs, openCpuUs, bytes: { median: sizes[sizes.length >> 1]!, overhead: sealed[0]!.length - packets[0]!.length } }
}

/** One frame every `periodMs`: seal then open; the wall time of both per frame, µs. */
export async function paced(packets: readonly Uint8Array[], cipher?: FrameCipherFactory, periodMs = 20): Promise<number[]> {
  const { ana, bea, fromAna } = await keyrings(cipher)
  await bea.decrypt(fromAna, (await ana.encrypt(packets[0]!))!)
  const out: number[] = []
  for (const p of packets) {
    await new Promise((r) => setTimeout(r, periodMs))
    const t = performance.now()
    const plain = await bea.decrypt(fromAna, (await ana.encrypt(p))!)
    out.push((performance.now() - t) * 1000)
    if (!plain) throw new Error('e2ee bench: a sealed frame did not open')
  }
  return out
}
