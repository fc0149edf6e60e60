/**
 * One headless peer (the in-process one of `stoop peer`, with the tests'
 * tone-detecting ear) in a process of its own, so its memory is its own:
 * forked with --expose-gc, it can be asked to collect and report its heap.
 * IPC:
 *
 *   parent -> child  {type:'start', name, link, relay, limits, freq}
 *   child -> parent  {type:'started', id} | {type:'error', message}
 *   child -> parent  {type:'status', via, hears, gap, presence} every 250 ms
 *                    (gap: longest silence in ms since the last 'mark'; presence: states it knows)
 *   parent -> child  {type:'mark'} | {type:'gc'} -> {type:'gc', rss, heapUsed, external, arrayBuffers}
 *   parent -> child  {type:'stop'} (exits)
 */
import type { TopologyLimits } from '../../src/net/topology.ts'
import { listeningPeer, longestGapMs, type Listening } from '../integration/helpers/room-peers.ts'

type Command =
  | { type: 'start'; name: string; link: string; relay: string[]; limits: TopologyLimits; freq: number }
  | { type: 'mark' }
  | { type: 'gc' }
  | { type: 'stop' }

let peer: Listening | null = null
let mark = 0
let report: NodeJS.Timeout | null = null
const send = (msg: object): void => {
  process.send?.(msg)
}
const gc = (globalThis as { gc?: () => void }).gc

async function start(cmd: Extract<Command, { type: 'start' }>): Promise<void> {
  const l = await listeningPeer(cmd.name, { link: cmd.link, relay: cmd.relay, limits: cmd.limits })
  peer = l
  send({ type: 'started', id: l.id })
  report = setInterval(() => {
    send({
      type: 'status',
      via: l.client.via,
      hears: l.hears(cmd.freq),
      gap: longestGapMs(l.sound, mark),
      presence: l.client.awareness.getStates().size,
    })
  }, 250)
}

async function collect(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc?.()
    await new Promise((r) => setTimeout(r, 50))
  }
  const m = process.memoryUsage()
  send({ type: 'gc', rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })
}

process.on('message', (cmd: Command) => {
  if (cmd.type === 'start') start(cmd).catch((err: unknown) => send({ type: 'error', message: String((err as Error)?.stack ?? err) }))
  else if (cmd.type === 'mark') mark = peer?.sound.length ?? 0
  else if (cmd.type === 'gc') void collect()
  else if (cmd.type === 'stop') {
    if (report) clearInterval(report)
    void (peer?.stop() ?? Promise.resolve()).then(() => process.exit(0))
  }
})
process.on('disconnect', () => process.exit(0))
