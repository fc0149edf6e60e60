/**
 * The headless peer behind `stoop peer`: a real participant on Node, using
 * @roamhq/wrtc for WebRTC. It joins through WebSocket signalling or hyperswarm,
 * syncs and validates the room like any client, sends a tone or a WAV file
 * while it is a speaker, records what it may hear (speakers only) mixed into a
 * WAV file, and reports what happens as events (one JSON line each with --json).
 */
import wrtc from '@roamhq/wrtc'
import WebSocket from 'ws'
import { RoomClient, type Via } from '../participant/room-client.ts'
import type { RoomState } from '../room/index.ts'
import { generateIdentity, keyId, toBase64url, type Identity } from '../identity/index.ts'
import { loadOrCreateIdentity } from '../identity/store-node.ts'
import { parseInvite, type Invite } from '../invite/index.ts'
import { deriveDiscoveryKey } from '../room/index.ts'
import { deriveSignalKey } from '../net/room-crypto.ts'
import { SignalClient, type SignalError, type WebSocketClass } from '../net/signal-client.ts'
import { WsBus } from '../net/ws-bus.ts'
import { SealedBus } from '../net/sealed-bus.ts'
import type { SignalBus } from '../net/bus.ts'
import { isLoopbackCandidate, loopbackSdp, type PeerWrtc } from '../net/peer.ts'
import type { RelayWebSocketClass } from '../net/relay-client.ts'
import type { TopologyLimits } from '../net/topology.ts'
import { mixFrames } from '../audio/mixer.ts'
import { dbfs } from '../audio/level.ts'
import { decodeWav } from '../audio/wav.ts'
import { FRAME_SIZE, SAMPLE_RATE } from '../audio/tone.ts'
import { attachSink, createFrameSource, createPcmSource, createToneSource, createWavFileWriter, type AudioSourceHandle, type AudioWrtc, type WavFileWriter } from '../node/audio-io.ts'
import { createSwarmBus } from '../node/swarm-bus.ts'
import { RelayFinder } from '../node/relay-finder.ts'
import { discoveryHex } from '../net/relay-protocol.ts'
import { readFile } from 'node:fs/promises'
import { CodedError } from '../base/errors.ts'

/**
 * What a speaker sends: a sine, a WAV file, or (benches, tests) frames from a callback, called
 * once per 10 ms frame right before the frame is handed to WebRTC (480 mono samples at 48 kHz;
 * null ends the source).
 */
export type SpeakSource = { kind: 'tone'; freq: number } | { kind: 'file'; path: string } | { kind: 'frames'; next: () => Int16Array | null }

export interface HeadlessPeerOptions {
  link: string
  /** WebSocket signalling URL; default: the link's host + /signal. */
  signal?: string
  /** Find peers on hyperswarm instead of signalling. */
  swarm?: { bootstrap: { host: string; port: number }[] }
  name?: string
  speak?: SpeakSource
  record?: string
  raiseHand?: boolean
  /** As a moderator, invite everyone who raises a hand to the stage (an open-mic bot). */
  inviteHands?: boolean
  /** Accept stage invites (default: when there is something to speak). */
  acceptInvites?: boolean
  identity?: Identity
  keyFile?: string
  /** Called for every event (the CLI prints them). */
  onEvent?: (ev: PeerEvent) => void
  /** Called with every mixed 10 ms frame of what this peer hears. */
  onHeard?: (frame: Int16Array) => void
  /** Seconds between stats/level events. Default 1. */
  reportEvery?: number
  /** RTCPeerConnection implementation for the mesh. Default @roamhq/wrtc (audio I/O always uses it). */
  wrtc?: PeerWrtc
  /** Topology limits (mesh size, hard cap). Default DEFAULT_LIMITS. */
  limits?: TopologyLimits
  /** Use only 127.0.0.1/::1 ICE candidates (local tests, benches, single-machine demos). */
  loopbackOnly?: boolean
  /**
   * Relay (SFU) WebSocket URL used past mesh size. Default: the relay that
   * served the link (ws(s)://<link host>/relay), or on hyperswarm the relays
   * found there (they announce the rooms they serve; found ones are added to
   * any given here); false: none. Several URLs (relays of the room that
   * cascade): the next is used when one fails.
   */
  relay?: string | readonly string[] | false
}

export type PeerEvent = { event: string; t: number } & Record<string, unknown>

