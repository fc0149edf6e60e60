/**
 * Valid inputs for every fuzz target, made by the project's own encoders (signed entries, real
 * Yjs updates, sealed signalling payloads, signed mesh messages, invite links, WAV files). They
 * are the mutation fuzzer's starting corpus, with the files under test/fuzz/corpus/<target>/.
 * Built once per worker; key generation is the slow part (~50 ms).
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness'
import { TypedEmitter } from '../../src/base/emitter.ts'
import { keyId, randomBytes, toBase64url, type Identity } from '../../src/identity/index.ts'
import { formatInvite } from '../../src/invite/index.ts'
import { encodeWav, createWavStreamEncoder } from '../../src/audio/wav.ts'
import { deriveDiscoveryKey, encodePass, entryId, signEntry, LOG_NAME } from '../../src/room/index.ts'
import { idBytes } from '../../src/room/codec.ts'
import { encodeWire } from '../../src/net/mesh-wire.ts'
import { PeerLink } from '../../src/net/peer-link.ts'
import type { Peer } from '../../src/net/peer.ts'
import { discoveryHex, encodeRelayMessage } from '../../src/net/relay-protocol.ts'
import { deriveSignalKey, sealPayload } from '../../src/net/room-crypto.ts'
import { encodeSignalMessage } from '../../src/net/signal-protocol.ts'
import { encodeStep1, encodeStep2, encodeSyncMessage, encodeUpdate } from '../../src/net/sync.ts'
import { identities, kid, RoomBuilder, T0 } from '../unit/room/helpers.ts'

export const SDP = [
  'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'a=msid-semantic: WMS',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0', 'a=ice-ufrag:Fz1b', 'a=ice-pwd:8rH1xJm3mV0aP9cKq2Ld7sYw',
  'a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF', 'a=setup:actpass',
  'a=mid:0', 'a=sendrecv', 'a=rtcp-mux', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=32000',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=sctp-port:5000', 'a=max-message-size:262144', '',
].join('\r\n')
export const CANDIDATE = 'candidate:842163049 1 udp 1677729535 127.0.0.1 53705 typ host generation 0 ufrag Fz1b network-cost 999'

/** What the targets need besides the corpus: the room's names and keys. */
export interface FuzzContext {
  roomId: string
  discovery: string
  /** Sender and addressee of the sample mesh messages (real keys). */
  wireFrom: string
  wireTo: string
  /** Key ids of the room's members, for arbitraries. */
  keyIds: string[]
  secret: string
}

export type Samples = Record<string, Array<Uint8Array | string>>

/** Signs one entry of every kind (and two with causal references) into a room log. */
async function roomLog(owner: Identity, mod: Identity, speaker: Identity, listener: Identity): Promise<{ b: RoomBuilder; passes: Uint8Array[] }> {
  const b = await RoomBuilder.create(owner, 'Fuzz room ☕')
  const g = b.genesisId
  const grant = await b.grant(mod)
  const [, seat] = await b.seat(speaker)
  const raise = await b.add(listener, { kind: 'raise', nonce: randomBytes(16) })
  await b.add(listener, { kind: 'lower', raise })
  await b.add(listener, { kind: 'profile', seq: 3, name: b.text(listener, 'name', 'Listener ünï'), muted: true })
  await b.add(owner, { kind: 'meta', auth: g, title: b.text(owner, 'title', 'New title'), topic: b.text(owner, 'topic', 'A topic\nwith lines') })
  const ban = await b.add(mod, { kind: 'ban', auth: grant, subject: kid(listener) })
  await b.add(owner, { kind: 'unban', auth: g, target: ban })
  await b.add(speaker, { kind: 'leave', seat })
  await b.add(owner, { kind: 'move', auth: g, seat })
  const invite = await b.add(owner, { kind: 'invite', auth: g, subject: kid(listener) })
  await b.add(listener, { kind: 'decline', invite })
  await b.add(owner, { kind: 'revoke', auth: g, target: grant })
  const speakerPass = await b.link(owner, { role: 'speaker', singleUse: true })
  const modPass = await b.link(owner, { role: 'moderator', expiresAt: T0 + 86_400_000 })
  await b.redeem(listener, speakerPass)
  const heads = [entryId(b.bytes.at(-1)!), entryId(b.bytes.at(-2)!)].sort((x, y) => Buffer.compare(idBytes(x), idBytes(y)))
  b.bytes.push(await signEntry(speaker, b.roomId, b.now, { kind: 'profile', seq: 4, name: b.text(speaker, 'name', ''), muted: false }, heads))
  b.bytes.push(await signEntry(owner, b.roomId, b.now + 1, { kind: 'end', auth: g }, heads.slice(0, 1)))
  return { b, passes: [encodePass(speakerPass), encodePass(modPass), speakerPass.grant] }
}

