/**
 * The relay as an SFU, end to end on 127.0.0.1: a real relay (HTTP + /relay
 * WebSocket + werift forwarder + room doc replica on disk) and RelayClients
 * on @roamhq/wrtc. Room state flows through the relay (star sync); the relay
 * validates speakers from the signed log it holds, without the room secret.
 *
 *   1. the owner syncs the room to the relay and invites a speaker, who accepts
 *   2. the speaker publishes 440 Hz, the owner 660 Hz; 10 listeners hear both
 *      and not 1000 Hz; the speaker hears the owner and never itself
 *   3. a listener's publish is refused (not-speaker) and counted in /metrics
 *   4. the owner moves the speaker to the audience: the relay stops forwarding
 *      it (and only it)
 *   5. the relay shuts down (clients get `bye`) and restarts on the same --data:
 *      a newcomer syncs the whole room log from it
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import wrtc from '@roamhq/wrtc'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { attachSink, createToneSource, type AudioSourceHandle } from '../../src/node/audio-io.ts'
import { fromBase64url, generateIdentity, keyId, type Identity } from '../../src/identity/index.ts'
import { checkRemoteUpdate, createRoom, deriveDiscoveryKey, membershipKey, RoomActor, RoomReplica, type CreatedRoom } from '../../src/room/index.ts'
import { attachSync } from '../../src/net/sync.ts'
import { RelayClient, type RelayError, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { discoveryHex } from '../../src/net/relay-protocol.ts'
import { detectTones, hasTone } from '../../src/audio/goertzel.ts'
import { SAMPLE_RATE } from '../../src/audio/tone.ts'
import { revealText } from '../../src/room/reveal.ts'
import { waitFor } from '../helpers/wait.ts'

const until = (what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> => waitFor(what, cond, timeoutMs)

/** Keep only 127.0.0.1 UDP candidates so no packet leaves loopback. */
function loopbackOnly(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || (/ 127\.0\.0\.1 \d+ typ host/.test(l) && / udp /i.test(l)))
    .join('\r\n')
}

const WS = WebSocket as unknown as RelayWebSocketClass
const LISTENERS = 10

interface Member {
  identity: Identity
  id: string
  doc: Y.Doc
  replica: RoomReplica
  actor: RoomActor
  client: RelayClient
  closed: RelayError | null | undefined
  /** Last 200 ms of audio per publisher id. */
  heard: Map<string, Int16Array>
  stop(): void
}

function startRelayOn(data: string): Promise<Relay> {
  return startRelay({
    port: 0,
    host: '127.0.0.1',
    log: silentLogger,
    data,
    rooms: {
      peerConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false },
      sdpFilter: loopbackOnly,
      storeDebounceMs: 100,
    },
  })
}

async function enter(relay: Relay, room: CreatedRoom, opts: { identity?: Identity; doc?: Y.Doc; listen?: boolean } = {}): Promise<Member> {
  const identity = opts.identity ?? (await generateIdentity())
  const doc = opts.doc ?? new Y.Doc()
  const replica = new RoomReplica(doc, { roomId: room.roomId })
  // Members prove the room's epoch 0 (the link's secret, docs/room-rules.md §8).
  const epoch0 = membershipKey(fromBase64url(room.secret)!)
  const client = new RelayClient({ WebSocket: WS, wrtc, sdpFilter: loopbackOnly, member: () => epoch0 })
  const heard = new Map<string, Int16Array>()
  const sinks: Array<() => void> = []
  const member: Member = {
    identity,
    id: keyId(identity.publicKey),
    doc,
    replica,
    actor: new RoomActor(replica, identity),
    client,
    closed: undefined,
    heard,
    stop() {
      for (const s of sinks) s()
      client.destroy()
      replica.destroy()
    },
  }
  client.on('close', (err) => (member.closed = err))
  await client.connect(`${relay.url.replace('http', 'ws')}/relay`, room.roomId, identity)
  attachSync(doc, null, client.link, {
    acceptUpdate: (u) => checkRemoteUpdate(u).ok,
  })
  if (opts.listen) {
    // A reused section fires 'track' again with the new publisher: one sink per track.
    const publisherOf = new Map<MediaStreamTrack, string>()
    client.on('track', (publisherId, track) => {
      const known = publisherOf.has(track)
      publisherOf.set(track, publisherId)
      if (known) return
      sinks.push(
        attachSink(wrtc, track, (frame) => {
          const id = publisherOf.get(track)!
          const prev = heard.get(id) ?? new Int16Array(0)
          const joined = new Int16Array(prev.length + frame.length)
          joined.set(prev)
          joined.set(frame, prev.length)
          heard.set(id, joined.subarray(Math.max(0, joined.length - SAMPLE_RATE / 5)))
        }),
      )
    })
    await client.subscribe()
  }
  return member
}

