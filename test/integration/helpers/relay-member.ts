/**
 * Test helper: a room member on a relay, as a client runs it: a RelayClient on
 * @roamhq/wrtc, its own replica and actor, an EpochKeeper that follows the
 * room's epochs (the one RoomClient uses, so it proves and vouches with the
 * current membership key), and ears: every 100 ms block heard on each track
 * (one per publisher), with the tones found in it.
 */
import wrtc from '@roamhq/wrtc'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { attachSink } from '../../../src/node/audio-io.ts'
import { generateIdentity, keyId, type Identity } from '../../../src/identity/index.ts'
import { checkRemoteUpdate, RoomActor, RoomReplica, type CreatedRoom } from '../../../src/room/index.ts'
import { attachSync } from '../../../src/net/sync.ts'
import { RelayClient, type RelayError, type RelayWebSocketClass } from '../../../src/net/relay-client.ts'
import { loopbackSdp } from '../../../src/net/peer.ts'
import { EpochKeeper } from '../../../src/participant/epoch-keeper.ts'
import { detectTones, hasTone } from '../../../src/audio/goertzel.ts'
import { SAMPLE_RATE } from '../../../src/audio/tone.ts'

export const WS = WebSocket as unknown as RelayWebSocketClass
const BLOCK = SAMPLE_RATE / 10

export interface Block {
  t: number
  /** The publisher whose track it came from. */
  from: string
  /** Whether the block held any of the member's frequencies. */
  tone: boolean
  /** Which of them it held. */
  freqs: number[]
}

export interface RelayMember {
  id: string
  identity: Identity
  relay: RelayClient
  doc: Y.Doc
  replica: RoomReplica
  actor: RoomActor
  keeper: EpochKeeper
  handoffs: Uint8Array[][]
  closed: RelayError | null | undefined
  /** Per 100 ms block heard, on every track: which tones it held, with its time. */
  blocks: Block[]
  stop(): void
}

export interface JoinOptions {
  identity?: Identity
  doc?: Y.Doc
  /** false: prove nothing (no membership key). */
  member?: boolean
  /** Tones listened for (default 440 Hz). Mixed tones share the power, so each counts from 20 % when there are several. */
  freqs?: number[]
}

/** Connects a member to the relay at `url` (ws://.../relay) and syncs its doc there. */
export async function joinRelay(url: string, room: CreatedRoom, linkSecret: Uint8Array, opts: JoinOptions = {}): Promise<RelayMember> {
  const identity = opts.identity ?? (await generateIdentity())
  const doc = opts.doc ?? new Y.Doc()
  const freqs = opts.freqs ?? [440]
  const minRatio = freqs.length > 1 ? 0.2 : 0.3
  const replica = new RoomReplica(doc, { roomId: room.roomId })
  // Free text is sealed with the keeper's secrets (docs/room-rules.md §9), as RoomClient wires it.
  const actor = new RoomActor(replica, identity, { texts: { current: () => keeper.sealingKey(), secret: (n) => keeper.secretOf(n) } })
  const keeper: EpochKeeper = new EpochKeeper({ replica, actor, linkSecret, dutyDelayMs: 200 })
  const handoffs: Uint8Array[][] = []
  const relay = new RelayClient({
    WebSocket: WS,
    wrtc,
    sdpFilter: loopbackSdp,
    ...(opts.member === false ? {} : { member: () => keeper.current.member }),
    onHandoff: (entries) => {
      handoffs.push(entries)
      void keeper.handoff(entries)
    },
  })
  const awareness = new Awareness(doc)
  const sinks: Array<() => void> = []
  const m: RelayMember = {
    id: keyId(identity.publicKey),
    identity,
    relay,
    doc,
    replica,
    actor,
    keeper,
    handoffs,
    closed: undefined,
    blocks: [],
    stop() {
      for (const s of sinks) s()
      relay.destroy()
      keeper.destroy()
      awareness.destroy()
      replica.destroy()
    },
  }
  relay.on('close', (err) => (m.closed = err))
  relay.on('track', (id, track) => {
    let pcm = new Int16Array(0)
    sinks.push(
      attachSink(wrtc, track, (frame) => {
        const next = new Int16Array(pcm.length + frame.length)
        next.set(pcm)
        next.set(frame, pcm.length)
        pcm = next
        while (pcm.length >= BLOCK) {
          const found = detectTones(pcm.subarray(0, BLOCK), SAMPLE_RATE, freqs)
          const heard = freqs.filter((_f, i) => hasTone(found[i]!, { minRatio }))
          m.blocks.push({ t: Date.now(), from: id, tone: heard.length > 0, freqs: heard })
          pcm = pcm.slice(BLOCK)
        }
      }),
    )
  })
  await relay.connect(url, room.roomId, identity)
  attachSync(doc, awareness, relay.link, { acceptUpdate: (u) => checkRemoteUpdate(u).ok })
  return m
}

const BLOCK_MS = 100

/**
 * The longest time without the tone (`freq`, or any of the member's) between two times, in ms:
 * between blocks that held it (a track that stops delivering counts as silence too).
 */
export function longestSilence(blocks: readonly Block[], from: number, to: number, freq?: number): number {
  let longest = 0
  let last = from
  for (const b of blocks) {
    if (b.t < from || b.t > to || !(freq === undefined ? b.tone : b.freqs.includes(freq))) continue
    longest = Math.max(longest, b.t - last - BLOCK_MS)
    last = b.t
  }
  return Math.max(longest, to - last - BLOCK_MS, 0)
}

/** Whether `freq` was heard in at least 4 of the 5 blocks its track delivered in the last half second. */
export function hearsNow(m: RelayMember, freq: number): boolean {
  const since = Date.now() - 5 * BLOCK_MS - 50
  return m.blocks.filter((b) => b.t >= since && b.freqs.includes(freq)).length >= 4
}
