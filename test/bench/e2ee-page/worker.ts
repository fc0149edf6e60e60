/**
 * The e2ee bench's worker: SframeKeyring seal and open in a dedicated worker of Chromium, where
 * the app's transform runs them (src/media/sframe-worker.ts). Calls are timed in batches (one
 * timer reading per `batch` frames) so the figures do not hang on the timer's resolution.
 */
import { counterStart, SframeKeyring, SframeStream } from '../../../src/media/sframe.ts'
import { generateIdentity, keyId } from '../../../src/identity/index.ts'

export type Request =
  | { op: 'init'; packets: number[][] }
  | { op: 'seal' | 'open'; batch: number; rounds: number }
  | { op: 'paced'; frames: number; periodMs: number }

export interface Reply {
  /** µs per frame: one value per batch (seal, open) or per frame (paced: seal + open). */
  us: number[]
  isolated: boolean
}

let ana: SframeKeyring
let bea: SframeKeyring
let fromAna: SframeStream
let packets: Uint8Array[] = []
let sealed: Uint8Array[] = []

async function init(raw: number[][]): Promise<void> {
  const [a, b] = await Promise.all([generateIdentity(), generateIdentity()])
  const secret = crypto.getRandomValues(new Uint8Array(32))
  ana = new SframeKeyring({ self: a.publicKey, ctrStart: counterStart(Date.now()) })
  bea = new SframeKeyring({ self: b.publicKey, ctrStart: counterStart(Date.now()) })
  ana.addEpoch(0, secret)
  bea.addEpoch(0, secret)
  fromAna = new SframeStream(keyId(a.publicKey))
  packets = raw.map((p) => Uint8Array.from(p))
  for (const p of packets.slice(0, 200)) await bea.decrypt(fromAna, (await ana.encrypt(p))!)
}

async function batches(op: 'seal' | 'open', batch: number, rounds: number): Promise<number[]> {
  const us: number[] = []
  if (op === 'seal') sealed = []
  let i = 0
  for (let r = 0; r < rounds; r++) {
    const t = performance.now()
    for (let k = 0; k < batch; k++, i++) {
      if (op === 'seal') sealed.push((await ana.encrypt(packets[i % packets.length]!))!)
      else if (!(await bea.decrypt(fromAna, sealed[i % sealed.length]!))) throw new Error('a sealed frame did not open')
    }
    us.push(((performance.now() - t) * 1000) / batch)
  }
  return us
}

async function paced(frames: number, periodMs: number): Promise<number[]> {
  const us: number[] = []
  for (let i = 0; i < frames; i++) {
    await new Promise((r) => setTimeout(r, periodMs))
    const t = performance.now()
    await bea.decrypt(fromAna, (await ana.encrypt(packets[i % packets.length]!))!)
    us.push((performance.now() - t) * 1000)
  }
  return us
}

async function handle(req: Request): Promise<number[]> {
  if (req.op === 'init') {
    await init(req.packets)
    return []
  }
  if (req.op === 'paced') return paced(req.frames, req.periodMs)
  return batches(req.op, req.batch, req.rounds)
}

self.onmessage = (e: MessageEvent<Request>) => {
  void handle(e.data).then((us) => self.postMessage({ us, isolated: self.crossOriginIsolated } satisfies Reply))
}
