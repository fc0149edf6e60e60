/**
 * Chat and moderation from the terminal (docs/room-rules.md §10), as people and
 * bots run them: the real `stoop` in child processes, a real relay and its
 * signalling on 127.0.0.1, and one headless listener in this process whose
 * ears are measured (Goertzel at the speaker's frequency).
 *
 * - `stoop peer --say hi` reaches another `stoop peer --json` as a `chat` event.
 * - `stoop mod mute` silences a speaker for the listener, and the muted peer says
 *   `muted`; the relay no longer lets it publish. `stoop peer --record` with a
 *   listener link writes nothing until `stoop mod record on`, then the tone.
 * - `stoop mod kick` ends the kicked peer (exit 5, one line); the same key
 *   coming back during the kick is refused by the relay and ends the same way
 *   (exit 5, `kicked {until}`), and is let in once the kick has ended.
 * - `stoop peer --react 👏` reaches another `stoop peer --json` as a `reaction`
 *   event; an emoji not in the set is a usage error (exit 2).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import type { RoomLinks } from '../../src/cli/room-create.ts'
import { parseInvite } from '../../src/invite/index.ts'
import { deriveDiscoveryKey } from '../../src/room/index.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'
import { decodeWav } from '../../src/audio/wav.ts'
import { detectTones } from '../../src/audio/goertzel.ts'
import { waitFor } from '../helpers/wait.ts'
import { REACTION_SHOW_MS } from '../../src/participant/reactions.ts'
import { runStoop, startStoop, type Running } from './helpers/stoop-cli.ts'
import { listeningPeer, type Listening } from './helpers/room-peers.ts'

let relay: Relay
let dir: string
let links: RoomLinks
let dk: string
let listener: Listening
const running: Running[] = []

const TONE = 440

beforeAll(async () => {
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  dir = await mkdtemp(join(tmpdir(), 'stoop-chat-'))
  const created = await runStoop(['room', 'create', '--title', 'Chatty', '--key', join(dir, 'owner.key'), '--origin', relay.url, '--json'])
  expect(created.code, created.stderr).toBe(0)
  links = JSON.parse(created.stdout) as RoomLinks
  const invite = parseInvite(links.listener, Date.now())
  if (!invite.ok) throw new Error(invite.message)
  dk = discoveryHex(deriveDiscoveryKey(invite.invite.roomId))
  listener = await listeningPeer('ears', { link: links.listener })
}, 60_000)

afterAll(async () => {
  for (const r of running) r.child.kill('SIGTERM')
  await Promise.allSettled(running.map((r) => r.ended))
  await listener?.stop()
  await relay?.close()
  await rm(dir, { recursive: true, force: true })
})

function peer(args: string[], timeoutMs = 150_000): Running {
  const r = startStoop(['peer', ...args, '--json', '--ice-loopback'], timeoutMs)
  running.push(r)
  return r
}

/** `stoop mod <moderator link> --json ...` with the moderator's key: its one JSON object. */
async function mod(args: string[]): Promise<Record<string, unknown>> {
  const r = await runStoop(['mod', links.moderator, '--key', join(dir, 'mod.key'), '--ice-loopback', '--json', ...args], 60_000)
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as Record<string, unknown>
}

test('stoop peer --say reaches another stoop peer --json as a chat event', async () => {
  const reader = peer([links.listener, '--name', 'Reader'])
  await reader.next((e) => e.event === 'joined')
  const sayer = peer([links.listener, '--name', 'Bee', '--say', 'hi <b>there</b>'])
  const id = String((await sayer.next((e) => e.event === 'joined')).id)
  const chat = await reader.next((e) => e.event === 'chat', 60_000)
  expect(chat).toMatchObject({ author: id, name: 'Bee', text: 'hi <b>there</b>' })
  expect(typeof chat.id).toBe('string')
  expect(typeof chat.at).toBe('number')
  // The sayer sees its own message in the room's chat too, and `stoop mod state` lists it by id.
  await sayer.next((e) => e.event === 'chat' && e.id === chat.id)
  const state = await mod(['state'])
  expect(state.chat).toEqual([expect.objectContaining({ id: chat.id, author: id, text: 'hi <b>there</b>' })])
  // Hidden by a moderator: gone from the state everyone computes.
  const hidden = await mod(['hide', String(chat.id).slice(0, 8)])
  expect(hidden).toMatchObject({ ok: true, action: 'hide', id: chat.id })
  await waitFor('the message is hidden for the listener', () => listener.client.state.chat.length === 0)
  reader.child.kill('SIGTERM')
  sayer.child.kill('SIGTERM')
  expect((await reader.ended).code).toBe(0)
}, 180_000)

