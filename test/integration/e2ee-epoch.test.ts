/**
 * A ban's rotation while a speaker talks, with end-to-end encryption on (issue 11): headless peers
 * on werift seal every Opus frame with SFrame; a moderator speaking a 440 Hz tone bans a third
 * member, the room moves to a new epoch and every sender to new keys. A remaining listener keeps
 * hearing the tone: the longest silence it hears around the rotation (10 ms frames, Goertzel at
 * 440 Hz, counted on its playout clock) stays within 100 ms, and no frame fails to open.
 * Through a relay on loopback, and in a mesh. Each peer runs in a process of its own, as people
 * do: one process for all would make the moderator's work at the rotation stall the listener.
 *
 * What this pins (both fixed after it failed): the moderator switched to the new keys at once,
 * 100-500 ms before the listener held them, and those frames were dropped ('unknown-epoch');
 * and a relay room's signalling moved to the new epoch's topic with everyone reported gone,
 * so the plan fell back to the mesh and restarted the relay (0.4-1.5 s of silence).
 *
 * Silence is wall-clock audio: on a machine whose load starves the speaker's process (seen at
 * load 25-45 on 2 cores: its 10 ms clock ran in bursts every 100-300 ms, skipping the rest) the
 * listener hears holes with or without a rotation. The span before the ban is measured the same
 * way, and the rotation is held to that when it is worse than 100 ms; the log line says how busy
 * each process was. Dropped frames and the route are exact whatever the load.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { generateIdentity } from '../../src/identity/index.ts'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import type { TopologyLimits } from '../../src/net/topology.ts'
import { spawnE2eePeer, type E2eePeerChild } from './helpers/e2ee-peer-child.ts'
import { longestRun, silentRuns } from './helpers/tone-frames.ts'

const TONE = 440
const POLL = { timeout: 45_000, interval: 100 }
/** Heard after the ban: past the relay's 5 s for proofs of the new epoch, and the mesh's ban grace. */
const AFTER_MS = 7000
/** The issue's bound: a rotation is no audible event. */
const MAX_SILENCE_MS = 100
/** A mesh of one: everyone goes through the relay the link came from. */
const VIA_RELAY: TopologyLimits = { meshSize: 1, hysteresis: 0, hardCap: 12 }

let relay: Relay
let peers: E2eePeerChild[] = []
beforeAll(async () => {
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
})
afterAll(() => relay?.close())
afterEach(async () => {
  await Promise.all(peers.map((p) => p.stop()))
  peers = []
})