/** Why `stoop peer` stops (the CLI prints the message as its one line). */
export class PeerFailure extends CodedError {}

export interface HeadlessPeer {
  readonly client: RoomClient
  readonly id: string
  /** Resolves when the peer stops; rejects with a PeerFailure on a fatal error. */
  readonly done: Promise<void>
  stop(): Promise<void>
}

const JOIN_TIMEOUT_MS = 15_000
/** Frames a remote track's queue holds for the mixer (10 ms each). */
const MIX_QUEUE_FRAMES = 50

export async function startHeadlessPeer(opts: HeadlessPeerOptions): Promise<HeadlessPeer> {
  const parsed = parseInvite(opts.link, Date.now())
  if (!parsed.ok) throw new PeerFailure(parsed.code, parsed.message)
  const invite = parsed.invite
  const identity = opts.identity ?? (opts.keyFile ? await loadOrCreateIdentity(opts.keyFile) : await generateIdentity())
  const emit = (event: string, fields: Record<string, unknown> = {}): void => opts.onEvent?.({ event, t: Date.now(), ...fields })
  const speech = opts.speak ? await loadSpeech(opts.speak) : null

  let fail!: (err: PeerFailure) => void
  let finish!: () => void
  const done = new Promise<void>((ok, ko) => {
    finish = ok
    fail = ko
  })
  // A failure can come while we are still starting (e.g. signalling unreachable), before
  // the caller holds `done`: mark it handled now so Node does not crash on it; the caller
  // still sees the rejection through `done`.
  done.catch(() => {})
  const { bus, closeTransport } = await openBus(opts, invite, identity, (err) => fail(err))
  const relayUrls: readonly string[] | null = opts.relay === false ? null : typeof opts.relay === 'string' ? [opts.relay] : (opts.relay ?? (opts.swarm ? [] : [relayUrlFor(invite)]))
  const client = new RoomClient({
    invite,
    identity,
    bus,
    wrtc: opts.wrtc ?? (wrtc as unknown as PeerWrtc),
    name: opts.name,
    limits: opts.limits,
    ...(opts.loopbackOnly ? { mesh: { peer: { acceptCandidate: isLoopbackCandidate } } } : {}),
    ...(relayUrls
      ? {
          relay: {
            url: relayUrls,
            WebSocket: WebSocket as unknown as RelayWebSocketClass,
            ...(opts.loopbackOnly ? { client: { sdpFilter: loopbackSdp } } : {}),
          },
        }
      : {}),
  })
  client.on('route', (via, relay) => emit('route', { via, relay }))
  const finder =
    opts.swarm && client.relay
      ? new RelayFinder({
          discovery: discoveryHex(deriveDiscoveryKey(invite.roomId)),
          bootstrap: opts.swarm.bootstrap,
          onRelays: (urls) => {
            emit('relays-found', { urls })
            client.relay?.addUrls(urls)
          },
        })
      : null
  const id = client.selfId
  const audioWrtc = wrtc as unknown as AudioWrtc

  // What we hear: one queue of 10 ms frames per remote track, mixed on a 10 ms clock. The
  // frames come from libwebrtc's own 10 ms playout clock through the event loop, so a busy
  // loop delivers them late, in a burst, after our timer has fired: a frame with no data
  // is mixed as silence only once a whole tick has passed since it was due (its frames had
  // their turn in the loop), and a queue holds up to 500 ms, so a stall of this process
  // delays what it hears instead of cutting holes in it.
  const queues = new Map<MediaStreamTrack, { from: string; via: Via; frames: Int16Array[] }>()
  const sinks = new Map<MediaStreamTrack, () => void>()
  const writer: WavFileWriter | null = opts.record ? await createWavFileWriter(opts.record, { sampleRate: SAMPLE_RATE, channels: 1 }) : null
  const levelAcc = new Map<string, number[]>()
  client.on('track', (from, track, _stream, via) => {
    queues.set(track, { from, via, frames: [] })
    sinks.set(
      track,
      attachSink(audioWrtc, track, (frame) => {
        const q = queues.get(track)
        if (!q) return
        q.frames.push(frame)
        if (q.frames.length > MIX_QUEUE_FRAMES) q.frames.shift() // bound latency if the mixer lags
      }),
    )
    emit('track', { from })
  })
  client.on('track-ended', (_from, track) => dropTrack(track))
  const dropTrack = (track: MediaStreamTrack): void => {
    sinks.get(track)?.()
    sinks.delete(track)
    queues.delete(track)
  }
  const start = performance.now()
  let mixed = 0
  let settled = 0
  const mixTimer = setInterval(() => {
    const due = Math.floor((performance.now() - start) / 10)
    for (; mixed < due; mixed++) {
      let waiting = false
      for (const q of queues.values()) if (q.frames.length > 0) waiting = true
      if (!waiting && mixed >= settled) break // may still be on its way: next tick
      const frames: Int16Array[] = []
      for (const q of queues.values()) {
        const f = q.frames.shift()
        if (!f || !client.mayPlay(q.from, q.via)) continue
        frames.push(f)
        const acc = levelAcc.get(q.from) ?? []
        acc.push(dbfs(f))
        levelAcc.set(q.from, acc)
      }
      const frame = frames.length ? mixFrames(frames) : new Int16Array(FRAME_SIZE)
      writer?.write(frame)
      opts.onHeard?.(frame)
    }
    settled = due
  }, 10)

  // What we say: the source runs all along; the mesh sends it only while we are a speaker.
  let source: AudioSourceHandle | null = null
  if (speech) {
    source =
      speech.kind === 'tone'
        ? createToneSource(audioWrtc, { freq: speech.freq })
        : speech.kind === 'frames'
          ? createFrameSource(audioWrtc, speech.next)
          : createPcmSource(audioWrtc, speech.audio, { loop: true })
    client.setLocalAudio({ track: source.track, stream: source.stream })
  }

  const acceptInvites = opts.acceptInvites ?? speech !== null
  let handRaised = false
  const answered = new Set<string>()
  client.on('state', (state, diff) => {
    emit('state', {
      stage: state.stage.map((s) => s.key),
      hands: state.hands.map((h) => h.key),
      moderators: [...state.moderators.keys()],
      ended: state.ended,
      diff: summarizeDiff(diff),
    })
    const invite = acceptInvites ? state.invites.find((i) => i.subject === id && !answered.has(i.id)) : undefined
    if (invite) {
      answered.add(invite.id)
      client.actor.acceptInvite(invite.id).then(
        () => emit('accepted-invite', { by: invite.by }),
        (err: Error) => emit('warning', { code: 'accept-failed', message: err.message }),
      )
    }
    if (opts.raiseHand && !handRaised && state.exists && !state.seatOf.has(id)) {
      handRaised = true
      client.actor.raiseHand().then(
        () => emit('hand-raised'),
        (err: Error) => emit('warning', { code: 'raise-failed', message: err.message }),
      )
    }
    if (opts.inviteHands && !state.ended) inviteHands(state)
    if (state.ended) emit('room-ended')
  })
  const invited = new Set<string>()
  const inviteHands = (state: RoomState): void => {
    const role = client.actor.role
    if (role !== 'owner' && role !== 'moderator') return
    for (const hand of state.hands) {
      if (invited.has(hand.raiseId) || state.seatOf.has(hand.key) || state.invites.some((i) => i.subject === hand.key)) continue
      invited.add(hand.raiseId)
      client.actor.inviteToStage(hand.key).then(
        () => emit('invited', { to: hand.key }),
        (err: Error) => emit('warning', { code: 'invite-failed', message: err.message }),
      )
    }
  }
  client.on('plan', (plan) => emit('plan', { mode: plan.mode, connect: plan.connect.length, sending: plan.sendAudioTo.length, playFrom: plan.playFrom, ...(plan.reason ? { reason: plan.reason } : {}) }))
  client.mesh.on('peer-connected', (peer) => emit('peer-connected', { peer }))
  client.mesh.on('peer-disconnected', (peer, reason) => emit('peer-disconnected', { peer, reason }))

  // Once the room exists (from the link or the first sync), claim what the link grants.
  const joinTimer = setTimeout(() => {
    if (!client.state.exists) fail(new PeerFailure('no-room', `No peer of this room answered within ${JOIN_TIMEOUT_MS / 1000} s: nobody holding its state is online.`))
  }, JOIN_TIMEOUT_MS)
  const tryJoin = (): void => {
    if (!client.state.exists || joined) return
    joined = true
    clearTimeout(joinTimer)
    client
      .join()
      .then(async () => {
        if (opts.name) await client.actor.setProfile({ name: opts.name })
        const role = client.actor.role
        if (speech && (role === 'owner' || role === 'moderator') && !client.state.seatOf.has(id)) {
          // Moderators with something to say invite themselves; the state handler accepts.
          await client.actor.inviteToStage(id)
        }
        emit('joined', { room: invite.roomId, id, role: client.actor.role })
      })
      .catch((err: Error & { code?: string }) => fail(new PeerFailure(err.code ?? 'join-failed', err.message)))
  }
  let joined = false
  client.on('state', tryJoin)
  await client.join().catch((err: Error & { code?: string }) => fail(new PeerFailure(err.code ?? 'join-failed', err.message)))
  tryJoin()

  const report = setInterval(
    async () => {
      const levels: Record<string, number> = {}
      for (const [from, acc] of levelAcc) levels[from] = Math.round(Math.max(...acc) * 10) / 10
      levelAcc.clear()
      if (Object.keys(levels).length) emit('audio-level', { dbfs: levels })
      const stats = await client.mesh.stats()
      if (stats.size) emit('stats', { peers: Object.fromEntries(stats) })
    },
    (opts.reportEvery ?? 1) * 1000,
  )

  let stopping: Promise<void> | null = null
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      clearTimeout(joinTimer)
      clearInterval(mixTimer)
      clearInterval(report)
      source?.stop()
      for (const track of [...sinks.keys()]) dropTrack(track)
      client.destroy()
      await Promise.all([closeTransport(), finder?.destroy()])
      await writer?.close()
      emit('stopped')
      finish()
    })())
  done.catch(() => stop())
  return { client, id, done, stop }
}

