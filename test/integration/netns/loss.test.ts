/**
 * Random packet loss on a listener's link (nftables `numgen random mod 100 < 10 drop` on
 * everything arriving at the listener's home, lab.ts): over a mesh across two NATs, the
 * speaker's 440 Hz tone is still detected in every second of a 20 s recording. Opus
 * in-band FEC (useinbandfec=1, src/net/opus.ts) and the jitter buffer's concealment carry it;
 * the test checks FEC was negotiated and reports loss, FEC packets and concealment.
 */
import { expect, it } from 'vitest'
import type { PeerStats } from '../../../src/net/peer-stats.ts'
import { describeLab, useScene } from './scene.ts'
import { toneBySecond } from './tones.ts'

const LOSS = Number(process.env.STOOP_LOSS_PERCENT ?? 10)
const SECONDS = 20

describeLab('audio under packet loss', () => {
  const scene = useScene({ nat: { A: 'cone', B: 'cone' }, tmp: 'stoop-loss-' })

  it(`at ${LOSS}% random loss on the listener's link the tone is heard in every second of ${SECONDS} s`, async () => {
    const links = await scene.room('Lossy')
    scene.peer('homeA', { link: links.moderator, name: 'Speaker', speak: 440 })
    const listener = scene.peer('homeB', { link: links.listener, name: 'Listener', record: scene.file('heard.wav') })
    await listener.next((e) => e.event === 'track', 90_000)
    await listener.next((e) => e.event === 'audio-level', 30_000)
    await scene.lab.setLoss('homeB', LOSS)
    const lossFrom = Date.now()
    await new Promise((r) => setTimeout(r, (SECONDS + 1.5) * 1000))
    await scene.lab.setLoss('homeB', 0)
    await listener.stop()
    const seconds = await toneBySecond(scene.file('heard.wav'), 440, SECONDS + 2)
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
