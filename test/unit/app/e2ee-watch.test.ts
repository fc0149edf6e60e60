/**
 * A receiver Chromium stopped passing through its transform is silenced, and only that one: the
 * worker's counts may lag a second, so one quiet check never silences a stream.
 */
import { describe, expect, test } from 'vitest'
import { BypassWatch, bypassedBetween } from '../../../src/app/e2ee-watch.ts'

function fakeReceiver() {
  const r = { packets: 0, getStats: async () => new Map([['in', { type: 'inbound-rtp', packetsReceived: r.packets }]]) }
  return r
}
const track = () => ({ enabled: true, readyState: 'live' as MediaStreamTrackState })

describe('BypassWatch', () => {
  test('packets with no frames across two checks in a row silence the track; frames coming back enable it', async () => {
    const frames = new Map<number, number>()
    const watch = new BypassWatch((id) => frames.get(id) ?? 0)
    const rx = fakeReceiver()
    const t = track()
    watch.watch(1, rx as unknown as RTCRtpReceiver, t as unknown as MediaStreamTrack)
    for (let i = 0; i < 2; i++) {
      rx.packets += 100
      await watch.check()
    }
    // One interval without frames is not enough (the worker's count may be late).
    rx.packets += 100
    frames.set(1, 5)
    await watch.check()
    expect(t.enabled).toBe(true)
    for (let i = 0; i < 2; i++) {
      rx.packets += 100
      await watch.check()
    }
    expect(t.enabled).toBe(false)
    expect(watch.silenced).toBe(1)
    rx.packets += 100
    await watch.check()
    expect(watch.silenced).toBe(1)
    frames.set(1, 50)
    rx.packets += 100
    await watch.check()
    expect(t.enabled).toBe(true)
  })

  test('a quiet sender (no packets) and a healthy stream are never silenced; ended tracks are forgotten', async () => {
    const frames = new Map<number, number>()
    const watch = new BypassWatch((id) => frames.get(id) ?? 0)
    const quiet = fakeReceiver()
    const healthy = fakeReceiver()
    const [tq, th] = [track(), track()]
    watch.watch(1, quiet as unknown as RTCRtpReceiver, tq as unknown as MediaStreamTrack)
    watch.watch(2, healthy as unknown as RTCRtpReceiver, th as unknown as MediaStreamTrack)
    for (let i = 1; i <= 5; i++) {
      quiet.packets += 3
      healthy.packets += 100
      frames.set(2, i * 100)
      await watch.check()
    }
    expect([tq.enabled, th.enabled, watch.silenced]).toEqual([true, true, 0])
    tq.readyState = 'ended'
    await watch.check()
    expect(bypassedBetween({ packets: 0, frames: 0 }, { packets: 24, frames: 0 })).toBe(false)
    expect(bypassedBetween({ packets: 0, frames: 0 }, { packets: 25, frames: 0 })).toBe(true)
  })
})
