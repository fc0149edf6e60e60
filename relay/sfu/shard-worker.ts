/**
 * One forwarding shard: a worker thread running a real Forwarder (werift
 * connections, the direct SRTP path) per room for the listeners and speakers
 * the main thread placed here (shard-pool.ts, sharded-forwarder.ts). Room
 * state, signalling and policy stay in the main thread; this only carries
 * out forwarder operations (shard-protocol.ts).
 *
 * - Packets of a publisher hosted here are forwarded here and posted, batched
 *   per turn, to the other shards where its room is open (`fanout`), which
 *   forward them as a remote publisher's (`injectRtp`, the cascade's path).
 *   Packets of the main thread's remote publishers (cascade links) arrive the
 *   same way from the main thread.
 * - Invariants: one Forwarder per room id at a time (`close` removes it at
 *   once, so a following `open` starts a new one); a packet for a room or
 *   publisher not here is dropped and counted; every reply is sent once.
 *
 * An exception that escapes ends this thread only: the main thread reports it
 * as a forwarder failure and closes the connections that were here.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'
import { RTCPeerConnection, RtpHeader, RtpPacket } from 'werift'
import { DEFAULT_PEER_CONFIG, Forwarder } from './forwarder.ts'
import {
  fromWire,
  STATS_MS,
  threadCpuMs,
  toWire,
  toWireError,
  type FromShard,
  type RoomReport,
  type ShardInit,
  type ShardOp,
  type ShardReport,
  type ToShard,
  type WirePacket,
} from './shard-protocol.ts'

interface Room {
  fwd: Forwarder
  /** Other shards where this room is open. */
  fanout: number[]
  /** Packets (and their bytes) posted here by other threads: counted in the Forwarder's `packetsIn`, not received from a publisher here. */
  injected: { packets: number; bytes: number }
}

const init = workerData as ShardInit
const port = parentPort!
const rooms = new Map<number, Room>()
const peers = new Map<number, MessagePort>()
/** Packets of rooms closed here, so the shard's totals never go back. */
const closed = { packetsIn: 0, packetsOut: 0 }
const dropped: Record<string, number> = { 'unknown-room': 0, 'unknown-publisher': 0 }
/** Packets waiting for the end of this turn, by destination shard. */
const outbox = new Map<number, WirePacket[]>()
let flushing = false

function post(msg: FromShard): void {
  port.postMessage(msg)
}

function flush(): void {
  flushing = false
  for (const [shard, batch] of outbox) peers.get(shard)?.postMessage({ t: 'rtp', batch } satisfies ToShard)
  outbox.clear()
}

function open(id: number, remotes: string[]): Room {
  const room: Room = {
    fanout: [],
    injected: { packets: 0, bytes: 0 },
    fwd: new Forwarder({
      peerConfig: init.peerConfig,
      onOffer: (sub, offer) => post({ t: 'offer', fwd: id, sub, sdp: offer.sdp }),
      onPeerState: (peer, role, state) => post({ t: 'state', fwd: id, id: peer, role, state }),
      onError: (err) => post({ t: 'error', fwd: id, message: err.cause ? `${err.message}: ${String(err.cause)}` : err.message }),
      onRtp: (pub, rtp) => {
        if (room.fanout.length === 0) return
        const w = toWire(id, pub, rtp)
        for (const shard of room.fanout) {
          const batch = outbox.get(shard)
          if (batch) batch.push(w)
          else outbox.set(shard, [w])
        }
        if (!flushing) {
          flushing = true
          setImmediate(flush)
        }
      },
    }),
  }
  for (const pub of remotes) room.fwd.addRemotePublisher(pub)
  rooms.set(id, room)
  return room
}

function inject(batch: WirePacket[]): void {
  for (const w of batch) {
    const room = rooms.get(w[0])
    if (!room) {
      dropped['unknown-room']!++
      continue
    }
    if (!room.fwd.hasPublisher(w[1])) {
      dropped['unknown-publisher']!++
      continue
    }
    room.injected.packets++
    room.injected.bytes += w[7].byteLength
    room.fwd.injectRtp(w[1], fromWire(w))
  }
}

function roomStats(room: Room) {
  const stats = room.fwd.stats()
  stats.packetsIn -= room.injected.packets
  stats.bytesIn -= room.injected.bytes
  return stats
}

function report(): ShardReport {
  const totals = { ...closed }
  const list = [...rooms].map(([fwd, room]) => {
    const all = room.fwd.stats()
    totals.packetsIn += all.packetsIn
    totals.packetsOut += all.packetsOut
    return { fwd, stats: roomStats(room), packetsDirect: room.fwd.packetsDirect }
  })
  const elu = performance.eventLoopUtilization()
  return { rooms: list, packetsIn: totals.packetsIn, packetsOut: totals.packetsOut, cpuMs: threadCpuMs(), busyMs: elu.active, heapUsed: getHeapStatistics().used_heap_size, dropped: { ...dropped } }
}

