/**
 * End-to-end encrypted audio between headless peers on werift (SFrame on every Opus frame),
 * in a two-peer mesh over the relay's WebSocket signalling on loopback. Audio is checked by
 * frequency in what each peer actually hears; the frames' fate by the `stats` event's `e2ee`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { generateIdentity } from '../../src/identity/index.ts'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks, type RoomLinks } from '../../src/cli/room-create.ts'
import type { HeadlessPeerOptions, PeerEvent } from '../../src/headless/headless-peer.ts'
import type { NodeE2eeStats } from '../../src/headless/e2ee.ts'
import { listeningPeer, type Listening } from './helpers/room-peers.ts'
import { runStoop, startStoop } from './helpers/stoop-cli.ts'

const POLL = { timeout: 45_000, interval: 250 }
let peers: Listening[] = []
let relay: Relay
let links: RoomLinks

beforeAll(async () => {
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  links = await createRoomLinks(await generateIdentity(), { title: 'E2EE test', topic: '', origin: relay.url })
})
afterAll(() => relay?.close())
afterEach(async () => {
  await Promise.all(peers.map((p) => p.stop()))
  peers = []
})

type Peer = Listening & { e2ee: () => NodeE2eeStats | null }

async function werift(name: string, link: string, freq: number, e2ee: boolean, extra: Partial<HeadlessPeerOptions> = { relay: false }): Promise<Peer> {
  let last: NodeE2eeStats | null = null
  const opts: HeadlessPeerOptions = {
    link,
    media: 'werift',
    e2ee,
    ...extra,
    speak: { kind: 'tone', freq },
    onEvent: (ev: PeerEvent) => {
      if (ev.event === 'stats' && ev.e2ee) last = ev.e2ee as NodeE2eeStats
    },
  }
  const p = await listeningPeer(name, opts)
  peers.push(p)
  return Object.assign(p, { e2ee: () => last })
}

describe('werift headless peers with end-to-end encryption', () => {
  test('two peers with E2EE on hear each other; every frame they play was decrypted', async () => {
    const m = await werift('M', links.moderator, 440, true)
    const s = await werift('S', links.speaker, 660, true)
    await expect.poll(() => [m.hears(660), s.hears(440)], POLL).toEqual([true, true])
    await expect.poll(() => [m.e2ee()?.decrypted ?? 0, s.e2ee()?.decrypted ?? 0].every((n) => n > 50), POLL).toBe(true)
    for (const p of [m, s]) {
      const st = p.e2ee()!
      expect(st.encrypted, `${p.name} sealed`).toBeGreaterThan(50)
      // A few frames may arrive before the track is announced and attributed; never more.
      expect(st.dropped, `${p.name} dropped ${JSON.stringify(st.reasons)}`).toBeLessThan(st.decrypted / 10)
      expect(p.ratio(1000)).toBeLessThan(0.02)
    }
  }, 120_000)

  test('a peer with E2EE off is not heard by one with it on (its frames are dropped and counted), nor hears it', async () => {
    const on = await werift('ON', links.moderator, 440, true)
    const off = await werift('OFF', links.speaker, 660, false)
    // The off peer's plain Opus reaches the on peer and is refused, frame after frame.
    await expect.poll(() => on.e2ee()?.dropped ?? 0, POLL).toBeGreaterThan(100)
    expect(off.e2ee()).toBeNull()
    const st = on.e2ee()!
    expect(st.decrypted).toBe(0)
    expect(st.encrypted).toBeGreaterThan(50)
    expect(on.sound.length).toBeGreaterThan(100)
    expect(on.ratio(660), 'ON plays plain frames').toBeLessThan(0.02)
    // What the on peer sends is sealed: decoded as plain Opus it is no 440 Hz tone.
    expect(off.sound.length).toBeGreaterThan(100)
    expect(off.hears(440), 'OFF plays sealed frames as audio').toBe(false)
  }, 120_000)

  test('through the relay: tracks attributed to the publisher the relay names open with its key', async () => {
    // A mesh of one: two people already go through the relay the link came from.
    const viaRelay = { limits: { meshSize: 1, hysteresis: 0, hardCap: 12 } }
    const m = await werift('M', links.moderator, 440, true, viaRelay)
    const s = await werift('S', links.speaker, 660, true, viaRelay)
    await expect.poll(() => [m.client.via, s.client.via], POLL).toEqual(['relay', 'relay'])
    await expect.poll(() => [m.hears(660), s.hears(440)], POLL).toEqual([true, true])
    expect(m.client.mesh.connected).toEqual([])
    await expect.poll(() => [m.e2ee()?.decrypted ?? 0, s.e2ee()?.decrypted ?? 0].every((n) => n > 50), POLL).toBe(true)
    for (const p of [m, s]) expect(p.e2ee()!.dropped, `${p.name} ${JSON.stringify(p.e2ee()!.reasons)}`).toBeLessThan(p.e2ee()!.decrypted / 10)
  }, 120_000)
})

describe('stoop peer --e2ee', () => {
  test('--e2ee on with --media wrtc, or a value other than on/off, is a usage error: exit 2, one line', async () => {
    for (const args of [['--e2ee', 'on', '--media', 'wrtc'], ['--media', 'wrtc', '--e2ee', 'on'], ['--e2ee', 'yes', '--media', 'werift'], ['--e2ee', 'yes']]) {
      const r = await runStoop(['peer', links.listener, ...args])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1)
      expect(r.stderr).toMatch(/^stoop: --e2ee/)
    }
  }, 60_000)

  test('a `stoop peer` process (werift and E2EE by default) and an in-process peer hear each other; --json stats count it', async () => {
    const m = await werift('M', links.moderator, 440, true)
    const cli = startStoop(['peer', links.speaker, '--speak', 'tone:660', '--ice-loopback', '--no-relay', '--json', '--duration', '60'], 90_000)
    try {
      await expect.poll(() => m.hears(660), POLL).toBe(true)
      const ev = await cli.next((e) => e.event === 'stats' && ((e.e2ee as NodeE2eeStats | undefined)?.decrypted ?? 0) > 50, 45_000)
      const st = ev.e2ee as NodeE2eeStats
      expect(st.encrypted).toBeGreaterThan(50)
      expect(st.dropped).toBeLessThan(st.decrypted / 10)
      // M's counters come with its once-a-second stats event: read them when they got there.
      await expect.poll(() => m.e2ee()?.decrypted ?? 0, POLL).toBeGreaterThan(50)
    } finally {
      cli.child.kill('SIGTERM')
      expect((await cli.ended).code).toBe(0)
    }
  }, 120_000)
})