async function banWhileTalking(title: string, via: 'relay' | 'mesh'): Promise<void> {
  const links = await createRoomLinks(await generateIdentity(), { title, topic: '', origin: relay.url })
  const path = via === 'relay' ? { limits: VIA_RELAY } : { relay: false as const }
  const spawn = (name: string, link: string, opts: { tone?: number; after?: Promise<unknown> } = {}): Promise<E2eePeerChild> => {
    const p = spawnE2eePeer({ name, link, freq: TONE, ...(opts.tone ? { tone: opts.tone } : {}), ...path }, opts.after)
    void p.then((child) => peers.push(child), () => undefined)
    return p
  }
  // Forked together; the listeners join once the moderator holds the room.
  const modUp = spawn('MOD', links.moderator, { tone: TONE })
  const [mod, ana, mal] = await Promise.all([modUp, spawn('ANA', links.listener, { after: modUp }), spawn('MAL', links.listener, { after: modUp })])
  await expect.poll(() => [mod.via, ana.via], POLL).toEqual([via, via])
  // Both keys announced, so the rotation seals to Ana and leaves Mallory out.
  await expect.poll(() => [ana.id, mal.id].every((id) => mod.keys.includes(id)), POLL).toBe(true)
  // Steady before the ban: a second of tone heard uninterrupted, frames opening.
  await expect.poll(() => ana.frames.length > 300 && longestRun(ana.frames, ana.frames.length - 100) === 0, POLL).toBe(true)
  await expect.poll(() => ana.e2ee?.decrypted ?? 0, POLL).toBeGreaterThan(100)
  // The same span without a rotation: what this machine's load alone costs the listener.
  const base = ana.frames.length
  const baseAt = Date.now()
  await new Promise((r) => setTimeout(r, AFTER_MS))
  await expect.poll(() => ana.frames.length, POLL).toBeGreaterThanOrEqual(base + AFTER_MS / 10)
  const baselineMs = longestRun(ana.frames.slice(base, base + AFTER_MS / 10)) * 10
  const epochBefore = ana.epoch!
  const before = ana.e2ee!

  const from = ana.frames.length
  const banAt = Date.now()
  await mod.ban(mal.id)
  await expect.poll(() => ana.epoch, POLL).toBeGreaterThan(epochBefore)
  await new Promise((r) => setTimeout(r, AFTER_MS))
  await expect.poll(() => ana.frames.length, POLL).toBeGreaterThanOrEqual(from + AFTER_MS / 10)
  const heard = ana.frames.slice(from, from + AFTER_MS / 10)
  const silenceMs = longestRun(heard) * 10
  await expect.poll(() => ana.e2ee!.decrypted, POLL).toBeGreaterThan(before.decrypted + 200)
  const after = ana.e2ee!
  const dropped = after.dropped - before.dropped
  // The processes' own longest stalls over each span (a loaded machine's share of what was heard).
  const span = (p: E2eePeerChild, at: number) => p.reports.filter((s) => s.t > at && s.t <= at + AFTER_MS + 100)
  const busiest = (p: E2eePeerChild, at: number): string => {
    const r = span(p, at).reduce((a, b) => (b.ms > a.ms ? b : a), { t: at, ms: 0, cpuMs: 0 })
    return `${r.ms} ms (${r.cpuMs} ms CPU) at ${r.t - at} ms`
  }
  const cpuS = (p: E2eePeerChild, at: number): number => span(p, at).reduce((a, b) => a + b.cpuMs, 0) / 1000
  const stalls = (at: number): string => `stalls MOD ${busiest(mod, at)}, ANA ${busiest(ana, at)}; CPU MOD ${cpuS(mod, at)} s, ANA ${cpuS(ana, at)} s`
  console.info(
    `e2ee-epoch ${via}: epoch ${epochBefore} -> ${ana.epoch}, longest silence ${silenceMs} ms in ${heard.length * 10} ms after the ban, ${stalls(banAt)} (before it: ${baselineMs} ms, ${stalls(baseAt)}), ` +
      `silences over 50 ms (ms after the ban + length) ${silentRuns(heard, 6).map(([at, n]) => `${at * 10}+${n * 10}`).join(' ') || 'none'}, frames dropped ${dropped} ${JSON.stringify(after.reasons)}, opened ${after.decrypted - before.decrypted}`,
  )
  // The route never left `via` (a relay room once fell back to the mesh and restarted the relay).
  for (const p of [mod, ana]) expect(new Set(p.reports.filter((s) => s.t >= banAt).map((s) => s.via)), 'the route held').toEqual(new Set([via]))
  // On a machine so loaded that the listener already hears longer holes without any rotation (seen
  // at load 20-30 on 2 cores), the rotation is held to that instead: it may add no hole of its own.
  expect(silenceMs, `longest silence across the rotation (${via}; ${baselineMs} ms without one)`).toBeLessThanOrEqual(Math.max(MAX_SILENCE_MS, baselineMs))
  // A frame under a key the listener did not hold yet would be dropped (and concealed): none may be.
  expect(dropped, `frames that did not open across the rotation: ${JSON.stringify(after.reasons)}`).toBe(0)
}

describe('a ban rotates the keys while a speaker talks (E2EE on)', () => {
  test('through a relay: the remaining listener hears no gap over 100 ms and no frame fails', async () => {
    await banWhileTalking('E2EE epoch', 'relay')
  }, 240_000)

  test('in a mesh: the same', async () => {
    await banWhileTalking('E2EE epoch mesh', 'mesh')
  }, 240_000)
})