/** Real updates of the room log, and decodable ones of the shapes the guard refuses. */
function yjsUpdates(entries: Uint8Array[]): { updates: Uint8Array[]; doc: Y.Doc } {
  // Fixed client ids: a saved input that names the samples' structs (an origin, a clock) replays the same way.
  const doc = new Y.Doc()
  doc.clientID = 1
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  const log = doc.getArray<Uint8Array>(LOG_NAME)
  for (const e of entries.slice(0, 6)) log.push([e])
  log.push(entries.slice(6, 9))
  const other = new Y.Doc()
  other.clientID = 2
  Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
  other.on('update', (u: Uint8Array) => updates.push(u))
  other.getArray<Uint8Array>(LOG_NAME).insert(2, entries.slice(9, 11)) // items that name their neighbours: inferred parent
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(other))
  for (const e of entries.slice(11)) log.push([e])
  updates.push(Y.encodeStateAsUpdate(doc), Y.encodeStateAsUpdate(new Y.Doc()))
  const bad = new Y.Doc()
  bad.clientID = 3
  bad.on('update', (u: Uint8Array) => updates.push(u))
  bad.getArray<unknown>(LOG_NAME).push(['text', 7, { a: [1] }, new Uint8Array(3000)])
  bad.getMap('m').set('k', new Uint8Array(4))
  bad.getText('t').insert(0, 'hello')
  bad.getArray<unknown>(LOG_NAME).delete(0, 2)
  updates.push(Y.encodeStateAsUpdate(bad))
  return { updates, doc }
}

function awarenessUpdates(ids: string[]): Uint8Array[] {
  const out: Uint8Array[] = []
  const docWithId = (id: number): Y.Doc => Object.assign(new Y.Doc(), { clientID: id })
  const a = new Awareness(docWithId(11))
  const b = new Awareness(docWithId(12))
  try {
    a.setLocalState({ name: 'Ann', level: 0.25, id: ids[0] })
    out.push(encodeAwarenessUpdate(a, [a.clientID]))
    b.setLocalState({ name: '', level: 0 })
    b.setLocalStateField('id', ids[1])
    out.push(encodeAwarenessUpdate(b, [b.clientID]))
    a.setLocalState(null)
    out.push(encodeAwarenessUpdate(a, [a.clientID]))
    const states = new Map([...a.getStates(), ...b.getStates()])
    const both = new Awareness(docWithId(13))
    both.setLocalState({ name: 'Hub' })
    for (const [id, state] of states) both.states.set(id, state)
    both.meta.set(b.clientID, { clock: 3, lastUpdated: 0 })
    out.push(encodeAwarenessUpdate(both, [both.clientID, b.clientID]))
    both.destroy()
  } finally {
    a.destroy()
    b.destroy()
  }
  return out
}

class CapturePeer extends TypedEmitter<{ data: (b: Uint8Array) => void; close: () => void }> {
  readonly sent: Uint8Array[] = []
  send(b: Uint8Array): void {
    this.sent.push(b)
  }
}

/** A peer-link input: the data-channel chunks one after another, each as varuint length + bytes. */
export function chunkStream(chunks: Uint8Array[]): Uint8Array {
  const enc = encoding.createEncoder()
  for (const c of chunks) encoding.writeVarUint8Array(enc, c)
  return encoding.toUint8Array(enc)
}

