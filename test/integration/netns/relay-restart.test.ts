/**
 * A relay killed with SIGKILL and started again with the same `--data`: the room comes back.
 * In the lab (lab.ts), a speaker and two listeners behind NATs run a room through the relay
 * (mesh size 2); a fourth member is banned. After the kill, the listeners hear the speaker
 * again within 10 s on their own, and the room state (stage, bans) is intact. Finally, with
 * every member killed too, a fresh `stoop mod state` that can only learn the room from the
 * relay shows the same stage and bans: they came from the relay's disk.
 *
 * The ban is sent by `stoop mod` with the owner's key while the owner speaks from its own
 * process: its sync-only relay connection must not replace the speaker's (it did, and the
 * speaker, off the relay while the ban rotated the room, stayed behind in the old epoch: after
 * the restart nobody came back to the relay; test/integration/relay-sync-only.test.ts).
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../helpers/wait.ts'
import { ADDR, createLab, labUnavailable, type Lab, type NsName } from './lab.ts'
import { relayReady, startLabPeer, startLabRelay, type Event, type LabProc } from './procs.ts'
import { toneBySecond } from './tones.ts'

const STOOP = fileURLToPath(new URL('../../../src/cli/stoop.js', import.meta.url))
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const skip = await labUnavailable()
const ORIGIN = `http://${ADDR.relay}:8787`
const BACK_WITHIN_MS = 10_000

describe.skipIf(skip !== null)(`relay restart${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let lab: Lab
  let dir: string
  let relay: LabProc
  const peers: LabProc[] = []
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stoop-restart-'))
    lab = await createLab({ A: 'cone', B: 'cone' })
  }, 60_000)
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.kill('SIGKILL')))
    await relay?.kill('SIGKILL')
    await lab?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  const startRelay = async (): Promise<LabProc> => {
    const r = startLabRelay(lab, ['--data', join(dir, 'data')])
    await relayReady(lab)
    return r
  }
  const stoop = async (where: NsName, args: string[]): Promise<Record<string, unknown>> => {
    const out = await lab.exec(where, ['sh', '-c', `cd '${ROOT}' && exec '${process.execPath}' '${STOOP}' ${args.map((a) => `'${a}'`).join(' ')}`])
    return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>
  }
  /** When a listener's level of the speaker was back above -30 dBFS after `since`. */
  const loudAfter = (p: LabProc, speaker: string, since: number) => (ev: Event) =>
    ev.event === 'audio-level' && ev.t! > since && ((ev.dbfs as Record<string, number>)[speaker] ?? -Infinity) > -30

  it('SIGKILL and restart with the same --data: listeners hear the speaker again within 10 s; stage and bans intact', async () => {
    const ownerKey = join(dir, 'owner.key')
    const links = await stoop('homeA', ['room', 'create', '--title', 'Restart', '--key', ownerKey, '--origin', ORIGIN, '--json'])
    relay = await startRelay()
    const common = { meshSize: 2 }
    const speaker = startLabPeer(lab, 'homeA', { ...common, link: String(links.moderator), key: ownerKey, name: 'Speaker', speak: 440 })
    const listeners = [
      startLabPeer(lab, 'homeB', { ...common, link: String(links.listener), name: 'L1', record: join(dir, 'l1.wav') }),
      startLabPeer(lab, 'homeA', { ...common, link: String(links.listener), name: 'L2', record: join(dir, 'l2.wav') }),
    ]
    const banned = startLabPeer(lab, 'homeB', { ...common, link: String(links.listener), name: 'Banned' })
    peers.push(speaker, ...listeners, banned)
    const speakerId = String((await speaker.next((e) => e.event === 'joined', 90_000)).id)
    const bannedId = String((await banned.next((e) => e.event === 'joined', 90_000)).id)
    await Promise.all(listeners.map((l) => l.next(loudAfter(l, speakerId, 0), 60_000)))
    expect(listeners.map((l) => l.events.filter((e) => e.event === 'plan').at(-1)?.mode)).toEqual(['relay', 'relay'])

    // From the public side: no member is reachable there without STUN, so the ban goes to the relay.
    const ban = await stoop('pub', ['mod', String(links.moderator), '--key', ownerKey, '--json', 'ban', bannedId])
    expect(ban.ok).toBe(true)
    const bannedAt = Date.now()
    await banned.next((e) => e.event === 'banned', 30_000)
    // The relay writes a room 1-5 s after a change: kill it once the ban is on disk.
    await waitFor('the relay to store the room after the ban', async () => {
      const files = (await readdir(join(dir, 'data')).catch(() => [])).filter((f) => f.endsWith('.yjs'))
      return files.length === 1 && (await stat(join(dir, 'data', files[0]!))).mtimeMs > bannedAt
    }, 15_000, 200)

    await relay.kill('SIGKILL')
    const killedAt = Date.now()
    relay = await startRelay()
    const restartedMs = Date.now() - killedAt
    const back = await Promise.all(listeners.map((l) => l.next(loudAfter(l, speakerId, killedAt + 1000), BACK_WITHIN_MS + 20_000)))
    const gaps = back.map((ev) => ev.t! - killedAt)
    const timeline = listeners.map((l) => l.events.filter((e) => e.t! > killedAt && ['plan', 'route', 'track', 'peer-connected', 'peer-disconnected'].includes(e.event!)).map((e) => `${e.t! - killedAt}:${e.event}${e.mode ? `=${String(e.mode)}` : e.via ? `=${String(e.via)}` : ''}`).join(' '))
    console.info(`relay restart: relay answering again ${restartedMs} ms after SIGKILL; listeners hear the speaker again ${gaps.join(' ms, ')} ms after it\n  ${timeline.join('\n  ')}`)
    expect(Math.max(...gaps), 'ms from SIGKILL until every listener hears the speaker').toBeLessThan(BACK_WITHIN_MS)
    // Three loud seconds more, then the listeners leave (closing their recordings): it was the tone.
    const loud = (l: LabProc) => l.events.filter(loudAfter(l, speakerId, killedAt + 1000)).length
    await waitFor('three loud seconds at every listener', () => listeners.every((l) => loud(l) >= 4), 20_000, 200)
    // The audio may have come back over the mesh first; the room is back on the relay too (3 > mesh size).
    const onRelay = await Promise.all(listeners.map((l) => l.next((e) => e.event === 'route' && e.via === 'relay' && e.t! > killedAt, 30_000)))
    console.info(`relay restart: listeners back on the relay ${onRelay.map((e) => e.t! - killedAt).join(' ms, ')} ms after SIGKILL`)
    const loudSince = Math.max(...onRelay.map((e) => e.t!))
    await waitFor('three loud seconds on the relay at every listener', () => listeners.every((l) => l.events.filter(loudAfter(l, speakerId, loudSince)).length >= 3), 20_000, 200)
    await Promise.all(listeners.map((l) => l.stop()))
    for (const name of ['l1', 'l2']) {
      // Two of the last three seconds: the way back from the mesh to the relay may cut a moment.
      const seconds = await toneBySecond(join(dir, `${name}.wav`), 440, 3)
      expect(seconds.filter((s) => s.heard).length, `${name} hears 440 Hz at the end: ${JSON.stringify(seconds)}`).toBeGreaterThanOrEqual(2)
    }
    const state = await stoop('pub', ['mod', String(links.moderator), '--key', ownerKey, '--json', 'state'])
    // The ban rotated the room (docs/room-rules.md §8): the links of the new epoch.
    const current = await stoop('pub', ['mod', String(links.moderator), '--key', ownerKey, '--json', 'links'])
    expect(current).toMatchObject({ ok: true, epoch: 1 })
    expect((state.stage as Array<{ id: string }>).map((p) => p.id), JSON.stringify(state)).toEqual([speakerId])
    expect((state.bans as Array<{ id: string }>).map((p) => p.id), JSON.stringify(state)).toEqual([bannedId])

    // The speaker and the banned member die without a word, the relay is killed again: only
    // its disk still knows the room.
    // (The ban was on disk before the first kill; nothing since changed the log.)
    await Promise.all([speaker, banned].map((p) => p.kill('SIGKILL')))
    await relay.kill('SIGKILL')
    relay = await startRelay()
    const fromDisk = await stoop('pub', ['mod', String(current.listener), '--key', join(dir, 'fresh.key'), '--json', 'state'])
    expect(fromDisk.synced).toMatchObject({ relay: true, members: 0 })
    expect((fromDisk.stage as Array<{ id: string }>).map((p) => p.id), JSON.stringify(fromDisk)).toEqual([speakerId])
    expect((fromDisk.bans as Array<{ id: string }>).map((p) => p.id), JSON.stringify(fromDisk)).toEqual([bannedId])
  }, 240_000)
})
