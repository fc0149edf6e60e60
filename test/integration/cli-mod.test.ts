/**
 * `stoop mod` as an admin or a bot runs it, against a relay on 127.0.0.1 with
 * the real CLI in child processes: a room made with `stoop room create`, a
 * listener `stoop peer --json`, then `stoop mod` reading the state, banning the
 * listener (which exits saying it was removed) and reading the ban back; the
 * links each key may mint; `--help` of every subcommand; bad usage.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { parseInvite } from '../../src/invite/index.ts'
import type { RoomLinks } from '../../src/cli/room-create.ts'
import { runStoop, startStoop } from './helpers/stoop-cli.ts'

let relay: Relay
let dir: string
let links: RoomLinks

beforeAll(async () => {
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  dir = await mkdtemp(join(tmpdir(), 'stoop-mod-'))
  const created = await runStoop(['room', 'create', '--title', 'Moderated', '--key', join(dir, 'owner.key'), '--origin', relay.url, '--json'])
  expect(created.code, created.stderr).toBe(0)
  links = JSON.parse(created.stdout) as RoomLinks
})
afterAll(async () => {
  await relay?.close()
  await rm(dir, { recursive: true, force: true })
})

type Person = { id: string; name: string }

/** `stoop mod <moderator link> --json ...` with a moderator key of its own (or `key`); its one JSON object. */
async function mod(args: string[], key = join(dir, 'mod.key')): Promise<{ code: number | null; out: Record<string, unknown>; stderr: string }> {
  const r = await runStoop(['mod', links.moderator, '--key', key, '--ice-loopback', '--json', ...args], 60_000)
  expect(r.stdout.trim().split('\n'), r.stderr).toHaveLength(1)
  return { code: r.code, out: JSON.parse(r.stdout) as Record<string, unknown>, stderr: r.stderr }
}

const ids = (list: unknown): string[] => (list as Person[]).map((p) => p.id)

test('state shows a listener; ban removes it (its peer exits saying so, after a banned event); state lists the ban', async () => {
  const listener = startStoop(['peer', links.listener, '--json', '--ice-loopback'], 120_000)
  const id = String((await listener.next((e) => e.event === 'joined')).id)

  const before = await mod(['state'])
  expect(before.code, before.stderr).toBe(0)
  expect(before.out).toMatchObject({ ok: true, action: 'state', title: 'Moderated', ended: false, you: { role: 'moderator' } })
  expect(ids(before.out.audience)).toContain(id)
  expect(ids(before.out.bans)).toEqual([])

  // A prefix of the id is enough when it is unique.
  const banned = await mod(['ban', id.slice(0, 12)])
  expect(banned.code, banned.stderr).toBe(0)
  // The ban rotated the room (docs/room-rules.md §8): a new epoch only the remaining members hold.
  expect(banned.out).toMatchObject({ ok: true, action: 'ban', id, epoch: 1 })
  expect(banned.out.entries).toHaveLength(1)

  const gone = await listener.ended
  expect(gone.code).toBe(3)
  expect(gone.stderr.trim()).toBe('stoop: a moderator removed you from this room')
  const events = listener.events.map((e) => e.event)
  expect(events).toContain('banned')
  expect(events.indexOf('banned')).toBeLessThan(events.indexOf('stopped'))
  expect(listener.events.find((e) => e.event === 'banned')).toMatchObject({ id })

  // Nobody is in the room now: the state comes from the relay, which holds the log.
  const after = await mod(['state'])
  expect(after.code, after.stderr).toBe(0)
  expect(ids(after.out.bans)).toEqual([id])
  expect(after.out).toMatchObject({ epoch: { n: 1 }, rotationDue: false })
  expect(ids(after.out.audience)).not.toContain(id)
  expect(after.out.synced).toMatchObject({ relay: true })
  // And lifted again.
  const lifted = await mod(['unban', id])
  expect(lifted.out, lifted.stderr).toMatchObject({ ok: true, action: 'unban', id })
  expect(ids((await mod(['state'])).out.bans)).toEqual([])
}, 240_000)