function peerLinkStreams(messages: Uint8Array[]): Uint8Array[] {
  const peer = new CapturePeer()
  const link = new PeerLink(peer as unknown as Peer)
  const out: Uint8Array[] = []
  for (const m of messages) {
    peer.sent.length = 0
    link.send(m)
    out.push(chunkStream(peer.sent.slice()))
  }
  link.close()
  return out
}

function wavFiles(): Uint8Array[] {
  const tone = Int16Array.from({ length: 64 }, (_, i) => Math.round(8000 * Math.sin(i / 3)))
  const mono = encodeWav({ sampleRate: 8000, channels: 1, samples: tone })
  const stereo = encodeWav({ sampleRate: 48000, channels: 2, samples: tone })
  // A LIST chunk of odd size (one pad byte) between fmt and data.
  const list = new Uint8Array([...new TextEncoder().encode('LIST'), 5, 0, 0, 0, 1, 2, 3, 4, 5, 0])
  const withList = new Uint8Array([...mono.subarray(0, 36), ...list, ...mono.subarray(36)])
  // WAVE_FORMAT_EXTENSIBLE: a 40-byte fmt whose SubFormat GUID starts with the PCM tag.
  const ext = new Uint8Array(mono.length + 24)
  ext.set(mono.subarray(0, 36))
  const v = new DataView(ext.buffer)
  v.setUint32(16, 40, true)
  v.setUint16(20, 0xfffe, true)
  v.setUint16(36, 22, true)
  v.setUint16(44, 1, true)
  ext.set(mono.subarray(36), 60)
  const stream = createWavStreamEncoder({ sampleRate: 16000, channels: 1 })
  const cut = new Uint8Array([...stream.start(), ...stream.append(tone.subarray(0, 10))])
  return [mono, stereo, withList, ext, cut, encodeWav({ sampleRate: 44100, channels: 2, samples: new Int16Array(0) })]
}

function invites(ctx: { origin: string; roomId: string; secret: string; genesis: Uint8Array }, passes: Uint8Array[]): string[] {
  const base = { origin: ctx.origin, roomId: ctx.roomId, secret: ctx.secret }
  const full = formatInvite({ ...base, genesis: ctx.genesis })
  const out = [formatInvite(base), full, full.slice(full.indexOf('#')), `${ctx.origin}/#/r/${ctx.roomId}?k=${ctx.secret}`, `  ${full}\n`]
  out.push(`${full}&g=${toBase64url(passes[0]!)}`, `https://stoop.example:8443/app/#/r/${ctx.roomId}/?k=${ctx.secret}&g=${toBase64url(passes[1]!)}`)
  out.push(`${full.replace(/c=[^&]+/, 'c=' + toBase64url(randomBytes(12)))}`, `#/r/${ctx.roomId}`)
  return out
}

function signalFrames(topic: string, sealed: string, ids: string[]): string[] {
  return [
    encodeSignalMessage({ type: 'subscribe', topics: [topic, 'y-webrtc room'] }),
    encodeSignalMessage({ type: 'unsubscribe', topics: [topic] }),
    encodeSignalMessage({ type: 'publish', topic, data: sealed }),
    encodeSignalMessage({ type: 'publish', topic, data: sealed, clients: 3 }),
    encodeSignalMessage({ type: 'publish', topic: 'y-webrtc room', data: { type: 'announce', from: ids[0] } }),
    encodeSignalMessage({ type: 'publish', topic, data: { type: 'signal', from: ids[0], to: ids[1], token: 1, signal: { type: 'offer', sdp: SDP } } }),
    encodeSignalMessage({ type: 'ping' }),
    encodeSignalMessage({ type: 'pong' }),
  ]
}

