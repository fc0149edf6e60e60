/**
 * `stoop mod <link> [options] <action> [ID]`: moderation from the terminal,
 * for bots and admins. It joins the room as a headless member with no audio
 * (src/headless/room-session.ts), waits until the state has synced, performs
 * one action signed by its key, waits until that reached a member or the
 * relay, prints the result (`--json`: one object) and exits.
 *
 * Exit codes: 0 done; 1 failed (the rules refuse it, unknown or ambiguous
 * ID, nobody reachable); 2 bad usage; 3 this key is banned from the room; 4 its link was replaced.
 * Failures print one line `stoop: <reason>` on stderr (and with --json
 * `{"ok":false,...}` on stdout).
 */
import { parseArgs } from 'node:util'
import { errorCode } from '../base/errors.ts'
import { openRoomSession } from '../headless/room-session.ts'
import { describeRoom, parseModCommand, runModAction, type ModCommand, type Person } from './mod-actions.ts'
import { reachOf, REACH_OPTIONS, UsageError } from './options.ts'
import { DEFAULT_KEY, MOD_USAGE, usageOf, wantsHelp } from './usage.ts'

export async function moderate(args: string[]): Promise<number> {
  if (wantsHelp(args)) {
    process.stdout.write(usageOf(MOD_USAGE) + '\n')
    return 0
  }
  const json = args.includes('--json')
  let action: string | null = null
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        ...REACH_OPTIONS,
        key: { type: 'string', default: DEFAULT_KEY },
        json: { type: 'boolean', default: false },
        relay: { type: 'string' },
        'no-relay': { type: 'boolean', default: false },
        timeout: { type: 'string', default: '15' },
        for: { type: 'string' },
      },
    })
    const [link, ...words] = positionals
    if (!link) throw new UsageError('stoop mod needs a link (stoop room create prints one) and an action, e.g. stoop mod <link> state')
    const cmd = parseModCommand(words, values.for)
    action = cmd.action
    const timeout = Number(values.timeout)
    if (!(timeout > 0)) throw new UsageError(`--timeout must be a positive number of seconds, got "${values.timeout}"`)
    const result = await perform(cmd, {
      link,
      keyFile: values.key!,
      ...reachOf(values),
      relay: values['no-relay'] ? false : values.relay,
      syncTimeoutMs: timeout * 1000,
    })
    process.stdout.write((json ? JSON.stringify({ ok: true, action, ...result }) : render(cmd, result)) + '\n')
    return 0
  } catch (err) {
    if (json) process.stdout.write(JSON.stringify({ ok: false, action, code: errorCode(err) ?? 'failed', message: err instanceof Error ? err.message : String(err) }) + '\n')
    throw err
  }
}

async function perform(cmd: ModCommand, opts: Parameters<typeof openRoomSession>[0]): Promise<Record<string, unknown>> {
  const session = await openRoomSession(opts)
  try {
    await session.synced()
    const { client } = session
    if (cmd.action === 'state') {
      const synced = { relay: session.relay?.synced ?? false, members: session.members.size }
      return { ...describeRoom(client.state, client.selfId, client.mesh.present, (n) => client.epochs.secretOf(n)), synced }
    }
    return await session.act(() => runModAction(cmd, client, session.invite))
  } finally {
    await session.close()
  }
}

type ChatLine = Person & { author: string; text: string | null; at: number }

/** The chat in `state`'s text output: one line per message, its id first (what `hide` takes). */
function chatLines(chat: ChatLine[]): string[] {
  return ['  chat:', ...(chat.length === 0 ? ['    -'] : chat.map((m) => `    ${m.id} ${m.name || m.author.slice(0, 8)}: ${m.text === null ? '(cannot be read here)' : JSON.stringify(m.text)}`))]
}

/** Text output: the room for `state`, the links for `links`, one line for the rest. */
function render(cmd: ModCommand, r: Record<string, unknown>): string {
  if (cmd.action === 'links' || cmd.action === 'rotate') {
    const head = cmd.action === 'rotate' ? [`Rotated: the room is in epoch ${String(r.epoch)}; every earlier link is replaced.`] : []
    const lines = r.moderator ? [...head, `Moderator link (joins as moderator; keep it private):\n  ${String(r.moderator)}`] : []
    lines.push(`Speaker link (single use, joins on stage):\n  ${String(r.speaker)}`, `Listener link (share this):\n  ${String(r.listener)}`)
    return lines.join('\n')
  }
  if (cmd.action !== 'state') return `${cmd.action}: done${r.id ? ` (${String(r.id)})` : ''}`
  const people = (list: unknown): string => {
    const ps = list as Person[]
    return ps.length === 0 ? '-' : ps.map((p) => (p.name ? `${p.id} (${p.name})` : p.id)).join('\n    ')
  }
  const you = r.you as { id: string; role: string }
  return [
    `Room "${String(r.title)}" (${String(r.room)})${r.ended ? ', ended' : ''}`,
    `  you: ${you.id} (${you.role})`,
    `  stage: ${people(r.stage)}`,
    `  audience: ${people(r.audience)}`,
    `  hands: ${people(r.hands)}`,
    `  invited: ${people(r.invites)}`,
    `  moderators: ${people(r.moderators)}`,
    `  bans: ${people(r.bans)}`,
    `  epoch: ${String((r.epoch as { n: number } | null)?.n ?? 'none')}${r.rotationDue ? ' (rotation due)' : ''}`,
    `  muted: ${people(r.muted)}`,
    `  kicked: ${(r.kicked as (Person & { until: number })[]).map((p) => `${p.id} until ${new Date(p.until).toISOString()}`).join(', ') || '-'}`,
    `  recording: ${r.recording ? `since ${new Date((r.recording as { since: number }).since).toISOString()} by ${(r.recording as { by: string }).by}` : 'off'}`,
    ...chatLines(r.chat as ChatLine[]),
  ].join('\n')
}
