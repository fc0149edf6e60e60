/**
 * The headless peer behind `stoop peer`: a real participant on Node, using
 * @roamhq/wrtc (or werift, `media`) for WebRTC. It joins through WebSocket signalling or hyperswarm,
 * syncs and validates the room like any client, sends a tone or a WAV file
 * while it is a speaker, records what it may hear (speakers only) mixed into a
 * WAV file, and reports what happens as events (one JSON line each with --json).
 */
import wrtc from '@roamhq/wrtc'
import WebSocket from 'ws'
import { RoomClient } from '../participant/room-client.ts'
import { generateIdentity, type Identity } from '../identity/index.ts'
import { loadOrCreateIdentity } from '../identity/store-node.ts'
import { parseInvite, type Invite } from '../invite/index.ts'
import { deriveDiscoveryKey } from '../room/index.ts'
import { errorCode } from '../base/errors.ts'
import { isLoopbackCandidate, loopbackSdp, type PeerWrtc } from '../net/peer.ts'
import { filterSdpCandidates, iceServersFor } from '../net/ice.ts'
import { RelayClient, type RelayClientOptions, type RelayWebSocketClass } from '../net/relay-client.ts'
import type { RelayError } from '../net/relay-socket.ts'
import { discoveryHex } from '../net/relay-protocol.ts'
import type { TopologyLimits } from '../net/topology.ts'
import { SAMPLE_RATE } from '../audio/tone.ts'
import { createWavFileWriter, type AudioWrtc } from '../node/audio-io.ts'
import { openMedia, type MediaKind } from '../node/media.ts'
import type { BootstrapNode } from '../node/dht.ts'
import { RelayFinder } from '../node/relay-finder.ts'
import { PeerFailure } from './failure.ts'
import { NodePlayback } from './node-playback.ts'
import { loadSpeech, startSpeech, type SpeakSource } from './speech.ts'
import { followStage, watchRemoval, type Emit } from './stage.ts'
import { watchEpochs } from './epochs.ts'
import { followModeration, gatedWriter, kickedUntilOf, type Moderation } from './moderation.ts'
import { followReactions, type HeadlessReactions } from './reactions.ts'
import { NodeE2ee } from './e2ee.ts'
import { openTransport, relayUrlFor, signalUrlFor } from './transport.ts'
import { followNetwork, type NetworkFollowOptions } from './network.ts'

export { PeerFailure } from './failure.ts'
export type { SpeakSource } from './speech.ts'
export { signalUrlFor, relayUrlFor } from './transport.ts'

export interface HeadlessPeerOptions {
  link: string
  /** WebSocket signalling URL; default: the link's host + /signal. */
  signal?: string
  /** Find peers on hyperswarm instead of signalling. */
  swarm?: { bootstrap: BootstrapNode[] }
  name?: string
  speak?: SpeakSource
  record?: string
  /** `announced` (what `stoop peer --record` does): record only while the room shows a recording (moderation.ts). Default 'always'. */
  recordWhen?: 'always' | 'announced'
  /** A chat message to send once joined (`--say`). */
  say?: string
  /** A reaction (one of REACTIONS) to send once joined and reaching someone (`--react`). */
  react?: string
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
  /** RTCPeerConnection implementation for the mesh. Default: that of `media`. */
  wrtc?: PeerWrtc
  /** Media implementation: 'wrtc' (@roamhq/wrtc, the default) or 'werift' (Opus payloads in our hands, src/node/media.ts). */
  media?: MediaKind
  /** End-to-end encrypt audio (SFrame, src/headless/e2ee.ts). Default: on with werift; wrtc cannot (no frame hook). */
  e2ee?: boolean
  /** Topology limits (mesh size, hard cap). Default DEFAULT_LIMITS. */
  limits?: TopologyLimits
  /** Use only 127.0.0.1/::1 ICE candidates (local tests, benches, single-machine demos). */
  loopbackOnly?: boolean
  /** ICE servers (`--ice`), replacing the default: the relay's own STUN (src/net/ice.ts). */
  ice?: readonly string[]
  /** Keep only the remote ICE candidates this accepts (tests in network namespaces keep their own addresses). */
  acceptCandidate?: (candidate: string) => boolean
  /**
   * Relay (SFU) WebSocket URL used past mesh size. Default: the relay that
   * served the link (ws(s)://<link host>/relay), or on hyperswarm the relays
   * found there (they announce the rooms they serve; found ones are added to
   * any given here); false: none. Several URLs (relays of the room that
   * cascade): the next is used when one fails.
   */
  relay?: string | readonly string[] | false
  /** Follow network switches (addresses polled, links restarted; src/headless/network.ts). Default on; false: off. */
  network?: NetworkFollowOptions | false
}