async function openBus(opts: HeadlessPeerOptions, invite: Invite, identity: Identity, fail: (err: PeerFailure) => void): Promise<{ bus: SignalBus; closeTransport: () => Promise<void> }> {
  const selfId = keyId(identity.publicKey)
  const discovery = deriveDiscoveryKey(invite.roomId)
  const key = await deriveSignalKey(invite.secretBytes)
  if (opts.swarm) {
    const inner = createSwarmBus({ topic: discovery, selfId, bootstrap: opts.swarm.bootstrap })
    const bus = new SealedBus(inner, key)
    bus.on('wrong-secret', () => fail(new PeerFailure('wrong-secret', 'This link does not open this room (wrong room key).')))
    return { bus, closeTransport: () => bus.destroy() }
  }
  const url = opts.signal ?? signalUrlFor(invite)
  const client = new SignalClient({ url, WebSocket: WebSocket as unknown as WebSocketClass })
  let opened = false
  client.on('open', () => (opened = true))
  client.on('error', (err: SignalError) => {
    if (err.code === 'wrong-secret') fail(new PeerFailure('wrong-secret', err.message))
    else if (err.code === 'signal-unreachable' && !opened) fail(new PeerFailure('signal-unreachable', `Cannot reach the signalling server at ${url}.`))
  })
  const bus = new WsBus({ client, topic: toBase64url(discovery), key, selfId })
  return {
    bus,
    closeTransport: async () => {
      await bus.destroy()
      client.destroy()
    },
  }
}

/** The relay that served the link also signals: ws(s)://<host>/signal. */
export function signalUrlFor(invite: Invite): string {
  return wsOrigin(invite) + '/signal'
}

/** ... and forwards audio past mesh size: ws(s)://<host>/relay. */
export function relayUrlFor(invite: Invite): string {
  return wsOrigin(invite) + '/relay'
}

function wsOrigin(invite: Invite): string {
  return (invite.origin ?? 'http://localhost:8787').replace(/^http/, 'ws')
}

async function loadSpeech(speak: SpeakSource) {
  if (speak.kind !== 'file') return speak
  const bytes = await readFile(speak.path).catch((err: Error) => {
    throw new PeerFailure('bad-audio-file', `Cannot read ${speak.path}: ${err.message}`)
  })
  try {
    return { kind: 'file' as const, audio: decodeWav(bytes) }
  } catch (err) {
    throw new PeerFailure('bad-audio-file', `${speak.path} is not a usable WAV file: ${(err as Error).message}`)
  }
}

function summarizeDiff(diff: object): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(diff)) if (Array.isArray(v) && v.length) out[k] = v.length
  return out
}