/** Carries out one operation; what it returns (or the promise of it) is the reply's value. */
function apply(fwdId: number, body: ShardOp): unknown {
  if (body.op === 'open') {
    if (!rooms.has(fwdId)) open(fwdId, body.remotes)
    return undefined
  }
  const room = rooms.get(fwdId)
  if (!room) {
    // Removals of what is gone are done; anything else names a room closed here.
    if (body.op === 'close' || body.op === 'removePublisher' || body.op === 'removeSubscriber') return undefined
    throw Object.assign(new Error(`room ${fwdId} is not open in shard ${init.shard}`), { code: 'sfu-closed' })
  }
  const f = room.fwd
  switch (body.op) {
    case 'addPublisher':
      return f.addPublisher(body.pub, body.offer)
    case 'addRemotePublisher':
      return f.hasPublisher(body.pub) ? undefined : f.addRemotePublisher(body.pub)
    case 'removePublisher':
      return f.removePublisher(body.pub)
    case 'addSubscriber':
      return f.addSubscriber(body.sub, { standby: body.standby })
    case 'setStandby':
      return f.setStandby(body.sub, body.standby)
    case 'subscribe':
      return f.subscribe(body.sub, body.pub)
    case 'unsubscribe':
      return f.unsubscribe(body.sub, body.pub)
    case 'acceptAnswer':
      return f.acceptAnswer(body.sub, body.answer)
    case 'removeSubscriber':
      return f.removeSubscriber(body.sub)
    case 'fanout':
      room.fanout = body.shards.filter((s) => s !== init.shard)
      return undefined
    case 'close': {
      rooms.delete(fwdId)
      const final: RoomReport = { fwd: fwdId, stats: roomStats(room), packetsDirect: f.packetsDirect }
      const all = f.stats()
      closed.packetsIn += all.packetsIn
      closed.packetsOut += all.packetsOut
      return f.close().then(() => final)
    }
  }
}

function onOp(fwd: number, id: number, body: ShardOp): void {
  const done = (value: unknown) => {
    if (id > 0) post({ t: 'reply', id, ok: true, value })
  }
  const failed = (err: unknown) => {
    if (id > 0) post({ t: 'reply', id, ok: false, error: toWireError(err) })
    // A fire-and-forget operation refused here: the main thread's view and this shard's differ.
    else post({ t: 'error', fwd, message: `shard ${init.shard}: ${body.op} failed: ${toWireError(err).message}` })
  }
  let result: unknown
  try {
    result = apply(fwd, body)
  } catch (err) {
    return failed(err)
  }
  if (result instanceof Promise) result.then(done, failed)
  else done(result)
}

function addPeer(shard: number, p: MessagePort): void {
  peers.get(shard)?.close()
  peers.set(shard, p)
  p.on('message', (msg: ToShard) => {
    if (msg.t === 'rtp') inject(msg.batch)
  })
}

for (const [shard, p] of Object.entries(init.ports)) addPeer(Number(shard), p)
port.on('message', (msg: ToShard) => {
  if (msg.t === 'op') onOp(msg.fwd, msg.id, msg.body)
  else if (msg.t === 'rtp') inject(msg.batch)
  else if (msg.t === 'port') addPeer(msg.shard, msg.port)
  else if (msg.t === 'stats') {
    if (msg.gc) (globalThis as { gc?: () => void }).gc?.()
    post({ t: 'stats', id: msg.id, report: report() })
  }
})
/**
 * One forwarded stream to itself over 127.0.0.1 before the shard says it is ready. A cold thread
 * answers its first DTLS handshakes slowly (code not compiled yet, crypto set up on first use), so
 * clients retransmit, and a werift client fails on the duplicate reply that brings; after a shard
 * restarts, every client it dropped reconnects at once. Best effort: a warm-up that fails only
 * leaves the shard cold.
 */
async function warmUp(): Promise<void> {
  const loopback = { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }
  const only127 = (sdp: string) => sdp.split('\r\n').filter((l) => !l.startsWith('a=candidate:') || / 127\.0\.0\.1 \d+ typ host/.test(l)).join('\r\n')
  const client = new RTCPeerConnection({ ...DEFAULT_PEER_CONFIG, ...loopback })
  let got = 0
  client.onTrack.subscribe((track) => track.onReceiveRtp.subscribe(() => void got++))
  const fwd: Forwarder = new Forwarder({
    peerConfig: { ...init.peerConfig, ...loopback },
    onOffer: (sub, offer) => {
      void (async () => {
        await client.setRemoteDescription({ type: 'offer', sdp: only127(offer.sdp) })
        await client.setLocalDescription(await client.createAnswer())
        await fwd.acceptAnswer(sub, { type: 'answer', sdp: only127(client.localDescription!.sdp) })
      })().catch(() => undefined)
    },
  })
  try {
    fwd.addRemotePublisher('warm-up')
    fwd.addSubscriber('warm-up')
    fwd.subscribe('warm-up', 'warm-up')
    const end = Date.now() + 10_000
    for (let seq = 0; got < 5 && Date.now() < end; seq++) {
      fwd.injectRtp('warm-up', new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: seq * 960, ssrc: 1 }), Buffer.alloc(80)))
      await new Promise((r) => setTimeout(r, 20))
    }
  } finally {
    await Promise.all([fwd.close(), client.close()])
  }
}

setInterval(() => post({ t: 'stats', id: 0, report: report() }), STATS_MS)
await warmUp().catch(() => undefined)
post({ t: 'ready' })
