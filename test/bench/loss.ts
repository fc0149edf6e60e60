/**
 * `npm run bench -- loss` (root, network namespaces: test/integration/netns/lab.ts): what a
 * listener hears under random packet loss, on the mesh and through the relay. A speaker behind
 * NAT A sends a 440 Hz tone; the listener behind NAT B drops LOSSES% of everything arriving at
 * its home (nftables `numgen random`, lab.setLoss) for SECONDS each. Per step, from the
 * listener's `stats` events (the mesh peer's, or `relay` for the relay's connection): the loss
 * measured, concealment (the share of the output samples libwebrtc concealed:
 * concealedSamples over 48,000 a second) and FEC packets counted. Through the relay the loss
 * is on the relay-to-listener leg only, as on the mesh it is on the speaker-to-listener one.
 */
import { generateIdentity } from '../../src/identity/index.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import type { PeerStats } from '../../src/net/peer-stats.ts'
import { ADDR, createLab, labUnavailable, type Lab } from '../integration/netns/lab.ts'
import { relayReady, startLabPeer, startLabRelay, type Event, type LabProc } from '../integration/netns/procs.ts'
import { environment, type BenchCase, type BenchReport } from './stats.ts'

const LOSSES = (process.env.BENCH_LOSSES ?? '0,5,10,20').split(',').map(Number)
const SECONDS = Number(process.env.BENCH_LOSS_SECONDS ?? 12)
const SAMPLE_RATE = 48_000

/** The inbound audio numbers of one `stats` event, for `path`. */
function inbound(ev: Event, path: 'mesh' | 'relay'): { t: number; s: PeerStats['inbound'][number] } | null {
  const stats = path === 'relay' ? (ev.relay as PeerStats | undefined) : Object.values((ev.peers as Record<string, PeerStats>) ?? {})[0]
  const s = stats?.inbound[0]
  return s ? { t: ev.t!, s } : null
}

async function measure(lab: Lab, path: 'mesh' | 'relay'): Promise<BenchCase[]> {
  const meshSize = path === 'mesh' ? 8 : 1
  const links = await createRoomLinks(await generateIdentity(), { title: `Loss on the ${path}`, topic: '', origin: `http://${ADDR.relay}:8787` })
  const speaker = startLabPeer(lab, 'homeA', { link: links.moderator, name: 'Speaker', speak: 440, meshSize })
  const listener = startLabPeer(lab, 'homeB', { link: links.listener, name: 'Listener', meshSize })
  const out: BenchCase[] = []
  try {
    await listener.next((e) => e.event === 'first-audio', 120_000)
    await listener.next((e) => e.event === 'stats' && inbound(e, path) !== null, 30_000)
    await new Promise((r) => setTimeout(r, 2000))
    for (const loss of LOSSES) {
      await lab.setLoss('homeB', loss)
      const from = Date.now() + 1500 // the first stats event after the loss began covers a clean moment too
      await new Promise((r) => setTimeout(r, SECONDS * 1000))
      await lab.setLoss('homeB', 0)
      const window = listener.events.filter((e) => e.event === 'stats' && e.t! >= from).map((e) => inbound(e, path)).filter((x) => x !== null)
      const [a, b] = [window[0], window.at(-1)]
      if (!a || !b || b.t <= a.t) throw new Error(`loss ${loss}% on the ${path}: no stats over the window`)
      const lost = b.s.packetsLost - a.s.packetsLost
      const got = b.s.packetsReceived - a.s.packetsReceived
      const concealed = (b.s.concealedSamples - a.s.concealedSamples) / (((b.t - a.t) / 1000) * SAMPLE_RATE)
      const share = Number(concealed.toFixed(4))
      out.push({
        name: `${path}/${loss}%`,
        unit: 'concealed share',
        samples: window.length,
        median: share,
        p95: share,
        min: share,
        max: share,
        mean: share,
        extra: { lossSet: loss, lossMeasured: Number((lost / Math.max(1, lost + got)).toFixed(4)), fecPackets: b.s.fecPacketsReceived - a.s.fecPacketsReceived, seconds: Math.round((b.t - a.t) / 100) / 10 },
      })
      await new Promise((r) => setTimeout(r, 2000)) // the jitter buffer settles before the next step
    }
    return out
  } finally {
    await Promise.all([speaker, listener].map((p) => p.stop()))
  }
}

export async function run(): Promise<BenchReport> {
  const skip = await labUnavailable()
  if (skip) throw new Error(`loss bench: ${skip}`)
  const lab = await createLab({ A: 'cone', B: 'cone' })
  let relay: LabProc | null = null
  try {
    relay = startLabRelay(lab)
    await relayReady(lab)
    const cases = [...(await measure(lab, 'mesh')), ...(await measure(lab, 'relay'))]
    return { name: 'loss', environment: environment(), secondsPerStep: SECONDS, cases }
  } finally {
    await relay?.stop()
    await lab.destroy()
  }
}
