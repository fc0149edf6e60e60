/**
 * One headless peer on werift with end-to-end encryption, in a child process of its own (as every
 * participant is in a real room: one's work at a rotation does not stall another's audio).
 * Driven over the fork IPC channel:
 *
 *   parent -> child  {type:'start', name, link, tone?, freq, limits?, relay?}
 *   child -> parent  {type:'started', id} | {type:'error', message}
 *   child -> parent  {type:'status', via, epoch, keys, e2ee, frames, stallMs, cpuMs} every 100 ms
 *                    (keys: members whose encryption key the room state holds; stallMs: the
 *                    longest the event loop was held since the last status, cpuMs: CPU used since)
 *                    (frames: per 10 ms frame heard since the last status, whether it held `freq`)
 *   parent -> child  {type:'ban', id}: as a moderator, bans `id`; child -> parent {type:'banned'}
 *   parent -> child  {type:'stop'} (the child exits when stopped)
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { startHeadlessPeer, type HeadlessPeer, type PeerEvent } from '../../../src/headless/headless-peer.ts'
import type { NodeE2eeStats } from '../../../src/headless/e2ee.ts'
import type { TopologyLimits } from '../../../src/net/topology.ts'
import { toneFrames } from './tone-frames.ts'

export type E2eeStart = { type: 'start'; name: string; link: string; tone?: number; freq: number; limits?: TopologyLimits; relay?: false }
type Command = E2eeStart | { type: 'ban'; id: string } | { type: 'stop' }

let peer: HeadlessPeer | null = null
let report: NodeJS.Timeout | null = null
const send = (msg: object): void => {
  process.send?.(msg)
}

async function start(cmd: E2eeStart): Promise<void> {
  let e2ee: NodeE2eeStats | null = null
  const heard = toneFrames(cmd.freq)
  let sent = 0
  peer = await startHeadlessPeer({
    name: cmd.name,
    link: cmd.link,
    media: 'werift',
    e2ee: true,
    loopbackOnly: true,
    reportEvery: 0.25,
    ...(cmd.tone ? { speak: { kind: 'tone' as const, freq: cmd.tone } } : {}),
    ...(cmd.limits ? { limits: cmd.limits } : {}),
    ...(cmd.relay === false ? { relay: false as const } : {}),
    onHeard: heard.push,
    onEvent: (ev: PeerEvent) => {
      if (ev.event === 'stats' && ev.e2ee) e2ee = ev.e2ee as NodeE2eeStats
    },
  })
  send({ type: 'started', id: peer.id })
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  let cpu = process.cpuUsage()
  report = setInterval(() => {
    const stallMs = Math.round(loop.max / 1e6)
    loop.reset()
    const used = process.cpuUsage(cpu)
    cpu = process.cpuUsage()
    const cpuMs = Math.round((used.user + used.system) / 1000)
    const frames = heard.frames.slice(sent)
    sent += frames.length
    const client = peer!.client
    send({ type: 'status', via: client.via, epoch: client.epochs.current.n, keys: [...client.state.epochs.encKeys.keys()], e2ee, frames, stallMs, cpuMs })
  }, 100)
}

process.on('message', (cmd: Command) => {
  if (cmd.type === 'start') {
    start(cmd).catch((err: unknown) => send({ type: 'error', message: String((err as Error)?.stack ?? err) }))
  } else if (cmd.type === 'ban') {
    peer!.client.actor.ban(cmd.id).then(
      () => send({ type: 'banned' }),
      (err: unknown) => send({ type: 'error', message: String(err) }),
    )
  } else if (cmd.type === 'stop') {
    if (report) clearInterval(report)
    void (peer?.stop() ?? Promise.resolve()).finally(() => process.exit(0))
  }
})
process.on('disconnect', () => process.exit(0))
