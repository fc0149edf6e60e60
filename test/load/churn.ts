/**
 * Members joining a room and leaving it again, a thousand times, as cheap
 * clients: each cycle is a fresh identity that joins signalling (the room's
 * topic, payloads sealed with the link's key: its hello is answered by the
 * members there) and the room's relay (challenge, the epoch's membership
 * proof, the room log synced through the verifying gate, its presence set),
 * then leaves both (a `bye`, the socket closed). No media: the point is the
 * joins and leaves every member and the relay see, not 1,000 WebRTC stacks.
 */
import WebSocket from 'ws'
import wrtc from '@roamhq/wrtc'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { generateIdentity, keyId, toBase64url } from '../../src/identity/index.ts'
import { deriveDiscoveryKey, epochTopic, membershipKey, RoomReplica } from '../../src/room/index.ts'
import { UpdateVerifier } from '../../src/room/verify-update.ts'
import { attachSync } from '../../src/net/sync.ts'
import { RelayClient, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { SignalClient, type WebSocketClass } from '../../src/net/signal-client.ts'
import { WsBus } from '../../src/net/ws-bus.ts'
import { deriveSignalKey } from '../../src/net/room-crypto.ts'
import { parseInvite, type Invite } from '../../src/invite/index.ts'
import { waitFor } from '../helpers/wait.ts'
import { pool, wsFrom } from './soak-attacks.ts'

export interface ChurnOptions {
  /** The room's listener link. */
  link: string
  /** ws://host:port of the relay (its /signal and /relay). */
  base: string
  /** Source address of the churners' sockets (127.0.0.x). */
  from: string
  cycles: number
  /** Cycles under way at once. */
  width: number
  /** Called after each cycle (progress, memory samples). */
  onCycle?: (done: number) => void
}

export interface ChurnResult {
  cycles: number
  ms: number
  /** Cycles whose relay join or signalling hello failed (none expected). */
  failed: number
  firstError: string | null
}

export async function churn(opts: ChurnOptions): Promise<ChurnResult> {
  const parsed = parseInvite(opts.link, Date.now())
  if (!parsed.ok) throw new Error(parsed.message)
  const invite = parsed.invite
  const member = membershipKey(invite.secretBytes)
  const sealKey = await deriveSignalKey(invite.secretBytes)
  const topic = toBase64url(invite.epoch > 0 ? epochTopic(invite.secretBytes) : deriveDiscoveryKey(invite.roomId))
  const From = wsFrom(opts.from)
  let done = 0
  let failed = 0
  let firstError: string | null = null
  const t0 = performance.now()
  await pool(opts.cycles, opts.width, async (i) => {
    try {
      await cycle(i, invite, member, sealKey, topic, opts.base, From)
    } catch (err) {
      failed++
      firstError ??= String((err as Error)?.message ?? err)
    }
    done++
    opts.onCycle?.(done)
  })
  return { cycles: done, ms: performance.now() - t0, failed, firstError }
}

async function cycle(i: number, invite: Invite, member: ReturnType<typeof membershipKey>, sealKey: CryptoKey, topic: string, base: string, From: typeof WebSocket): Promise<void> {
  const identity = await generateIdentity()
  const selfId = keyId(identity.publicKey)
  // Signalling: say hello on the room's topic and wait for a member's answer.
  const signal = new SignalClient({ url: `${base}/signal`, WebSocket: From as unknown as WebSocketClass })
  const bus = new WsBus({ client: signal, topic, key: sealKey, selfId })
  // The relay: authenticate, prove membership, sync the log and set a presence.
  const relay = new RelayClient({ WebSocket: From as unknown as RelayWebSocketClass, wrtc, member: () => member })
  const doc = new Y.Doc()
  const awareness = new Awareness(doc)
  const verifier = new UpdateVerifier({ doc, roomId: invite.roomId, refuseNothingNew: false })
  const replica = new RoomReplica(doc, { roomId: invite.roomId, verified: verifier })
  let detach: (() => void) | null = null
  try {
    await relay.connect(`${base}/relay`, invite.roomId, identity)
    awareness.setLocalState({ name: `churn ${i}` })
    const sync = attachSync(doc, awareness, relay.link, { acceptUpdate: async (u) => (await verifier.verify(u)).ok })
    detach = sync
    await waitFor(`churner ${i} synced`, () => sync.synced && bus.peers.size > 0, 30_000, 5)
    await replica.whenSettled()
    if (!replica.state.exists) throw new Error(`churner ${i}: the room log did not arrive`)
  } finally {
    detach?.()
    replica.destroy()
    verifier.destroy()
    awareness.destroy()
    relay.destroy()
    doc.destroy()
    await bus.destroy()
    signal.destroy()
  }
}