test('stoop peer --react reaches another stoop peer --json as a reaction event; an emoji not in the set is a usage error', async () => {
  const wrong = await runStoop(['peer', links.listener, '--react', '🍕', '--ice-loopback'])
  expect(wrong.code).toBe(2)
  expect(wrong.stderr.trim().split('\n')).toHaveLength(1)
  expect(wrong.stderr).toMatch(/^stoop: --react must be one of /)

  const reader = peer([links.listener, '--name', 'Reader'])
  await reader.next((e) => e.event === 'joined')
  const clapper = peer([links.listener, '--name', 'Clap', '--react', '👏'])
  const id = String((await clapper.next((e) => e.event === 'joined')).id)
  const reaction = await reader.next((e) => e.event === 'reaction', 60_000)
  expect(reaction).toEqual({ event: 'reaction', t: expect.any(Number), from: id, name: 'Clap', emoji: '👏', label: 'applause' })
  // Seen once: presence re-sent since (and the clear, REACTION_SHOW_MS later) is not a new one;
  // the sender reports none of its own.
  await new Promise((r) => setTimeout(r, REACTION_SHOW_MS + 1000))
  expect(reader.events.filter((e) => e.event === 'reaction')).toHaveLength(1)
  expect(clapper.events.some((e) => e.event === 'reaction')).toBe(false)
  reader.child.kill('SIGTERM')
  clapper.child.kill('SIGTERM')
  expect((await reader.ended).code).toBe(0)
  expect((await clapper.ended).code).toBe(0)
}, 180_000)

test('stoop mod mute silences a speaker (it says muted); --record keeps only what the room shows as recorded', async () => {
  const speaker = peer([links.speaker, '--speak', `tone:${TONE}`, '--name', 'Tone'])
  const speakerId = String((await speaker.next((e) => e.event === 'joined')).id)
  await waitFor('the listener hears the tone', () => listener.hears(TONE), 60_000)

  const out = join(dir, 'rec.wav')
  const recorder = peer([links.listener, '--record', out])
  await recorder.next((e) => e.event === 'joined')
  await waitFor('the recorder hears the speaker', () => recorder.events.some((e) => e.event === 'audio-level' && JSON.stringify(e).includes(speakerId)), 60_000)
  // Heard, but nothing announced: nothing kept. Then a moderator announces the recording.
  const before = Date.now()
  const on = await mod(['record', 'on'])
  expect(on).toMatchObject({ ok: true, action: 'record', on: true })
  await recorder.next((e) => e.event === 'recording' && e.on === true, 30_000)
  const onAt = Date.now()
  await new Promise((r) => setTimeout(r, 3000))
  await mod(['record', 'off'])
  await recorder.next((e) => e.event === 'recording' && e.on === false, 30_000)
  const offAt = Date.now()

  const muted = await mod(['mute', speakerId.slice(0, 10)])
  expect(muted).toMatchObject({ ok: true, action: 'mute', id: speakerId })
  const heard = await speaker.next((e) => e.event === 'muted', 30_000)
  expect(typeof heard.by).toBe('string')
  await waitFor('the listener no longer hears the tone', () => !listener.hears(TONE), 30_000)
  expect(listener.client.state.muted.get(speakerId)?.by).toBe(heard.by)
  // The relay holds the same log: it would not forward this speaker now.
  await waitFor('the relay knows of the mute', () => relay.rooms.room(dk)?.state?.muted.has(speakerId) === true, 30_000)
  expect(relay.rooms.room(dk)!.mayPublish(speakerId)).toMatchObject({ ok: false, reason: 'not-speaker' })

  recorder.child.kill('SIGTERM')
  expect((await recorder.ended).code).toBe(0)
  const wav = decodeWav(await readFile(out))
  const seconds = wav.samples.length / wav.sampleRate
  expect(seconds).toBeGreaterThan(1)
  expect(seconds).toBeLessThan((offAt - before) / 1000 + 1)
  expect(seconds).toBeLessThan((Date.now() - onAt) / 1000)
  const [tone] = detectTones(wav.samples.subarray(0, wav.sampleRate), wav.sampleRate, [TONE])
  expect(tone!.ratio).toBeGreaterThan(0.5)
  speaker.child.kill('SIGTERM')
  await speaker.ended
}, 240_000)