export type PeerEvent = { event: string; t: number } & Record<string, unknown>

export interface HeadlessPeer {
  readonly client: RoomClient
  readonly id: string
  /** Resolves when the peer stops; rejects with a PeerFailure on a fatal error. */
  readonly done: Promise<void>
  stop(): Promise<void>
}

const JOIN_TIMEOUT_MS = 15_000

export async function startHeadlessPeer(opts: HeadlessPeerOptions): Promise<HeadlessPeer> {
  const parsed = parseInvite(opts.link, Date.now())
  if (!parsed.ok) throw new PeerFailure(parsed.code, parsed.message)
  const invite = parsed.invite
  const identity = opts.identity ?? (opts.keyFile ? await loadOrCreateIdentity(opts.keyFile) : await generateIdentity())
  const firstAudio = firstAudioTimer()
  let moderation: Moderation | null = null
  let reactions: HeadlessReactions | null = null
  const emit: Emit = (event, fields = {}) => {
    if (event === 'joined') firstAudio.joined(emit)
    if (event === 'joined') queueMicrotask(() => void moderation?.joined(opts.say))
    if (event === 'joined' && opts.react !== undefined) queueMicrotask(() => sendReaction(reactions, opts.react!, emit))
    opts.onEvent?.({ event, t: Date.now(), ...fields })
  }
  const speech = opts.speak ? await loadSpeech(opts.speak) : null
  const life = lifetime()
  const e2ee = openE2ee(opts, identity, invite, emit)
  const transport = await openTransport(opts, invite, identity, life.fail)
  const media = openMedia({ kind: opts.media ?? 'wrtc', wrtc: wrtc as unknown as PeerWrtc & AudioWrtc, loopbackOnly: opts.loopbackOnly, ...(e2ee ? { transform: e2ee.transforms } : {}) })
  // A kicked key coming back is refused by the relay before it syncs anything: the refusal says until when.
  const onRelayError = (err: RelayError): void => {
    const until = kickedUntilOf(err)
    if (until !== null) moderation?.refusedAsKicked(until)
  }
  const client = createClient(opts, invite, identity, transport.bus, media, onRelayError)
  const unfollow = e2ee?.follow(client.epochs)
  const finder = opts.swarm && client.relay ? findRelays(client, invite, opts.swarm.bootstrap, emit) : null
  const audioWrtc: AudioWrtc = media

  const file = opts.record ? await createWavFileWriter(opts.record, { sampleRate: SAMPLE_RATE, channels: 1 }) : null
  const writer = file && gatedWriter(file, () => moderation?.recording() ?? false)
  const playback = new NodePlayback({
    wrtc: audioWrtc,
    allowed: (id, via) => client.mayPlay(id, via),
    writer,
    onFirstHeard: (from) => firstAudio.heard(from, emit),
    ...(opts.onHeard ? { onHeard: opts.onHeard } : {}),
  })
  client.on('track', (from, track, _stream, via) => {
    e2ee?.attribute(track, from) // before the sink exists: its first frames open with this sender's key
    playback.add(from, track, via)
    emit('track', { from })
  })
  client.on('track-ended', (_from, track) => playback.remove(track))
  const source = speech ? startSpeech(audioWrtc, speech) : null
  if (source) client.setLocalAudio({ track: source.track, stream: source.stream })
  const record = opts.record ? (opts.recordWhen ?? 'always') : 'off'
  moderation = followModeration(client, { local: source && { track: source.track, stream: source.stream }, record, emit, fail: life.fail })
  reactions = followReactions(client, emit)

  followStage(client, { acceptInvites: opts.acceptInvites ?? speech !== null, raiseHand: opts.raiseHand ?? false, inviteHands: opts.inviteHands ?? false }, emit)
  watchRemoval(client, emit, life.fail)
  watchEpochs(client, transport, emit, life.fail)
  reportRouting(client, emit)
  const unfollowNetwork = opts.network === false ? null : followNetwork(client, transport, emit, opts.network)
  const joining = joinWhenPresent(client, { name: opts.name, takeStage: speech !== null }, emit, life.fail)
  const report = setInterval(() => void reportAudio(client, playback, e2ee, emit), (opts.reportEvery ?? 1) * 1000)

  let stopping: Promise<void> | null = null
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      joining.cancel()
      clearInterval(report)
      unfollow?.()
      unfollowNetwork?.()
      playback.close()
      source?.stop()
      reactions?.stop()
      await moderation?.stop()
      client.destroy()
      await Promise.all([transport.close(), finder?.destroy()])
      await writer?.close()
      emit('stopped')
      life.finish()
    })())
  life.done.catch(() => stop())
  await joining.started
  return { client, id: client.selfId, done: life.done, stop }
}

