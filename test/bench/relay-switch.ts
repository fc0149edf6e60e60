/**
 * Relay bench part: the gap a listener hears when the room switches mesh ->
 * relay -> mesh, as test/integration/relay-switch.test.ts measures the first
 * direction (its helpers: the longest run of silent 10 ms frames after the
 * headless mixer). A speaker sends a steady tone to a listener; with
 * { meshSize: 3, hysteresis: 1 } two silent peers joining (4 present) move
 * the room to the relay, and their leaving (2 present = meshSize -
 * hysteresis) moves it back. (The click part's meshSize 2 cannot come back
 * with a listener in the room: that needs a room of one.)
 *
 * Per switch: the longest silence heard from just before the peers join or
 * leave until 1 s after the listener plays the new path and the old one is
 * gone; also the time until then.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { startHeadlessPeer, type HeadlessPeer } from '../../src/headless/headless-peer.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { generateIdentity } from '../../src/identity/index.ts'
import { listeningPeer, longestGapMs, type Listening } from '../integration/helpers/room-peers.ts'
import { benchCase, summarize, waitFor, type BenchCase } from './stats.ts'

const LIMITS = { meshSize: 3, hysteresis: 1, hardCap: 60 }
const TONE = 440
const EXTRA = 2
const SETTLE_MS = 1000
const now = (): number => performance.now()

export async function relaySwitchGaps(opts: { origin: string; relay: string; rounds: number }, cases: BenchCase[]): Promise<Record<string, unknown>> {
  const links = await createRoomLinks(await generateIdentity(), { title: 'bench relay switch', topic: '', origin: opts.origin })
  const common = { relay: opts.relay, limits: LIMITS, reportEvery: 3600 }
  const peers: HeadlessPeer[] = []
  const gaps = { toRelay: [] as number[], toMesh: [] as number[] }
  const times = { toRelay: [] as number[], toMesh: [] as number[] }
  try {
    const speaker = await listeningPeer('S', { ...common, link: links.moderator, speak: { kind: 'tone', freq: TONE } })
    peers.push(speaker)
    const listener = await listeningPeer('L', { ...common, link: links.listener })
    peers.push(listener)
    const meshUp = () => listener.client.via === 'mesh' && listener.client.mesh.connected.includes(speaker.id) && listener.hears(TONE)
    await waitFor('the listener to hear the speaker over the mesh', meshUp, 30_000, 50)
    await sleep(SETTLE_MS)

    for (let i = 0; i < opts.rounds; i++) {
      let extras: HeadlessPeer[] = []
      const onRelay = () => listener.client.via === 'relay' && speaker.client.mesh.connected.length === 0 && listener.client.mesh.connected.length === 0 && listener.hears(TONE)
      await measure('toRelay', listener, onRelay, async () => {
        extras = await Promise.all(Array.from({ length: EXTRA }, () => startHeadlessPeer({ ...common, loopbackOnly: true, link: links.listener })))
        peers.push(...extras)
      })
      await measure('toMesh', listener, meshUp, async () => {
        await Promise.all(extras.map((p) => p.stop()))
      })
    }
  } finally {
    await Promise.all(peers.map((p) => p.stop()))
  }
  for (const dir of ['toRelay', 'toMesh'] as const) {
    const t = summarize(times[dir])
    const name = dir === 'toRelay' ? 'switch gap mesh->relay' : 'switch gap relay->mesh'
    cases.push(benchCase(name, 'ms', gaps[dir], { note: `longest silence heard per switch; switch done in ${Math.round(t.median)} ms (median)` }))
  }
  return { limits: LIMITS, rounds: opts.rounds, peersAddedAndRemoved: EXTRA, gapsMs: gaps, switchDoneMs: times }

  /** One switch: `act`, wait for `done`, let it settle, then the longest silence since before `act`. */
  async function measure(dir: 'toRelay' | 'toMesh', listener: Listening, done: () => boolean, act: () => Promise<void>): Promise<void> {
    const mark = listener.sound.length
    const t0 = now()
    await act()
    await waitFor(`the switch ${dir}`, done, 45_000, 20)
    times[dir].push(Math.round(now() - t0))
    await sleep(SETTLE_MS)
    gaps[dir].push(longestGapMs(listener.sound, mark))
  }
}