test('links: the owner\'s key mints moderator, speaker and listener links; a moderator\'s key speaker and listener only', async () => {
  const asOwner = await mod(['links'], join(dir, 'owner.key'))
  expect(asOwner.code, asOwner.stderr).toBe(0)
  expect(asOwner.out).toMatchObject({ ok: true, action: 'links' })
  for (const k of ['moderator', 'speaker', 'listener']) expect(parseInvite(String(asOwner.out[k]), Date.now()).ok).toBe(true)
  expect(parseInvite(String(asOwner.out.moderator), Date.now())).toMatchObject({ ok: true, invite: { grant: { role: 'moderator' } } })

  const asModerator = await mod(['links'])
  expect(asModerator.code, asModerator.stderr).toBe(0)
  expect(asModerator.out.moderator).toBe(null)
  expect(parseInvite(String(asModerator.out.speaker), Date.now())).toMatchObject({ ok: true, invite: { grant: { role: 'speaker' } } })

  // A listener's key moderates nothing: exit 1, one line (with a link of the current epoch: the ban rotated the room).
  const r = await runStoop(['mod', String(asOwner.out.listener), '--key', join(dir, 'listener.key'), '--ice-loopback', 'end'])
  expect(r.code).toBe(1)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr).toMatch(/^stoop: this key is a listener in this room, not a moderator/)
}, 120_000)

test('--help of every subcommand prints its usage and exits 0', async () => {
  for (const args of [['--help'], ['peer', '--help'], ['relay', '--help'], ['room', 'create', '--help'], ['mod', '--help'], ['mod', links.moderator, 'ban', '--help']]) {
    const r = await runStoop(args)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    expect(r.stdout).toMatch(/^Usage:\n/)
  }
  expect((await runStoop(['mod', '--help'])).stdout).toMatch(/stoop mod <link> \[options\] <action> \[ID\]/)
  expect((await runStoop(['peer', '--help'])).stdout).toMatch(/stoop peer <invite-link>/)
})

test('rotate prints the new links; a fresh key with an old link is told plainly that it was replaced (exit 4)', async () => {
  const before = await mod(['state'])
  const n = (before.out.epoch as { n: number }).n
  const rotated = await mod(['rotate'], join(dir, 'owner.key'))
  expect(rotated.code, rotated.stderr).toBe(0)
  expect(rotated.out).toMatchObject({ ok: true, action: 'rotate', epoch: n + 1 })
  const fresh = parseInvite(String(rotated.out.listener), Date.now())
  expect(fresh.ok).toBe(true)
  expect(fresh.ok && parseInvite(links.listener, Date.now()).ok && fresh.invite.secret !== (parseInvite(links.listener, Date.now()) as { invite: { secret: string } }).invite.secret).toBe(true)
  // A stranger with the first listener link: one line, exit 4.
  const stale = startStoop(['peer', links.listener, '--json', '--ice-loopback'], 60_000)
  const gone = await stale.ended
  expect(gone.code, gone.stderr).toBe(4)
  expect(gone.stderr.trim()).toBe('stoop: This link was replaced; ask a moderator for a new one.')
  expect(stale.events.map((e) => e.event)).toContain('replaced')
  // The new listener link opens the room in the new epoch (its state comes from the relay).
  const r = await runStoop(['mod', String(rotated.out.listener), '--key', join(dir, 'newcomer.key'), '--ice-loopback', '--json', 'state'], 60_000)
  expect(r.code, r.stderr).toBe(0)
  expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, you: { role: 'listener' }, epoch: { n: n + 1 } })
}, 180_000)

test('bad usage exits 2 with one line', async () => {
  for (const [args, message] of [
    [['mod'], /^stoop: stoop mod needs a link/],
    [['mod', links.moderator], /^stoop: stoop mod needs an action/],
    [['mod', links.moderator, 'dance'], /^stoop: unknown stoop mod action "dance"/],
    [['mod', links.moderator, 'ban'], /^stoop: stoop mod ban needs a participant ID/],
    [['mod', links.moderator, 'state', 'extra'], /^stoop: stoop mod state: unexpected "extra"/],
    [['mod', links.moderator, 'state', '--frobnicate'], /^stoop: Unknown option '--frobnicate'/],
  ] as const) {
    const r = await runStoop([...args])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(message)
  }
})
