/**
 * The relay bench's listeners child (`--role=listeners`): cheap werift listeners that
 * subscribe to a room on the relay, a few at a time. Once connected a listener skips
 * werift's receive path (relay-tap.ts): loss from the RTP sequence numbers of every
 * packet, latency (one machine, one clock) from one packet in BENCH_RELAY_VERIFY_EVERY
 * (default 4), which werift's SRTP session verifies and decrypts. A listener has joined
 * once it hears every speaker; a connection that carries nothing is a failed join,
 * tried again (twice at most).
 */
import { RTCPeerConnection } from 'werift'
import { generateIdentity } from '../../src/identity/index.ts'
import { deriveDiscoveryKey, type MembershipKey } from '../../src/room/index.ts'
import { RelaySocket } from '../../src/net/relay-socket.ts'
import { CLIENT_CONFIG, cpuMeter, loopbackOnly, memberKey, round, send, sleep, SPEAKERS, wallNow, WS } from './relay-common.ts'
import { rtpPayloadOffset, tapSrtp, type SrtpTap } from './relay-tap.ts'
import type { ToChild } from './relay-children.ts'

/** One listener's stream from one speaker in the window, by extended RTP sequence number. */
interface StreamStat {
  first: number
  last: number
  /** The previous packet's extended sequence number. */
  ref: number
  received: number
  /** When the last packet came (ms, wall clock), and the longest wait between two in the window. */
  lastAt: number
  maxGapMs: number
}

/** The speakers a listener hears: how many, and whether their payloads carry the bench's send time (latency). */
interface Speakers {
  count: number
  timed: boolean
}

/** A listener has werift verify and decrypt one packet in this many (BENCH_RELAY_VERIFY_EVERY). */
const VERIFY_EVERY = Math.max(1, Number(process.env.BENCH_RELAY_VERIFY_EVERY ?? 4))

