/**
 * Probes run inside a lab namespace, printing one JSON line:
 *
 *   probe-main.ts gather '<ice server url>'   candidates a wrtc RTCPeerConnection gathers with it
 *   probe-main.ts stun host:port host:port    the mapped address each STUN server sees, asked
 *                                             from one UDP socket (same port both times)
 */
import { createSocket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import wrtc from '@roamhq/wrtc'
import { decodeBindingSuccess, encodeBindingRequest } from '../../../relay/stun.ts'

const [mode, ...rest] = process.argv.slice(2)

async function gather(url: string): Promise<void> {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [{ urls: url }] })
  const candidates: string[] = []
  const started = Date.now()
  let srflxMs: number | null = null
  // Gathering may never end inside a namespace (TCP and loopback sockets); the answer is the srflx.
  const done = new Promise<void>((ok) => {
    pc.onicecandidate = (e) => {
      if (!e.candidate?.candidate) return
      candidates.push(e.candidate.candidate)
      if (/ typ srflx /.test(e.candidate.candidate)) {
        srflxMs = Date.now() - started
        ok()
      }
    }
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'complete') ok()
    }
  })
  pc.createDataChannel('probe')
  await pc.setLocalDescription(await pc.createOffer())
  await Promise.race([done, new Promise((ok) => setTimeout(ok, 15_000))])
  process.stdout.write(JSON.stringify({ candidates, srflxMs }) + '\n')
  pc.close()
}

async function stun(targets: string[]): Promise<void> {
  const socket = createSocket('udp4')
  await new Promise<void>((ok) => socket.bind(0, ok))
  const mapped: Array<{ address: string; port: number } | null> = []
  for (const target of targets) {
    const [host = '', port = ''] = target.split(':')
    const tid = randomBytes(12)
    mapped.push(
      await new Promise((ok) => {
        const timer = setTimeout(() => ok(null), 3000)
        socket.on('message', (msg) => {
          const answer = decodeBindingSuccess(Uint8Array.from(msg))
          if (!answer || !Buffer.from(answer.transactionId).equals(tid)) return
          clearTimeout(timer)
          socket.removeAllListeners('message')
          ok({ address: answer.address, port: answer.port })
        })
        socket.send(encodeBindingRequest(tid), Number(port), host)
      }),
    )
  }
  process.stdout.write(JSON.stringify({ local: socket.address().port, mapped }) + '\n')
  socket.close()
}

await (mode === 'gather' ? gather(rest[0]!) : stun(rest))
process.exit(0)
