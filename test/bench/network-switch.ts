/**
 * `npm run bench -- network-switch` (root, network namespaces: test/integration/netns/lab.ts):
 * a listener behind NAT A hears a speaker behind NAT B, on the mesh and then on the relay
 * (mesh size 1), and switches networks SWITCHES times (BENCH_SWITCHES, default 10) between its
 * two links to router A (test/integration/netns/uplink.ts), every SWITCH_EVERY_MS. Per switch:
 * how long until it noticed (`network-switch` event), the longest silence it heard around the
 * switch and when the speaker was heard again after it (`back`: ms from the switch; its
 * recording, in 40 ms blocks, a block heard when it holds the tone above -30 dBFS). Cases report
 * median and p95 over the switches. When packets stop, libwebrtc's concealment carries a steady
 * tone on, fading, for a moment: silence can read shorter than the time to notice the switch.
 *
 * The recording's time is placed on the wall clock by the listener's `first-audio` event (its
 * first frame above -50 dBFS, the same frame the first tone block holds).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity } from '../../src/identity/index.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { ADDR, createLab, labUnavailable, type Lab } from '../integration/netns/lab.ts'
import { relayReady, startLabPeer, startLabRelay, type LabProc } from '../integration/netns/procs.ts'
import { addSecondLink, FIRST, firstToneMs, longestGap, SECOND, switchNetwork, toneBlocks } from '../integration/netns/uplink.ts'
import { environment, summarize, type BenchCase, type BenchReport } from './stats.ts'

const SWITCHES = Number(process.env.BENCH_SWITCHES ?? 10)
const SWITCH_EVERY_MS = 8000

interface Measured {
  noticedMs: number[]
  silenceMs: number[]
  backMs: number[]
}

async function switches(lab: Lab, dir: string, path: 'mesh' | 'relay', startOn: 'first' | 'second'): Promise<Measured> {
  const meshSize = path === 'mesh' ? 8 : 1
  const links = await createRoomLinks(await generateIdentity(), { title: `Switching on the ${path}`, topic: '', origin: `http://${ADDR.relay}:8787` })
  const wav = join(dir, `${path}.wav`)
  const speaker = startLabPeer(lab, 'homeB', { link: links.moderator, name: 'Speaker', speak: 440, meshSize })
  const listener = startLabPeer(lab, 'homeA', { link: links.listener, name: 'Listener', record: wav, meshSize })
  const peers: LabProc[] = [speaker, listener]
  try {
    await speaker.next((e) => e.event === 'joined', 120_000)
    const first = await listener.next((e) => e.event === 'first-audio', 120_000)
    await new Promise((r) => setTimeout(r, 2000))
    const at: number[] = []
    let on = startOn === 'first' ? FIRST : SECOND
    for (let i = 0; i < SWITCHES; i++) {
      const to = on === FIRST ? SECOND : FIRST
      at.push(Date.now())
      await switchNetwork(lab, on, to)
      on = to
      await new Promise((r) => setTimeout(r, SWITCH_EVERY_MS))
    }
    await Promise.all(peers.map((p) => p.stop()))
    const blocks = await toneBlocks(wav, 440)
    // Recording offset of wall time t: the first tone block is the first-audio event's moment.
    const offset = (t: number): number => firstToneMs(blocks) + (t - first.t!)
    const noticed = listener.events.filter((e) => e.event === 'network-switch').map((e) => e.t!)
    // From a second before the switch: the offset is good to a few hundred ms (first-audio is the
    // first frame above -50 dBFS, the first tone block the first above -30), and a window that
    // starts late would cut the silence short. The previous switch's silence is long over by then.
    const gaps = at.map((t) => longestGap(blocks, offset(t - 1000), offset(t + SWITCH_EVERY_MS - 500)))
    return {
      noticedMs: at.map((t) => (noticed.find((n) => n >= t) ?? NaN) - t),
      silenceMs: gaps.map((g) => g.ms),
      backMs: gaps.map((g, i) => g.endMs - offset(at[i]!)),
    }
  } finally {
    await Promise.all(peers.map((p) => p.stop()))
  }
}

function cases(path: string, m: Measured): BenchCase[] {
  return [
    { name: `${path}/noticed`, unit: 'ms', ...summarize(m.noticedMs), values: m.noticedMs },
    { name: `${path}/silence`, unit: 'ms', ...summarize(m.silenceMs), values: m.silenceMs },
    { name: `${path}/back`, unit: 'ms', ...summarize(m.backMs), values: m.backMs },
  ]
}

export async function run(): Promise<BenchReport> {
  const skip = await labUnavailable()
  if (skip) throw new Error(`network-switch bench: ${skip}`)
  const dir = await mkdtemp(join(tmpdir(), 'stoop-bench-switch-'))
  const lab = await createLab({ A: 'cone', B: 'cone' })
  let relay: LabProc | null = null
  try {
    await addSecondLink(lab)
    relay = startLabRelay(lab)
    await relayReady(lab)
    const mesh = await switches(lab, dir, 'mesh', 'first')
    // An even number of switches leaves home A on its first link again.
    const onRelay = await switches(lab, dir, 'relay', SWITCHES % 2 === 0 ? 'first' : 'second')
    return { name: 'network-switch', environment: environment(), switches: SWITCHES, switchEveryMs: SWITCH_EVERY_MS, cases: [...cases('mesh', mesh), ...cases('relay', onRelay)] }
  } finally {
    await relay?.stop()
    await lab.destroy()
    await rm(dir, { recursive: true, force: true })
  }
}