export async function listenersMain(): Promise<void> {
  const sockets: RelaySocket[] = []
  const pcs: RTCPeerConnection[] = []
  /** listener index -> SSRC (one per speaker) -> window stats */
  const streams: Array<Map<number, StreamStat>> = []
  /** listener index -> the speakers it hears (a stream each) */
  const wants: number[] = []
  let verified = 0
  let authFailures = 0
  let latencies: number[] = []
  let measuring = false
  let meter = cpuMeter()
  const { monitorEventLoopDelay } = await import('node:perf_hooks')
  const lag = monitorEventLoopDelay({ resolution: 20 })
  lag.enable()
  let failed = 0
  let retries = 0

  /** Joins one listener; a join that fails is cleaned up and tried again (twice at most). */
  async function addOne(url: string, roomId: string, member: MembershipKey, speakers: Speakers): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await tryAdd(url, roomId, member, speakers)
      } catch (err) {
        if (attempt === 3) throw err
        retries++
      }
    }
  }

  async function tryAdd(url: string, roomId: string, member: MembershipKey, speakers: Speakers): Promise<void> {
    const index = streams.length
    const mine = new Map<number, StreamStat>()
    const socket = new RelaySocket({ WebSocket: WS, connectTimeoutMs: 60_000 })
    const pc = new RTCPeerConnection(CLIENT_CONFIG)
    try {
      await joinWith(socket, pc, mine, index, url, roomId, member, speakers)
    } catch (err) {
      socket.destroy()
      await pc.close()
      throw err
    }
    streams.push(mine)
    wants.push(speakers.count)
    sockets.push(socket)
    pcs.push(pc)
  }

  async function joinWith(socket: RelaySocket, pc: RTCPeerConnection, mine: Map<number, StreamStat>, index: number, url: string, roomId: string, member: MembershipKey, speakers: Speakers): Promise<void> {
    await socket.connect(`${url.replace('http', 'ws')}/relay`, deriveDiscoveryKey(roomId), await generateIdentity(), { member: () => member })
    let queue = Promise.resolve()
    let offers = 0
    socket.on('message', (m) => {
      if (m.type !== 'offer') return
      offers++
      queue = queue
        .then(async () => {
          await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp })
          await pc.setLocalDescription(await pc.createAnswer())
          socket.send({ type: 'answer', sdp: loopbackOnly(pc.localDescription!.sdp) })
        })
        .catch((err: unknown) => send({ t: 'error', message: `listener ${index}: ${String(err)}` }))
    })
    socket.send({ type: 'subscribe' })
    const end = Date.now() + 30_000
    while (pc.connectionState !== 'connected') {
      if (pc.connectionState === 'failed') throw new Error(`listener ${index} failed to connect (ice ${pc.iceConnectionState}, ${offers} offers)`)
      if (Date.now() > end) throw new Error(`listener ${index} did not connect (${pc.connectionState}, ice ${pc.iceConnectionState}, signalling ${pc.signalingState}, ${offers} offers, socket ${socket.destroyed ? 'closed' : 'open'})`)
      await sleep(50)
    }
    // From here on SRTP skips werift's receive path (relay-tap.ts): seq and SSRC from the
    // clear header for loss, werift's SRTP session verifies and decrypts every VERIFY_EVERY-th
    // packet for latency.
    let sampled = 0
    const heard = new Set<number>()
    let tap: SrtpTap | null = null
    const onRtp = (data: Buffer): void => {
      if (heard.size < speakers.count) heard.add(data.readUInt32BE(8))
      if (!measuring) return
      const at = wallNow()
      const ssrc = data.readUInt32BE(8)
      const seq = data.readUInt16BE(2)
      const s = mine.get(ssrc)
      if (!s) mine.set(ssrc, { first: seq, last: seq, ref: seq, received: 1, lastAt: at, maxGapMs: 0 })
      else {
        // Extended sequence number: the signed 16-bit distance from the previous packet.
        s.ref += ((seq - s.ref + 0x8000) & 0xffff) - 0x8000
        s.received++
        s.maxGapMs = Math.max(s.maxGapMs, at - s.lastAt)
        s.lastAt = at
        if (s.ref > s.last) s.last = s.ref
        if (s.ref < s.first) s.first = s.ref
      }
      if (++sampled % VERIFY_EVERY !== 0) return
      try {
        const plain = tap!.decrypt(data)
        if (speakers.timed) latencies.push(at - plain.readDoubleLE(rtpPayloadOffset(plain)))
        verified++
      } catch {
        authFailures++
      }
    }
    // werift may report 'connected' a moment before its SRTP session and nominated pair are in place.
    for (const end = Date.now() + 5000; !(tap = tapSrtp(pc, onRtp)) && Date.now() < end; ) await sleep(20)
    if (!tap) throw new Error(`listener ${index}: werift internals not as relay-tap.ts expects`)
    // Joined means hearing every speaker: a connection that carries nothing is a failed join
    // (tried again), not loss of the relay's forwarding.
    const until = Date.now() + 20_000
    while (heard.size < speakers.count) {
      if (Date.now() > until) {
        tap.stop()
        throw new Error(`listener ${index} connected but heard ${heard.size} of ${speakers.count} speakers`)
      }
      await sleep(50)
    }
  }

  process.on('message', (msg: ToChild) => {
    if (msg.t === 'listeners') {
      ;(async () => {
        const member = memberKey(msg.secret)
        // Not the bench's speakers (real ones: Opus, no send time): count and verify, no latency.
        const speakers: Speakers = msg.speakers === undefined ? { count: SPEAKERS, timed: true } : { count: msg.speakers, timed: false }
        // A few at a time: DTLS handshakes are the expensive part of joining.
        for (let i = 0; i < msg.n; i += 3) {
          const batch = Array.from({ length: Math.min(3, msg.n - i) }, () => addOne(msg.url, msg.roomId, member, speakers))
          for (const r of await Promise.allSettled(batch)) {
            if (r.status === 'rejected') {
              failed++
              send({ t: 'error', message: String(r.reason) })
            }
          }
        }
        send({ t: 'added', total: streams.length, failed, retries })
      })().catch((err: unknown) => send({ t: 'error', message: String(err) }))
    } else if (msg.t === 'mark') {
      for (const s of streams) s.clear()
      latencies = []
      measuring = true
      meter = cpuMeter()
      lag.reset()
    } else if (msg.t === 'report') {
      measuring = false
      let expected = 0
      let received = 0
      let dead = 0
      const gaps: number[] = []
      for (const [i, mine] of streams.entries()) {
        // A speaker whose stream brought nothing in the window has no entry.
        dead += Math.max(0, wants[i]! - mine.size)
        for (const s of mine.values()) {
          gaps.push(s.maxGapMs)
          expected += s.last - s.first + 1
          received += s.received
        }
      }
      // At most 20k latency samples per child go back (uniformly thinned).
      const step = Math.max(1, Math.ceil(latencies.length / 20_000))
      send({
        t: 'listener-report',
        latencies: latencies.filter((_, i) => i % step === 0).map((x) => round(x, 3)),
        expected,
        received,
        streams: wants.reduce((a, w) => a + w, 0),
        deadStreams: dead,
        verified,
        authFailures,
        cpu: meter(),
        lagP99Ms: Math.max(0, lag.percentile(99) / 1e6 - 20),
        maxGapsMs: gaps.map((g) => round(g, 1)),
      })
    } else if (msg.t === 'exit') {
      for (const s of sockets) s.destroy()
      Promise.all(pcs.map((pc) => pc.close())).finally(() => process.exit(0))
    }
  })
  send({ t: 'ready' })
}
