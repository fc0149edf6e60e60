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
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateIdentity } from '../../../src/identity/index.ts'
import { createRoomLinks } from '../../../src/cli/room-create.ts'
import { ADDR, createLab, labUnavailable, type Lab } from './lab.ts'
import { relayReady, startLabPeer, startLabRelay, type Event, type LabProc } from './procs.ts'
import { addSecondLink, FIRST, longestGapMs, SECOND, switchNetwork, toneBlocks } from './uplink.ts'

const skip = await labUnavailable()
const ORIGIN = `http://${ADDR.relay}:8787`
const BACK_WITHIN_MS = 5000

describe.skipIf(skip !== null)(`network switch${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let lab: Lab
  let relay: LabProc
  let dir: string
  const peers: LabProc[] = []
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stoop-switch-'))
    lab = await createLab({ A: 'cone', B: 'cone' })
    await addSecondLink(lab)
    relay = startLabRelay(lab)
    await relayReady(lab)
  }, 60_000)
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.stop()))
    await relay?.stop()
    await lab?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  // The mesh (two peers: a mesh room) and the relay (mesh size 1: the room is on the relay); the
  // second case moves the listener back to its first network.
  it.each([
    { path: 'mesh', meshSize: 8, from: FIRST, to: SECOND },
    { path: 'relay', meshSize: 1, from: SECOND, to: FIRST },
  ])('on the $path: a listener whose address changes hears the speaker again within 5 s, and a hand raised meanwhile reaches the moderator', async ({ path, meshSize, from, to }) => {
    const links = await createRoomLinks(await generateIdentity(), { title: 'Moving', topic: '', origin: ORIGIN })
    const speaker = startLabPeer(lab, 'homeB', { link: links.moderator, name: 'Speaker', speak: 440, meshSize })
    const listener = startLabPeer(lab, 'homeA', { link: links.listener, name: 'Listener', record: join(dir, `${path}.wav`), meshSize })
    peers.push(speaker, listener)
    const speakerId = String((await speaker.next((e) => e.event === 'joined', 90_000)).id)
    const listenerId = String((await listener.next((e) => e.event === 'joined', 90_000)).id)
    const loudSince = (since: number) => (ev: Event) => ev.event === 'audio-level' && ev.t! > since && ((ev.dbfs as Record<string, number>)[speakerId] ?? -Infinity) > -30
    await listener.next(loudSince(0), 60_000)
    await new Promise((r) => setTimeout(r, 2000)) // a steady stretch before the switch

    const switchedAt = Date.now()
    await switchNetwork(lab, from, to)
    listener.child.kill('SIGUSR2') // raise the hand now, while the old address is gone and the links are not back
    const noticed = await listener.next((e) => e.event === 'network-switch', 10_000)
    // A level event covers the second before it: the first whole second after the switch was noticed.
    await listener.next(loudSince(noticed.t! + 1000), BACK_WITHIN_MS + 20_000)
    const raised = await listener.next((e) => e.event === 'hand-raised', 10_000)
    const handSeen = await speaker.next((e) => e.event === 'state' && (e.hands as string[]).includes(listenerId), 30_000)
    // Three loud seconds more, then stop (closing the recording).
    await new Promise((r) => setTimeout(r, 3000))
    await Promise.all(peers.splice(0).map((p) => p.stop()))
    const gap = longestGapMs(await toneBlocks(join(dir, `${path}.wav`), 440))
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