function relayFrames(discovery: string, ids: string[]): string[] {
  const sig = toBase64url(randomBytes(64))
  const nonce = toBase64url(randomBytes(32))
  const frames = [
    { type: 'hello', v: 1, room: discovery, key: ids[0] },
    { type: 'hello', v: 1, room: discovery, key: ids[1], cascade: true },
    { type: 'auth', sig },
    { type: 'publish', sdp: SDP },
    { type: 'unpublish' },
    { type: 'subscribe' },
    { type: 'subscribe', standby: true },
    { type: 'unsubscribe' },
    { type: 'answer', sdp: SDP },
    { type: 'challenge', nonce, relay: 'relay.example:8443' },
    { type: 'welcome', publishers: ids.slice(0, 2) },
    { type: 'published', sdp: SDP },
    { type: 'unpublished', reason: 'banned' },
    { type: 'subscribed' },
    { type: 'unsubscribed' },
    { type: 'offer', sdp: SDP },
    { type: 'publishers', ids },
    { type: 'refused', op: 'publish', reason: 'not-speaker', message: 'You are not on stage.' },
    { type: 'bye', reason: 'shutdown' },
    { type: 'ping' },
    { type: 'pong' },
  ]
  return frames.map((f) => encodeRelayMessage(f as Parameters<typeof encodeRelayMessage>[0]))
}

async function meshWires(from: Identity, to: Identity): Promise<string[]> {
  const f = keyId(from.publicKey)
  const t = keyId(to.publicKey)
  return Promise.all([
    encodeWire(from, f, t, { k: 'hi', n: 1, r: null }),
    encodeWire(from, f, t, { k: 'hi', n: 1_700_000_000_123, r: 42 }),
    encodeWire(from, f, t, { k: 'sig', s: { type: 'description', sdpType: 'offer', sdp: SDP }, n: 7, r: 3 }),
    encodeWire(from, f, t, { k: 'sig', s: { type: 'candidate', candidate: CANDIDATE, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'Fz1b' }, n: 7, r: 3 }),
    encodeWire(from, f, t, { k: 'sig', s: { type: 'candidate', candidate: '', sdpMid: null, sdpMLineIndex: null, usernameFragment: null }, n: 7, r: null }),
  ])
}

/** Builds every target's valid samples and the context the targets share. */
export async function buildSamples(): Promise<{ samples: Samples; ctx: FuzzContext }> {
  const [owner, mod, speaker, listener] = await identities(4)
  const { b, passes } = await roomLog(owner!, mod!, speaker!, listener!)
  const ids = [owner!, mod!, speaker!, listener!].map(kid)
  const discovery = discoveryHex(deriveDiscoveryKey(b.roomId))
  const secretBytes = randomBytes(32)
  const secret = toBase64url(secretBytes)
  const { updates, doc } = yjsUpdates(b.bytes)
  const aw = awarenessUpdates(ids)
  const step1 = [encodeStep1(doc), encodeStep1(new Y.Doc())]
  const sync = [...step1, encodeStep2(doc, Y.encodeStateVector(new Y.Doc())), ...updates.map(encodeUpdate), ...aw.map((u) => encodeSyncMessage({ type: 'awareness', update: u }))]
  const sealed = await sealPayload(await deriveSignalKey(secretBytes), { type: 'signal', from: ids[0], signal: { type: 'answer', sdp: SDP } })
  const big = new Uint8Array(20_000).map((_, i) => i * 7)
  const samples: Samples = {
    signal: signalFrames(discovery, sealed, ids),
    relay: relayFrames(discovery, ids),
    sync,
    awareness: aw,
    guard: updates,
    'relay-gate': updates,
    'mesh-wire': await meshWires(owner!, speaker!),
    'peer-link': peerLinkStreams([new Uint8Array(0), Uint8Array.of(2, 3, 1, 2, 3), ...sync.slice(0, 3), big]),
    invite: invites({ origin: 'https://stoop.example', roomId: b.roomId, secret, genesis: b.bytes[0]! }, passes),
    entry: [...b.bytes, ...passes],
    wav: wavFiles(),
  }
  const ctx: FuzzContext = { roomId: b.roomId, discovery, wireFrom: ids[0]!, wireTo: ids[2]!, keyIds: ids, secret }
  return { samples, ctx }
}
