/**
 * A child process holding a batch of headless peers (listeners, or speakers of a tone) (so a test can run
 * dozens of wrtc peers without one event loop mixing all their audio).
 * Driven over the fork IPC channel:
 *
 *   parent -> child  {type:'start', peers: [{name, link, relay: [url...], tone?}], limits, freqs}
 *   child -> parent  {type:'started', ids: {name: id}} | {type:'error', message}
 *   child -> parent  {type:'status', peers: [{name, url, state, standby, via, hears: {freq: bool}, gap}]} every 250 ms
 *                    (gap: longest silent run in ms since the last 'mark')
 *   parent -> child  {type:'mark'} | {type:'stop'} (the child exits when stopped)
 */
import type { TopologyLimits } from '../../../src/net/topology.ts'
import { listeningPeer, longestGapMs, type Listening } from './room-peers.ts'

type Start = { type: 'start'; peers: { name: string; link: string; relay: string[]; tone?: number }[]; limits: TopologyLimits; freqs: number[] }
type Command = Start | { type: 'mark' } | { type: 'stop' }

const peers: Listening[] = []
const marks = new Map<Listening, number>()
let freqs: number[] = []
let report: NodeJS.Timeout | null = null

const send = (msg: object): void => {
  process.send?.(msg)
}

async function start(cmd: Start): Promise<void> {
  freqs = cmd.freqs
  const ids: Record<string, string> = {}
  for (const p of cmd.peers) {
    const l = await listeningPeer(p.name, { link: p.link, relay: p.relay, limits: cmd.limits, ...(p.tone ? { speak: { kind: 'tone' as const, freq: p.tone } } : {}) })
    peers.push(l)
    ids[p.name] = l.id
  }
  send({ type: 'started', ids })
  report = setInterval(() => {
    send({
      type: 'status',
      peers: peers.map((l) => ({
        name: l.name,
        url: l.client.relay?.url ?? null,
        state: l.client.relay?.state ?? null,
        standby: l.client.relay?.standbyReady ?? false,
        via: l.client.via,
        hears: Object.fromEntries(freqs.map((f) => [f, l.hears(f)])),
        gap: marks.has(l) ? longestGapMs(l.sound, marks.get(l)) : null,
      })),
    })
  }, 250)
}

process.on('message', (cmd: Command) => {
  if (cmd.type === 'start') {
    start(cmd).catch((err: unknown) => send({ type: 'error', message: String((err as Error)?.stack ?? err) }))
  } else if (cmd.type === 'mark') {
    for (const l of peers) marks.set(l, l.sound.length)
  } else if (cmd.type === 'stop') {
    if (report) clearInterval(report)
    void Promise.allSettled(peers.map((l) => l.stop())).then(() => process.exit(0))
  }
})
process.on('disconnect', () => process.exit(0))
