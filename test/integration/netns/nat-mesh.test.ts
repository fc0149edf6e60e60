/**
 * Two headless peers on two home networks, each behind its own NAT router (network
 * namespaces, lab.ts), meet in a mesh room through the relay's signalling and connect
 * directly, using only the relay's STUN (the client's default: no --ice given). Each
 * speaks a tone and each hears the other's. Without STUN the same pair cannot connect at
 * all: their host addresses are private and unrouted, so the check is not vacuous.
 */
import { expect, it } from 'vitest'
import { toneBySecond } from './tones.ts'
import { describeLab, loudFrom, useScene } from './scene.ts'
import type { Event, LabProc } from './procs.ts'
import { waitFor } from '../../helpers/wait.ts'

describeLab('mesh across two NATs', () => {
  const scene = useScene({ nat: { A: 'cone', B: 'cone' }, tmp: 'stoop-nat-' })

  const connected = (ev: Event) => ev.event === 'peer-connected'

  it('two peers behind two NATs connect with the relay’s STUN and hear each other’s tones', async () => {
    const links = await scene.room('Across NATs')
    const a = scene.peer('homeA', { link: links.moderator, name: 'A', speak: 440, record: scene.file('a.wav') })
    const b = scene.peer('homeB', { link: links.speaker, name: 'B', speak: 660, record: scene.file('b.wav') })
    const [joinedA, joinedB] = await Promise.all([a.next((e) => e.event === 'joined', 90_000), b.next((e) => e.event === 'joined', 90_000)])
    const [upA, upB] = await Promise.all([a.next(connected, 45_000), b.next(connected, 45_000)])
    const up = Math.max(upA.t!, upB.t!)
    console.info(`NAT to NAT: connected ${up - Math.max(a.startedAt, b.startedAt)} ms after both processes started, ${up - Math.max(joinedA.t!, joinedB.t!)} ms after both had joined`)
    await Promise.all([a.next((e) => e.event === 'track', 30_000), b.next((e) => e.event === 'track', 30_000)])
    expect(a.events.filter((e) => e.event === 'route').map((e) => e.via)).not.toContain('relay')
    // Both on stage and hearing: four loud seconds each, then stop so the recordings close.
    const loud = (p: LabProc) => p.events.filter(loudFrom()).length
    await waitFor('four loud seconds at both peers', () => loud(a) >= 4 && loud(b) >= 4, 30_000, 200)
    await scene.stopPeers()
    const heardByA = await toneBySecond(scene.file('a.wav'), 660, 3)
    const heardByB = await toneBySecond(scene.file('b.wav'), 440, 3)
    console.info('A hears 660 Hz, ratio by second:', heardByA.map((s) => s.ratio), '; B hears 440 Hz:', heardByB.map((s) => s.ratio))
    expect(heardByA.every((s) => s.heard)).toBe(true)
    expect(heardByB.every((s) => s.heard)).toBe(true)
  }, 120_000)

  it('without any STUN server the same pair never connects (host addresses are private)', async () => {
    const links = await scene.room('No STUN')
    const a = scene.peer('homeA', { link: links.moderator, name: 'A', ice: ['none'] })
    const b = scene.peer('homeB', { link: links.listener, name: 'B', ice: ['none'] })
    await Promise.all([a.next((e) => e.event === 'joined', 90_000), b.next((e) => e.event === 'joined', 90_000)])
    // Signalling works (both joined through the relay); give ICE far longer than it took with STUN.
    await new Promise((r) => setTimeout(r, 12_000))
    expect([...a.events, ...b.events].filter(connected)).toEqual([])
  }, 90_000)
})
