/**
 * Chat bench, Node part: a fresh joiner syncs a room of N chat messages from a relay
 * (in this process, WebSocket on 127.0.0.1), built as RoomClient builds it: an
 * UpdateVerifier as the sync gate (every new entry decoded and its signature checked
 * before the doc takes it), a RoomReplica reusing that work, then the app's ChatView
 * opening every message with epoch 0's secret (what src/app/session.ts hands the UI).
 *
 * Phases of one join, from before the relay connection opens:
 *   transfer  until the last sync message carrying entries arrived (connect, auth, step 2);
 *   verify    time inside the gate (decode + Ed25519), summed over messages;
 *   state     from the gate's last answer until the replica's state shows all N messages;
 *   open      ChatView.lines: every message opened (XChaCha20-Poly1305) into lines;
 *   total     until the lines hold all N messages, every one readable.
 */
import WebSocket from 'ws'
import wrtc from '@roamhq/wrtc'
import * as Y from 'yjs'
import { fromBase64url, generateIdentity } from '../../src/identity/index.ts'
import { RelayClient, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { attachSync } from '../../src/net/sync.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'
import { deriveDiscoveryKey, logOf, membershipKey, RoomReplica } from '../../src/room/index.ts'
import { UpdateVerifier } from '../../src/room/verify-update.ts'
import { ChatView } from '../../src/app/chat-view.ts'
import { startRelay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { epochZeroTexts } from '../helpers/sealed-text.ts'
import type { ChatRoom } from './chat-room.ts'
import { benchCase, waitFor, type BenchCase } from './stats.ts'

const WS = WebSocket as unknown as RelayWebSocketClass
const TIMEOUT_MS = 60_000

interface Phases {
  transfer: number
  verify: number
  state: number
  open: number
  total: number
  bytes: number
}

/** Resolves when the replica's state shows `n` chat messages. */
function chatReaches(replica: RoomReplica, n: number): Promise<void> {
  return new Promise((ok, ko) => {
    const timer = setTimeout(() => (off(), ko(new Error(`joiner chat ${replica.state.chat.length}/${n}`))), TIMEOUT_MS)
    const check = (): void => {
      if (replica.state.chat.length < n) return
      clearTimeout(timer)
      off()
      ok()
    }
    const off = replica.on('change', check)
    check()
  })
}

async function joinOnce(room: ChatRoom, url: string): Promise<Phases> {
  const n = room.texts.length
  const identity = await generateIdentity()
  const doc = new Y.Doc()
  const verifier = new UpdateVerifier({ doc, roomId: room.roomId, refuseNothingNew: false })
  const replica = new RoomReplica(doc, { roomId: room.roomId, verified: verifier })
  const secretOf = epochZeroTexts(room.secret).secret
  const key = membershipKey(fromBase64url(room.secret)!)
  const guest = new RelayClient({ WebSocket: WS, wrtc, member: () => key })
  let lastArrival = 0
  let lastAnswer = 0
  let verify = 0
  let bytes = 0
  const acceptUpdate = async (u: Uint8Array): Promise<boolean> => {
    const t = performance.now()
    lastArrival = t
    bytes += u.byteLength
    const ok = (await verifier.verify(u)).ok
    lastAnswer = performance.now()
    verify += lastAnswer - t
    return ok
  }
  const t0 = performance.now()
  let detach: (() => void) | null = null
  try {
    await guest.connect(url, room.roomId, identity)
    detach = attachSync(doc, null, guest.link, { acceptUpdate })
    await chatReaches(replica, n)
    const shown = performance.now()
    const lines = new ChatView().lines(replica.state, 'joiner', secretOf, (id) => id.slice(0, 8))
    const opened = performance.now()
    const unread = lines.filter((l) => l.text === null).length
    if (lines.length !== n || unread > 0 || lines.at(-1)!.text !== room.texts.at(-1)) throw new Error(`joiner reads ${lines.length - unread}/${n} messages`)
    return { transfer: lastArrival - t0, verify, state: shown - lastAnswer, open: opened - shown, total: opened - t0, bytes }
  } finally {
    detach?.()
    guest.destroy()
    replica.destroy()
    verifier.destroy()
    doc.destroy()
  }
}

/** Cases chat-sync/N (total) and its phases, over `samples` fresh joiners after one warm-up join. */
export async function chatSyncCases(room: ChatRoom, samples: number): Promise<BenchCase[]> {
  const relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger })
  const url = `${relay.url.replace('http', 'ws')}/relay`
  const n = room.texts.length
  const key = membershipKey(fromBase64url(room.secret)!)
  const owner = new RelayClient({ WebSocket: WS, wrtc, member: () => key })
  const runs: Phases[] = []
  const failures: string[] = []
  try {
    await owner.connect(url, room.roomId, room.owner)
    const pushed = attachSync(room.doc, null, owner.link)
    const held = () => relay.rooms.room(discoveryHex(deriveDiscoveryKey(room.roomId)))
    const entries = logOf(room.doc).length
    await waitFor('the relay holds the room', () => held() !== undefined && logOf(held()!.doc).length === entries, TIMEOUT_MS, 5)
    for (let i = 0; i <= samples; i++) {
      try {
        const p = await joinOnce(room, url)
        if (i > 0) runs.push(p) // the first join warms up JIT and the relay's encoder
      } catch (err) {
        failures.push((err as Error).message)
      }
    }
    pushed()
  } finally {
    owner.destroy()
    await relay.close()
  }
  const extra = { messages: n, bytes: runs[0]?.bytes ?? 0, failed: failures.length, ...(failures[0] ? { error: failures[0].slice(0, 80) } : {}) }
  const phase = (name: keyof Phases) => benchCase(`chat-sync/${n} ${name}`, 'ms', runs.map((r) => r[name]), extra)
  return [benchCase(`chat-sync/${n}`, 'ms', runs.map((r) => r.total), extra), phase('transfer'), phase('verify'), phase('state'), phase('open')]
}