/**
 * `done` resolves when the peer stops and rejects on a fatal failure. A failure can come
 * while we are still starting (e.g. signalling unreachable), before the caller holds
 * `done`: it is marked handled here so Node does not crash on it; the caller still sees
 * the rejection through `done`.
 */
function lifetime(): { done: Promise<void>; finish: () => void; fail: (err: PeerFailure) => void } {
  let finish!: () => void
  let fail!: (err: PeerFailure) => void
  const done = new Promise<void>((ok, ko) => {
    finish = ok
    fail = ko
  })
  done.catch(() => {})
  return { done, finish, fail }
}

function createClient(opts: HeadlessPeerOptions, invite: Invite, identity: Identity, bus: RoomClient['opts']['bus'], media: PeerWrtc, onRelayError: (err: RelayError) => void): RoomClient {
  // Default relay: the one that served the link; on hyperswarm, the ones found there.
  const relayUrls: readonly string[] | null = opts.relay === false ? null : typeof opts.relay === 'string' ? [opts.relay] : (opts.relay ?? (opts.swarm ? [] : [relayUrlFor(invite)]))
  const iceServers = iceServersFor({ servers: opts.ice, relayUrl: relayUrls?.[0] ?? opts.signal ?? (opts.swarm ? null : signalUrlFor(invite)), loopbackOnly: opts.loopbackOnly })
  const accept = opts.loopbackOnly ? isLoopbackCandidate : opts.acceptCandidate
  return new RoomClient({
    invite,
    identity,
    bus,
    wrtc: opts.wrtc ?? media,
    name: opts.name,
    limits: opts.limits,
    mesh: { peer: { config: { iceServers }, ...(accept ? { acceptCandidate: accept } : {}) } },
    ...(relayUrls
      ? {
          relay: {
            url: relayUrls,
            WebSocket: WebSocket as unknown as RelayWebSocketClass,
            createClient: (o: RelayClientOptions) => {
              const relay = new RelayClient(o)
              relay.on('error', onRelayError)
              return relay
            },
            client: {
              // The relay has a public address: its checks learn ours, so only servers the user
              // gave (TURN, for networks without UDP) are worth gathering for.
              ...(opts.ice?.length ? { rtcConfig: { iceServers } } : {}),
              ...(opts.loopbackOnly ? { sdpFilter: loopbackSdp } : accept ? { sdpFilter: filterSdpCandidates(accept) } : {}),
            },
          },
        }
      : {}),
  })
}

function findRelays(client: RoomClient, invite: Invite, bootstrap: BootstrapNode[], emit: Emit): RelayFinder {
  return new RelayFinder({
    discovery: discoveryHex(deriveDiscoveryKey(invite.roomId)),
    bootstrap,
    onRelays: (urls) => {
      emit('relays-found', { urls })
      client.relay?.addUrls(urls)
    },
  })
}

/**
 * `first-audio {from, ms}`: ms from `joined` to when that speaker was first heard. Heard
 * before `joined` was emitted (its profile was still being signed) counts as 0, emitted
 * right after `joined`.
 */
function firstAudioTimer(): { joined: (emit: Emit) => void; heard: (from: string, emit: Emit) => void } {
  let joinedAt: number | null = null
  const early: string[] = []
  const report = (from: string, at: number, emit: Emit): void => emit('first-audio', { from, ms: Math.max(0, Math.round(at - joinedAt!)) })
  return {
    joined(emit) {
      if (joinedAt !== null) return
      joinedAt = performance.now()
      // After 'joined' itself is out (this runs just before it is emitted).
      queueMicrotask(() => {
        for (const from of early.splice(0)) report(from, joinedAt!, emit)
      })
    },
    heard(from, emit) {
      if (joinedAt === null) early.push(from)
      else report(from, performance.now(), emit)
    },
  }
}

