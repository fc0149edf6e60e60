/**
 * Two headless peers behind two symmetric NATs (`masquerade random`, lab.ts) in a room well
 * under mesh size: their mesh link can never come up (each NAT maps every destination to a new
 * port, so neither side's STUN-learnt address is the one the other's checks would need), and
 * before pair routing they stayed silent. Now each side, PAIR_RELAY_MS after planning the link
 * that does not come up, routes that pair through the relay (src/participant/pair-route.ts):
 * it publishes there and subscribes there, the room stays a mesh, and each hears the other's
 * tone. Their --json says so: `pair-route {peer, via: 'relay'}`.
 */
import { expect, it } from 'vitest'
import { PAIR_RELAY_MS } from '../../../src/participant/pair-route.ts'
import type { LabProc } from './procs.ts'
import { describeLab, loudFrom, useScene } from './scene.ts'
import { toneBySecond } from './tones.ts'
import { waitFor } from '../../helpers/wait.ts'

/** From both peers joined to each hearing the other: the pair deadline, then a relay handshake and a settled track; slack for a loaded 2-core machine. */
const HEARD_WITHIN_MS = PAIR_RELAY_MS + 10_000

describeLab('a pair behind two symmetric NATs', () => {
  const scene = useScene({ nat: { A: 'symmetric', B: 'symmetric' }, tmp: 'stoop-sym-' })

  it('is carried by the relay automatically: each hears the other, the room stays a mesh', async () => {
    const links = await scene.room('Two symmetric NATs')
    // Mesh size 8 (the default): two peers are a mesh room, nothing but the pair rule uses the relay.
    const a = scene.peer('homeA', { link: links.moderator, name: 'A', speak: 440, record: scene.file('a.wav') })
    const b = scene.peer('homeB', { link: links.speaker, name: 'B', speak: 660, record: scene.file('b.wav') })
    const [joinedA, joinedB] = await Promise.all([a.next((e) => e.event === 'joined', 90_000), b.next((e) => e.event === 'joined', 90_000)])
    const idA = String(joinedA.id)
    const idB = String(joinedB.id)
    const [heardByA, heardByB] = await Promise.all([a.next(loudFrom(idB), HEARD_WITHIN_MS + 20_000), b.next(loudFrom(idA), HEARD_WITHIN_MS + 20_000)])
    const joined = Math.max(joinedA.t!, joinedB.t!)
    const pairA = a.events.find((e) => e.event === 'pair-route')
    const pairB = b.events.find((e) => e.event === 'pair-route')
    const heardMs = Math.max(heardByA.t!, heardByB.t!) - joined
    console.info(
      `symmetric NATs: pair routed through the relay ${pairA ? pairA.t! - joined : '-'} / ${pairB ? pairB.t! - joined : '-'} ms after both joined; ` +
        `each hears the other ${heardByA.t! - joined} / ${heardByB.t! - joined} ms after (audio-level events, 1 s apart)`,
    )
    expect(pairA).toMatchObject({ peer: idB, via: 'relay' })
    expect(pairB).toMatchObject({ peer: idA, via: 'relay' })
    expect(heardMs).toBeLessThan(HEARD_WITHIN_MS)
    // Four loud seconds each, then stop (closing the recordings): it was the other's tone.
    const count = (p: LabProc, from: string) => p.events.filter(loudFrom(from)).length
    await waitFor('four loud seconds at both peers', () => count(a, idB) >= 4 && count(b, idA) >= 4, 30_000, 200)
    await scene.stopPeers()
    // The mesh never came up and the room never left mesh mode: only the pair rule carried the audio.
    for (const p of [a, b]) {
      expect(p.events.filter((e) => e.event === 'peer-connected')).toEqual([])
      expect(new Set(p.events.filter((e) => e.event === 'plan').map((e) => e.mode))).toEqual(new Set(['mesh']))
    }
    const tonesA = await toneBySecond(scene.file('a.wav'), 660, 3)
    const tonesB = await toneBySecond(scene.file('b.wav'), 440, 3)
    console.info('A hears 660 Hz, ratio by second:', tonesA.map((s) => s.ratio), '; B hears 440 Hz:', tonesB.map((s) => s.ratio))
    expect(tonesA.every((s) => s.heard)).toBe(true)
    expect(tonesB.every((s) => s.heard)).toBe(true)
  }, 180_000)
})