function hears(m: Member, publisher: string, freq: number, absent: number[]): boolean {
  const block = m.heard.get(publisher)
  if (!block || block.length < SAMPLE_RATE / 5) return false
  const [want, ...others] = detectTones(block, SAMPLE_RATE, [freq, ...absent])
  return hasTone(want!) && others.every((r) => !hasTone(r, { minRatio: 0.05 }))
}

describe('relay SFU with RelayClients', () => {
  let data: string
  let relay: Relay
  let room: CreatedRoom
  let owner: Member
  let speaker: Member
  let tone: AudioSourceHandle
  const listeners: Member[] = []
  const cleanup: Array<() => unknown> = []

  beforeAll(async () => {
    data = await mkdtemp(join(tmpdir(), 'stoop-relay-'))
    relay = await startRelayOn(data)
    const ownerId = await generateIdentity()
    room = await createRoom(ownerId, { title: 'Relay room' })
    owner = await enter(relay, room, { identity: ownerId, doc: room.doc })
    cleanup.push(() => owner.stop())
  })

  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
    await relay?.close()
    await rm(data, { recursive: true, force: true })
    // Nothing left running: no relay sockets, werift UDP ports or timers.
    await new Promise((r) => setTimeout(r, 300))
    expect(process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap' || r === 'TCPWrap' || r === 'TCPServerWrap' || r === 'Timeout')).toEqual([])
  })

  it('forwards a validated speaker to 10 listeners; refuses a listener; stops on move; keeps the log across a restart', async () => {
    // 1. A speaker joins through the relay (listening too), is invited by the owner and accepts.
    speaker = await enter(relay, room, { listen: true })
    cleanup.push(() => speaker.stop())
    await until('the speaker sees the room', () => speaker.replica.state.exists)
    await owner.actor.inviteToStage(speaker.id)
    await until('the invite reaches the speaker', () => speaker.replica.state.invites.some((i) => i.subject === speaker.id))
    await speaker.actor.acceptInvite()
    expect(speaker.actor.role).toBe('speaker')

    // 2. It publishes a 440 Hz tone, the owner (on stage since creating the room) 660 Hz; 10 listeners hear both.
    tone = createToneSource(wrtc, { freq: 440 })
    cleanup.push(() => tone.stop())
    await speaker.client.publish(tone.track, tone.stream)
    expect(speaker.client.publishing).toBe(true)
    const ownerTone = createToneSource(wrtc, { freq: 660 })
    cleanup.push(() => ownerTone.stop())
    await owner.client.publish(ownerTone.track, ownerTone.stream)
    for (let i = 0; i < LISTENERS; i++) {
      const l = await enter(relay, room, { listen: true })
      listeners.push(l)
      cleanup.push(() => l.stop())
    }
    for (const l of listeners) {
      await until(`listener ${l.id.slice(0, 6)} hears 440 Hz from the speaker`, () => hears(l, speaker.id, 440, [1000, 660]))
      await until(`listener ${l.id.slice(0, 6)} hears 660 Hz from the owner`, () => hears(l, owner.id, 660, [1000, 440]))
    }
    // The speaker hears the owner, never itself.
    await until('the speaker hears the owner', () => hears(speaker, owner.id, 660, [440]))
    expect(speaker.heard.has(speaker.id)).toBe(false)
    for (const l of listeners) expect([...l.client.publishers].sort()).toEqual([speaker.id, owner.id].sort())
    const roomOnRelay = relay.rooms.room(discoveryHex(deriveDiscoveryKey(room.roomId)))!
    // 11 subscribers hear the owner, 10 of them hear the speaker (not the speaker itself).
    expect(roomOnRelay.forwarderStats).toMatchObject({ publishers: 2, subscribers: LISTENERS + 1, streams: 2 * LISTENERS + 1 })
    // The room state reached everyone through the relay (star sync).
    await until('listeners see the speaker on stage', () => listeners.every((l) => l.replica.state.seatOf.has(speaker.id)))

    // 3. A listener trying to publish 1000 Hz is refused and counted; nobody hears 1000 Hz.
    const sneaky = listeners[0]!
    const fake = createToneSource(wrtc, { freq: 1000 })
    cleanup.push(() => fake.stop())
    await expect(sneaky.client.publish(fake.track, fake.stream)).rejects.toMatchObject({ code: 'publish-refused', reason: 'not-speaker' })
    expect(relay.metrics.value('stoop_relay_rejected_publish_total', { reason: 'not-speaker' })).toBe(1)
    const text = await (await fetch(`${relay.url}/metrics`)).text()
    expect(text).toMatch(/^stoop_relay_rejected_publish_total\{reason="not-speaker"\} 1$/m)
    expect(text).toMatch(new RegExp(`^stoop_relay_streams ${2 * LISTENERS + 1}$`, 'm'))
    expect(text).toMatch(/^stoop_relay_peers\{role="speaker"\} 1$/m)
    expect(text).toMatch(/^stoop_relay_peers\{role="owner"\} 1$/m)
    expect(text).toMatch(new RegExp(`^stoop_relay_peers\\{role="listener"\\} ${LISTENERS}$`, 'm'))
    expect(text).toMatch(/^stoop_relay_event_loop_lag_seconds\{quantile="0.99"\} [0-9.e-]+$/m)
    expect(relay.metrics.value('stoop_relay_packets_total', { direction: 'out' })).toBeGreaterThan(relay.metrics.value('stoop_relay_packets_total', { direction: 'in' }))
    for (const l of listeners) await until('440 Hz still flowing after the refusal', () => hears(l, speaker.id, 440, [1000]), 5000)
    expect(listeners.every((l) => [...l.heard.keys()].every((id) => id === speaker.id || id === owner.id))).toBe(true)

    // 4. The owner moves the speaker to the audience: the relay stops forwarding it, the owner goes on.
    const unpublished = new Promise<string>((ok) => speaker.client.on('unpublished', ok))
    const ended = listeners.map((l) => new Promise<string>((ok) => l.client.on('track-ended', (id) => ok(id))))
    await owner.actor.moveToAudience(speaker.id)
    expect(await unpublished).toBe('not-speaker')
    expect(await Promise.all(ended)).toEqual(listeners.map(() => speaker.id))
    expect(roomOnRelay.publishers).toEqual([owner.id])
    expect(roomOnRelay.forwarderStats).toMatchObject({ publishers: 1, streams: LISTENERS + 1 })
    expect(relay.metrics.value('stoop_relay_revoked_publish_total')).toBe(1)
    for (const l of listeners) l.heard.clear()
    await new Promise((r) => setTimeout(r, 1000))
    for (const l of listeners) {
      expect(hears(l, speaker.id, 440, [])).toBe(false)
      await until('the owner still heard', () => hears(l, owner.id, 660, [440]), 5000)
    }
    // Publishing again is refused now.
    await expect(speaker.client.publish(tone.track, tone.stream)).rejects.toMatchObject({ reason: 'not-speaker' })

    // 5. Graceful shutdown: clients are told to move; the doc is on disk.
    await relay.close()
    await until('clients see the bye', () => owner.closed !== undefined && listeners.every((l) => l.closed !== undefined))
    expect(owner.closed?.code).toBe('relay-bye')
    expect((await readdir(data)).filter((f) => f.endsWith('.yjs'))).toEqual([`${discoveryHex(deriveDiscoveryKey(room.roomId))}.yjs`])

    relay = await startRelayOn(data)
    const newcomer = await enter(relay, room)
    cleanup.push(() => newcomer.stop())
    await until('the newcomer receives the log from the restarted relay', () => newcomer.replica.entries.length === owner.replica.entries.length)
    const state = newcomer.replica.state
    expect(state.exists).toBe(true)
    // The title is sealed (docs/room-rules.md §9): a member opens it with the link's secret.
    expect(revealText(state, (n) => (n === 0 ? fromBase64url(room.secret)! : null)).title).toBe('Relay room')
    expect(state.seatOf.has(speaker.id)).toBe(false)
    expect(state.seatOf.has(owner.id)).toBe(true)
    // The restarted relay validates from the stored log: the owner may publish, the moved speaker may not.
    const reloaded = relay.rooms.room(discoveryHex(deriveDiscoveryKey(room.roomId)))!
    await reloaded.replica!.whenSettled()
    expect(reloaded.mayPublish(owner.id).ok).toBe(true)
    expect(reloaded.mayPublish(speaker.id)).toMatchObject({ ok: false, reason: 'not-speaker' })
  }, 180_000)
})
