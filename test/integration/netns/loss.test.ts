/**
 * Random packet loss on a listener's link (nftables `numgen random mod 100 < 10 drop` on
 * everything arriving at the listener's home, lab.ts): over a mesh across two NATs, the
 * speaker's 440 Hz tone is still detected in every second of a 20 s recording. Opus
 * in-band FEC (useinbandfec=1, src/net/opus.ts) and the jitter buffer's concealment carry it;
 * the test checks FEC was negotiated and reports loss, FEC packets and concealment.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateIdentity } from '../../../src/identity/index.ts'
import { createRoomLinks } from '../../../src/cli/room-create.ts'
import type { PeerStats } from '../../../src/net/peer-stats.ts'
import { ADDR, createLab, labUnavailable, type Lab } from './lab.ts'
import { relayReady, startLabPeer, startLabRelay, type LabProc } from './procs.ts'
import { toneBySecond } from './tones.ts'

const skip = await labUnavailable()
const LOSS = Number(process.env.STOOP_LOSS_PERCENT ?? 10)
const SECONDS = 20

describe.skipIf(skip !== null)(`audio under packet loss${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let lab: Lab
  let relay: LabProc
  let dir: string
  const peers: LabProc[] = []
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stoop-loss-'))
    lab = await createLab({ A: 'cone', B: 'cone' })
    relay = startLabRelay(lab)
    await relayReady(lab)
  }, 60_000)
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.stop()))
    await relay?.stop()
    await lab?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  it(`at ${LOSS}% random loss on the listener's link the tone is heard in every second of ${SECONDS} s`, async () => {
    const links = await createRoomLinks(await generateIdentity(), { title: 'Lossy', topic: '', origin: `http://${ADDR.relay}:8787` })
    const speaker = startLabPeer(lab, 'homeA', { link: links.moderator, name: 'Speaker', speak: 440 })
    const listener = startLabPeer(lab, 'homeB', { link: links.listener, name: 'Listener', record: join(dir, 'heard.wav') })
    peers.push(speaker, listener)
    await listener.next((e) => e.event === 'track', 90_000)
    await listener.next((e) => e.event === 'audio-level', 30_000)
    await lab.setLoss('homeB', LOSS)
    const lossFrom = Date.now()
    await new Promise((r) => setTimeout(r, (SECONDS + 1.5) * 1000))
    await lab.setLoss('homeB', 0)
    await listener.stop()
    const seconds = await toneBySecond(join(dir, 'heard.wav'), 440, SECONDS + 2)
    // The recording ends with the loss window (and at most a second or two before it).
    const lossy = seconds.slice(-SECONDS)
    const stats = listener.events.filter((e) => e.event === 'stats' && e.t! >= lossFrom).map((e) => Object.values(e.peers as Record<string, PeerStats>)[0]!)
    const first = stats[0]?.inbound[0]
    const last = stats.at(-1)?.inbound[0]
    const report = {
      loss: LOSS,
      heardSeconds: `${lossy.filter((s) => s.heard).length}/${lossy.length}`,
      minRatio: Math.min(...lossy.map((s) => s.ratio)),
      ratios: lossy.map((s) => s.ratio),
      measuredLoss: first && last ? Number(((last.packetsLost - first.packetsLost) / (last.packetsLost - first.packetsLost + last.packetsReceived - first.packetsReceived)).toFixed(3)) : null,
      fecPackets: first && last ? last.fecPacketsReceived - first.fecPacketsReceived : null,
      concealedShare: first && last ? Number(((last.concealedSamples - first.concealedSamples) / (48_000 * ((stats.length - 1) || 1))).toFixed(3)) : null,
      fmtp: last?.sdpFmtpLine ?? null,
    }
    console.info('loss report', JSON.stringify(report))
    expect(lossy).toHaveLength(SECONDS)
    expect(lossy.filter((s) => !s.heard)).toEqual([])
    if (report.fmtp !== null) expect(report.fmtp).toMatch(/useinbandfec=1/)
    if (report.measuredLoss !== null) expect(report.measuredLoss).toBeGreaterThan(LOSS / 200) // the loss was real
  }, 150_000)
})
