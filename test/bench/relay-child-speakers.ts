/**
 * The relay bench's speakers child (`--role=speakers`): 3 speakers of a fresh room
 * (the owner and two invited to the stage, the owner's doc pushed to the relay so it
 * can check every seat) publish to the relay with werift and send synthetic 80-byte
 * payloads every 20 ms, drift-free, carrying the send time and a counter.
 */
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket } from 'werift'
import { generateIdentity, keyId, type Identity } from '../../src/identity/index.ts'
import { createRoom, deriveDiscoveryKey, RoomActor, RoomReplica } from '../../src/room/index.ts'
import { RelaySocket } from '../../src/net/relay-socket.ts'
import { attachSync } from '../../src/net/sync.ts'
import type { RelayMessage } from '../../src/net/relay-protocol.ts'
import { CLIENT_CONFIG, connected, loopbackOnly, memberKey, PACKET_MS, PAYLOAD_BYTES, send, SPEAKERS, wallNow, WS } from './relay-common.ts'
import type { ToChild } from './relay-children.ts'

/** Payload: f64 send time | u32 counter | u8 speaker | filler. The relay never reads it. */
function payload(speaker: number, counter: number): Buffer {
  const b = Buffer.alloc(PAYLOAD_BYTES)
  b.writeDoubleLE(wallNow(), 0)
  b.writeUInt32LE(counter, 8)
  b.writeUInt8(speaker, 12)
  return b
}

export async function speakersMain(): Promise<void> {
  const fail = (err: unknown) => send({ t: 'error', message: String((err as Error)?.stack ?? err) })
  const sockets: RelaySocket[] = []
  const pcs: RTCPeerConnection[] = []
  let sent = 0
  let timer: NodeJS.Timeout | undefined
  let markAt = 0
  let markSent = 0

  async function publish(socket: RelaySocket): Promise<{ pc: RTCPeerConnection; track: MediaStreamTrack }> {
    const pc = new RTCPeerConnection(CLIENT_CONFIG)
    const track = new MediaStreamTrack({ kind: 'audio' })
    pc.addTransceiver(track, { direction: 'sendonly' })
    await pc.setLocalDescription(await pc.createOffer())
    const reply = new Promise<RelayMessage>((ok) => {
      const off = socket.on('message', (m) => {
        if (m.type === 'published' || m.type === 'refused') {
          off()
          ok(m)
        }
      })
    })
    socket.send({ type: 'publish', sdp: loopbackOnly(pc.localDescription!.sdp) })
    const r = await reply
    if (r.type !== 'published') throw new Error(`publish refused: ${JSON.stringify(r)}`)
    await pc.setRemoteDescription({ type: 'answer', sdp: r.sdp })
    return { pc, track }
  }

  async function start(url: string): Promise<void> {
    const ids: Identity[] = await Promise.all(Array.from({ length: SPEAKERS }, () => generateIdentity()))
    const room = await createRoom(ids[0]!, { title: 'Relay bench' })
    const replica = new RoomReplica(room.doc, { roomId: room.roomId })
    const ownerActor = new RoomActor(replica, ids[0]!)
    for (const id of ids.slice(1)) {
      await ownerActor.inviteToStage(keyId(id.publicKey))
      await new RoomActor(replica, id).acceptInvite()
    }
    const dk = deriveDiscoveryKey(room.roomId)
    // The room's epoch 0: the relay admits only connections that prove it.
    const member = memberKey(room.secret)
    const tracks: MediaStreamTrack[] = []
    for (let i = 0; i < SPEAKERS; i++) {
      const socket = new RelaySocket({ WebSocket: WS })
      await socket.connect(`${url.replace('http', 'ws')}/relay`, dk, ids[i]!, { member: () => member })
      sockets.push(socket)
      if (i === 0) {
        // The owner's doc proves every seat: push it to the relay before anyone publishes.
        attachSync(room.doc, null, socket.link)
        await socket.link.whenPushed
      }
      // Under load a werift-to-werift connection now and then never completes DTLS: publish again.
      for (let attempt = 1; ; attempt++) {
        const { pc, track } = await publish(socket)
        if (await connected(pc, 15_000)) {
          pcs.push(pc)
          tracks.push(track)
          break
        }
        await pc.close()
        socket.send({ type: 'unpublish' })
        if (attempt === 3) throw new Error(`speaker ${i} did not connect (${pc.connectionState})`)
      }
    }
    const seq = Array.from({ length: SPEAKERS }, () => 0)
    const t0 = performance.now()
    let tick = 0
    const pump = () => {
      // Drift-free: packet k of every speaker is due at t0 + k * 20 ms.
      const due = Math.floor((performance.now() - t0) / PACKET_MS)
      for (; tick <= due; tick++) {
        for (let i = 0; i < SPEAKERS; i++) {
          const n = seq[i]!++
          tracks[i]!.writeRtp(new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: n & 0xffff, timestamp: (n * 960) >>> 0, ssrc: 1000 + i }), payload(i, n)))
          sent++
        }
      }
      timer = setTimeout(pump, Math.max(1, t0 + tick * PACKET_MS - performance.now()))
    }
    pump()
    send({ t: 'speaking', roomId: room.roomId, secret: room.secret })
  }

  process.on('message', (msg: ToChild) => {
    if (msg.t === 'speakers') start(msg.url).catch(fail)
    else if (msg.t === 'mark') {
      markAt = performance.now()
      markSent = sent
    } else if (msg.t === 'report') send({ t: 'speaker-report', sent: sent - markSent, seconds: (performance.now() - markAt) / 1000 })
    else if (msg.t === 'exit') {
      clearTimeout(timer)
      for (const s of sockets) s.destroy()
      Promise.all(pcs.map((pc) => pc.close())).finally(() => process.exit(0))
    }
  })
  send({ t: 'ready' })
}