function reportRouting(client: RoomClient, emit: Emit): void {
  client.on('route', (via, relay) => emit('route', { via, relay }))
  client.on('pair-route', (peer, via) => emit('pair-route', { peer, via }))
  client.on('plan', (plan) => emit('plan', { mode: plan.mode, connect: plan.connect.length, sending: plan.sendAudioTo.length, playFrom: plan.playFrom, ...(plan.reason ? { reason: plan.reason } : {}) }))
  client.mesh.on('peer-connected', (peer) => emit('peer-connected', { peer }))
  client.mesh.on('peer-synced', (peer) => emit('peer-synced', { peer }))
  client.mesh.on('peer-disconnected', (peer, reason) => emit('peer-disconnected', { peer, reason }))
}

async function reportAudio(client: RoomClient, playback: NodePlayback, e2ee: NodeE2ee | null, emit: Emit): Promise<void> {
  const levels = playback.takeLevels()
  if (Object.keys(levels).length) emit('audio-level', { dbfs: levels })
  const stats = await client.mesh.stats()
  const relay = await client.relay?.stats().catch(() => null)
  if (stats.size || e2ee || relay) emit('stats', { peers: Object.fromEntries(stats), ...(relay ? { relay } : {}), ...(e2ee ? { e2ee: e2ee.stats } : {}) })
}

/** One keyring per process and identity (its counter spans all connections); null when off. */
function openE2ee(opts: HeadlessPeerOptions, identity: Identity, invite: Invite, emit: Emit): NodeE2ee | null {
  const werift = opts.media === 'werift'
  const on = opts.e2ee ?? werift
  if (!on) return null
  if (!werift) throw new PeerFailure('bad-option', 'end-to-end encryption needs --media werift (@roamhq/wrtc has no frame hook)')
  return new NodeE2ee({ self: identity.publicKey, linkSecret: invite.secretBytes, linkEpoch: invite.epoch, onError: (err) => emit('error', { message: err.message }) })
}

function sendReaction(reactions: HeadlessReactions | null, emoji: string, emit: Emit): void {
  if (reactions && !reactions.send(emoji)) emit('warning', { code: 'react-failed', message: `"${emoji}" is not one of the reactions, or came within a second of the last` })
}

function warnNoSecret(err: unknown, emit: Emit): void {
  if (errorCode(err) !== 'no-epoch-secret') throw err
  emit('warning', { code: 'name-not-written', message: (err as Error).message })
}

/**
 * Once the room exists (from the link, or the first sync from a member) claims what the
 * link grants, signs the name, and (a moderator with something to say) invites itself to
 * the stage; `joined` is emitted then. Nobody answering within JOIN_TIMEOUT_MS is fatal.
 */
function joinWhenPresent(client: RoomClient, opts: { name: string | undefined; takeStage: boolean }, emit: Emit, fail: (err: PeerFailure) => void): { started: Promise<void>; cancel: () => void } {
  const failed = (err: unknown): void => fail(new PeerFailure(errorCode(err) ?? 'join-failed', (err as Error).message))
  const timer = setTimeout(() => {
    if (!client.state.exists) fail(new PeerFailure('no-room', `No peer of this room answered within ${JOIN_TIMEOUT_MS / 1000} s: nobody holding its state is online.`))
  }, JOIN_TIMEOUT_MS)
  let joined = false
  const tryJoin = (): void => {
    if (!client.state.exists || joined) return
    joined = true
    clearTimeout(timer)
    client
      .join()
      .then(async () => {
        // The name is sealed in the room's current epoch (docs/room-rules.md §9); a peer whose link was
        // replaced holds none, and hears so through 'replaced' rather than a failed join.
        if (opts.name) await client.actor.setProfile({ name: opts.name }).catch((err: unknown) => warnNoSecret(err, emit))
        const role = client.actor.role
        if (opts.takeStage && (role === 'owner' || role === 'moderator') && !client.state.seatOf.has(client.selfId)) {
          // Moderators with something to say invite themselves; followStage accepts.
          await client.actor.inviteToStage(client.selfId)
        }
        emit('joined', { room: client.state.roomId, id: client.selfId, role: client.actor.role })
      })
      .catch(failed)
  }
  const off = client.on('state', tryJoin)
  const started = client.join().then(tryJoin, failed)
  return {
    started,
    cancel: () => {
      clearTimeout(timer)
      off()
    },
  }
}