test('stoop mod kick ends the kicked peer (exit 5); coming back during the kick ends the same way; let in after', async () => {
  // Long enough for a second peer to start and be refused within it on a loaded machine.
  const KICK_S = 30
  const key = join(dir, 'kicked.key')
  const kicked = peer([links.listener, '--key', key, '--name', 'Noisy'])
  const id = String((await kicked.next((e) => e.event === 'joined')).id)
  await waitFor('the listener connects to it', () => listener.client.mesh.connected.includes(id), 60_000)
  const done = await mod(['kick', id, '--for', String(KICK_S)])
  expect(done).toMatchObject({ ok: true, action: 'kick', id })
  const until = Number(done.until)
  const gone = await kicked.ended
  expect(gone.code, gone.stderr).toBe(5)
  expect(gone.stderr.trim().split('\n')).toHaveLength(1)
  expect(gone.stderr.trim()).toBe(`stoop: a moderator removed you from this room until ${new Date(until).toISOString()}`)
  expect(kicked.events.find((e) => e.event === 'kicked')).toMatchObject({ until, by: expect.any(String) })

  // The same key again, during the kick: the relay refuses it before it syncs anything, and says
  // until when. The peer does not sit in an empty room: it ends as the kick did (exit 5, one line).
  const refusedBefore = relay.metrics.value('stoop_relay_rejected_total', { reason: 'banned' }) ?? 0
  const back = peer([links.listener, '--key', key, '--name', 'Noisy'])
  const refused = await back.ended
  expect(Date.now()).toBeLessThan(until)
  expect(refused.code, refused.stderr).toBe(5)
  expect(refused.stderr.trim()).toBe(`stoop: a moderator removed you from this room until ${new Date(until).toISOString()}`)
  expect(back.events.find((e) => e.event === 'kicked')).toEqual({ event: 'kicked', t: expect.any(Number), by: null, until })
  expect(relay.metrics.value('stoop_relay_rejected_total', { reason: 'banned' }) ?? 0).toBeGreaterThan(refusedBefore)
  expect(relay.rooms.room(dk)!.admit(id)).toMatchObject({ ok: false, reason: 'banned' })
  expect(listener.client.mesh.connected).not.toContain(id)
  // Once the kick has ended, the same key is let in again (its link still works).
  await waitFor('the kick to end', () => Date.now() >= until + 500, KICK_S * 1000 + 5000)
  const after = peer([links.listener, '--key', key, '--name', 'Noisy'])
  await after.next((e) => e.event === 'joined')
  await waitFor('the listener connects to it after the kick', () => listener.client.mesh.connected.includes(id), 60_000)
  expect(relay.rooms.room(dk)!.admit(id)).toEqual({ ok: true })
  expect(after.events.some((e) => e.event === 'kicked')).toBe(false)
  after.child.kill('SIGTERM')
  expect((await after.ended).code).toBe(0)
}, 180_000)
