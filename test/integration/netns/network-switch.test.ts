/**
 * A listener's network changes mid-room, as a laptop moving from one network to another does:
 * its home gets a second link to its router (another LAN, 10.77.3.0/24), and at the switch the
 * new address comes up, the default route moves to it and the old address goes, all at once.
 * Nothing is told to the peer: it notices the change of its addresses (src/node/network-watch.ts,
 * polled each second), reconnects signalling and restarts ICE on its links
 * (src/participant/network-switch.ts). Measured: how soon it hears the speaker again (target
 * 5 s: the longest stretch without the tone in its recording), and a hand it raises during the
 * switch reaches the moderator (the speaker's --json state). Both on the mesh and on the relay.
 */
import { expect, it } from 'vitest'
import { describeLab, loudFrom, useScene } from './scene.ts'
import { addSecondLink, FIRST, longestGapMs, SECOND, switchNetwork, toneBlocks } from './uplink.ts'

const BACK_WITHIN_MS = 5000

describeLab('network switch', () => {
  const scene = useScene({ nat: { A: 'cone', B: 'cone' }, tmp: 'stoop-switch-', prepare: addSecondLink })

  // The mesh (two peers: a mesh room) and the relay (mesh size 1: the room is on the relay); the
  // second case moves the listener back to its first network.
  it.each([
    { path: 'mesh', meshSize: 8, from: FIRST, to: SECOND },
    { path: 'relay', meshSize: 1, from: SECOND, to: FIRST },
  ])('on the $path: a listener whose address changes hears the speaker again within 5 s, and a hand raised meanwhile reaches the moderator', async ({ path, meshSize, from, to }) => {
    const links = await scene.room('Moving')
    const speaker = scene.peer('homeB', { link: links.moderator, name: 'Speaker', speak: 440, meshSize })
    const listener = scene.peer('homeA', { link: links.listener, name: 'Listener', record: scene.file(`${path}.wav`), meshSize })
    const speakerId = String((await speaker.next((e) => e.event === 'joined', 90_000)).id)
    const listenerId = String((await listener.next((e) => e.event === 'joined', 90_000)).id)
    await listener.next(loudFrom(speakerId), 60_000)
    await new Promise((r) => setTimeout(r, 2000)) // a steady stretch before the switch

    const switchedAt = Date.now()
    await switchNetwork(scene.lab, from, to)
    listener.child.kill('SIGUSR2') // raise the hand now, while the old address is gone and the links are not back
    const noticed = await listener.next((e) => e.event === 'network-switch', 10_000)
    // A level event covers the second before it: the first whole second after the switch was noticed.
    await listener.next(loudFrom(speakerId, noticed.t! + 1000), BACK_WITHIN_MS + 20_000)
    const raised = await listener.next((e) => e.event === 'hand-raised', 10_000)
    const handSeen = await speaker.next((e) => e.event === 'state' && (e.hands as string[]).includes(listenerId), 30_000)
    // Three loud seconds more, then stop (closing the recording).
    await new Promise((r) => setTimeout(r, 3000))
    await scene.stopPeers()
    const gap = longestGapMs(await toneBlocks(scene.file(`${path}.wav`), 440))
    const timeline = listener.events.filter((e) => e.t! >= switchedAt && !['stats', 'audio-level', 'state'].includes(e.event!)).map((e) => `${e.t! - switchedAt}:${e.event}`)
    console.info(
      `network switch on the ${path}: noticed ${noticed.t! - switchedAt} ms after the address changed; longest silence heard ${gap} ms; ` +
        `hand raised ${raised.t! - switchedAt} ms after, seen by the moderator ${handSeen.t! - switchedAt} ms after\n  ${timeline.join(' ')}`,
    )
    expect(noticed).toMatchObject({ reason: 'addresses', added: [`${to.lan}.2`], removed: [`${from.lan}.2`] })
    expect(listener.events.filter((e) => e.event === 'plan').at(-1)?.mode).toBe(path)
    expect(noticed.t! - switchedAt).toBeLessThan(2500)
    expect(gap).toBeLessThan(BACK_WITHIN_MS)
    expect(handSeen.t).toBeDefined()
  }, 180_000)
})
