/**
 * Cascade links between relays need a member's vouch (docs/relay.md, "Cascading
 * between relays"; issue 10), as an attacker runs it. Two honest relays A and B
 * on 127.0.0.1 find each other on a hyperdht testnet; members on both follow the
 * room's epochs (helpers/relay-member.ts) and so vouch for the relay they use.
 *
 *   1. A and B cascade (the owner's 440 Hz on A, speaker S's 660 Hz on B, a
 *      listener on each hears both). Three rogue relays announce themselves on
 *      the room's relay topic: one with no proof, one that replays B's vouch
 *      for its own key, one that names B's key and replays B's vouch. A and B
 *      dial them, and send them nothing of the room: no sync frame, no subscribe.
 *   2. A rogue relay key dials A with `cascade: true` and no vouch, a forged one,
 *      or another relay's: refused `not-member`, closed 4009, no sync, no offer.
 *      With a vouch of the current epoch for its own key it is served (the gate,
 *      not something else, is what refuses).
 *   3. The owner bans a listener on B: the room rotates; both relays' members
 *      prove the new epoch and vouch again, the cascade links stay up, both
 *      listeners keep hearing both speakers; a vouch of the old epoch no longer
 *      opens a cascade.
 */
import { createServer, type Server } from 'node:http'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import WebSocket, { WebSocketServer } from 'ws'
import wrtc from '@roamhq/wrtc'
import createTestnet, { type Testnet } from 'hyperdht/testnet.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { RelayDiscovery } from '../../relay/cascade/discovery.ts'
import type { CascadeLink } from '../../relay/cascade/link.ts'
import { createToneSource } from '../../src/node/audio-io.ts'
import { fromBase64url, generateIdentity, keyId, toBase64url, type Identity } from '../../src/identity/index.ts'
import { createRoom, deriveDiscoveryKey, membershipKey, proveMembership, type CreatedRoom, type MembershipKey } from '../../src/room/index.ts'
import { authMessage, discoveryHex, RelayCloseCode, relayProofMessage, vouchMessage } from '../../src/net/relay-protocol.ts'
import { encodeStep1 } from '../../src/net/sync.ts'
import { loopbackSdp } from '../../src/net/peer.ts'
import * as Y from 'yjs'
import { waitFor } from '../helpers/wait.ts'
import { hearsNow, joinRelay, longestSilence, type RelayMember } from './helpers/relay-member.ts'

const FREQS = [440, 660]
const wsUrl = (r: Relay): string => `${r.url.replace('http', 'ws')}/relay`
const vouchFor = (key: MembershipKey, dk: string, relayKey: string): string => toBase64url(proveMembership(key, vouchMessage(dk, relayKey)))

/** What one connection to a rogue relay received. */
interface Received {
  key: string
  cascade: boolean
  types: string[]
  binary: number
  closed: boolean
}

/**
 * A rogue relay's /relay endpoint: it answers like a relay (challenge, welcome), with the proof
 * its `mode` says, and records what honest relays send it.
 */
async function rogueRelay(identity: Identity, dk: string, mode: 'bare' | 'replay' | 'impersonate', victim: { key: string; vouch: string }) {
  const server: Server = createServer()
  const wss = new WebSocketServer({ server, path: '/relay' })
  const conns: Received[] = []
  const own = keyId(identity.publicKey)
  wss.on('connection', (ws, req) => {
    const got: Received = { key: '', cascade: false, types: [], binary: 0, closed: false }
    conns.push(got)
    let welcome: Promise<object> = Promise.resolve({ type: 'welcome', publishers: [] })
    ws.on('close', () => (got.closed = true))
    ws.on('message', (data, isBinary) => {
      if (isBinary) return void got.binary++
      const msg = JSON.parse(String(data)) as { type: string; key?: string; cascade?: boolean; nonce?: string }
      got.types.push(msg.type)
      if (msg.type === 'hello') {
        got.key = msg.key ?? ''
        got.cascade = msg.cascade === true
        const named = mode === 'impersonate' ? victim.key : own
        ws.send(JSON.stringify({ type: 'challenge', nonce: toBase64url(randomBytes(32)), relay: req.headers.host, key: named }))
        if (mode !== 'bare') {
          welcome = identity.sign(relayProofMessage(dk, msg.nonce ?? '', named, String(req.headers.host))).then((sig) => ({ type: 'welcome', publishers: [], relay: { sig: toBase64url(sig), vouch: victim.vouch } }))
        }
      } else if (msg.type === 'auth') void welcome.then((w) => ws.send(JSON.stringify(w)))
      else if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }))
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/relay`
  return {
    url,
    conns,
    close: async () => {
      for (const c of wss.clients) c.terminate()
      await new Promise<void>((ok) => wss.close(() => ok()))
      await new Promise<void>((ok) => server.close(() => ok()))
    },
  }
}

/** Another relay's key dialling `url` as a cascade, with `member` as its vouch; it asks for sync and a subscription anyway. */
async function dialAsRelay(url: string, dk: string, identity: Identity, member?: string) {
  const ws = new WebSocket(url)
  const got: Array<Record<string, unknown>> = []
  let binary = 0
  let closed: { code: number; reason: string } | null = null
  ws.on('message', (data, isBinary) => {
    if (isBinary) binary++
    else got.push(JSON.parse(String(data)) as Record<string, unknown>)
  })
  ws.on('close', (code, reason) => (closed = { code, reason: String(reason) }))
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok())
    ws.once('error', fail)
  })
  const send = (msg: object | Uint8Array) => ws.send(msg instanceof Uint8Array ? msg : JSON.stringify(msg))
  send({ type: 'hello', v: 1, room: dk, key: keyId(identity.publicKey), cascade: true, nonce: toBase64url(randomBytes(32)) })
  await waitFor('challenge', () => got.some((m) => m.type === 'challenge'))
  const ch = got.find((m) => m.type === 'challenge') as { nonce: string; relay: string }
  send({ type: 'auth', sig: toBase64url(await identity.sign(authMessage(dk, ch.nonce, ch.relay))), ...(member ? { member } : {}) })
  await waitFor('an answer to auth', () => closed !== null || got.some((m) => m.type === 'welcome' || m.type === 'refused'))
  // Whatever the answer, it asks for the log and the audio.
  if (ws.readyState === WebSocket.OPEN) {
    send(encodeStep1(new Y.Doc()))
    send({ type: 'subscribe' })
  }
  await waitFor('an answer to the cascade', () => closed !== null || binary > 0)
  ws.close()
  return { got, binary, closed: closed as { code: number; reason: string } | null, types: got.map((m) => m.type) }
}

describe('cascade links need a vouch', () => {
  const cleanup: Array<() => unknown> = []
  let testnet: Testnet
  let relayA: Relay
  let relayB: Relay
  let idA: Identity
  let idB: Identity
  let room: CreatedRoom
  let linkSecret: Uint8Array
  let dk: string
  let owner: RelayMember
  let speaker: RelayMember
  let onA: RelayMember
  let onB: RelayMember
  let banned: RelayMember
  let seed: Uint8Array

  const startOne = async (identity: Identity) => {
    const r = await startRelay({
      port: 0,
      host: '127.0.0.1',
      log: silentLogger,
      identity,
      swarm: { bootstrap: testnet.bootstrap, host: '127.0.0.1' },
      rooms: { peerConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false }, sdpFilter: loopbackSdp },
    })
    cleanup.push(() => r.close())
    return r
  }
  /** A member that joins with what its link carries (the genesis and the first epoch: RoomClient seeds its doc with them). */
  const member = async (r: Relay, opts: { identity?: Identity; doc?: Y.Doc } = {}) => {
    const doc = opts.doc ?? new Y.Doc()
    if (!opts.doc) Y.applyUpdate(doc, seed)
    const m = await joinRelay(wsUrl(r), room, linkSecret, { ...opts, doc, freqs: FREQS })
    cleanup.push(() => m.stop())
    return m
  }
  const link = (from: Relay, to: Relay): CascadeLink | undefined => from.cascade!.links(dk).find((l) => l.url === wsUrl(to))
  const notVouched = (r: Relay) => r.metrics.value('stoop_relay_cascade_rejected_total', { reason: 'not-vouched' })
  const refusedCascades = (r: Relay) => r.metrics.value('stoop_relay_rejected_total', { reason: 'not-vouched' })

  beforeAll(async () => {
    testnet = await createTestnet(3, { host: '127.0.0.1' })
    cleanup.push(() => testnet.destroy())
    ;[idA, idB] = [await generateIdentity(), await generateIdentity()]
    ;[relayA, relayB] = [await startOne(idA), await startOne(idB)]
    const ownerId = await generateIdentity()
    room = await createRoom(ownerId, { title: 'Vouched cascade' })
    linkSecret = fromBase64url(room.secret)!
    dk = discoveryHex(deriveDiscoveryKey(room.roomId))
    seed = Y.encodeStateAsUpdate(room.doc)
    owner = await member(relayA, { identity: ownerId, doc: room.doc })
    onA = await member(relayA)
    speaker = await member(relayB)
    onB = await member(relayB)
    banned = await member(relayB)
  }, 60_000)

  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  }, 60_000)

  it('two vouched relays cascade; rogue relays announced on the swarm are dialled and get nothing', async () => {
    // The log crosses the cascade both ways: each relay holds every member's key.
    const keysOn = (r: Relay) => r.rooms.room(dk)?.state?.epochs.encKeys.size ?? 0
    const seen = (r: Relay) => r.metrics.render().split('\n').filter((l) => /cascade_|not-vouched/.test(l) && !l.startsWith('#'))
    await waitFor(() => `both relays hold all five members (A: ${keysOn(relayA)} ${seen(relayA).join(', ')}; B: ${keysOn(relayB)})`, () => keysOn(relayA) === 5 && keysOn(relayB) === 5, 40_000)
    const low = createToneSource(wrtc, { freq: 440 })
    const high = createToneSource(wrtc, { freq: 660 })
    cleanup.push(() => low.stop(), () => high.stop())
    await owner.relay.publish(low.track, low.stream)
    await owner.actor.inviteToStage(speaker.id)
    await waitFor('the speaker sees its invite', () => speaker.replica.state.invites.some((i) => i.subject === speaker.id), 10_000)
    await speaker.actor.acceptInvite()
    await waitFor('relay B seats the speaker', () => relayB.rooms.room(dk)?.mayPublish(speaker.id).ok === true, 10_000)
    await speaker.relay.publish(high.track, high.stream)
    await onA.relay.subscribe()
    await onB.relay.subscribe()
    for (const [m, name] of [[onA, 'A'], [onB, 'B']] as const) {
      for (const f of FREQS) await waitFor(`the listener on ${name} hears ${f} Hz`, () => hearsNow(m, f), 30_000)
    }

    // Rogue relays, announced on the room's relay topic like any relay. A "captured" vouch of B.
    const epoch0 = membershipKey(linkSecret)
    const victim = { key: keyId(idB.publicKey), vouch: vouchFor(epoch0, dk, keyId(idB.publicKey)) }
    const rogues = await Promise.all((['bare', 'replay', 'impersonate'] as const).map(async (mode) => rogueRelay(await generateIdentity(), dk, mode, victim)))
    const discoveries = rogues.map((r) => new RelayDiscovery({ bootstrap: testnet.bootstrap, host: '127.0.0.1', url: r.url, onRelays: () => undefined }))
    cleanup.push(...rogues.map((r) => () => r.close()), ...discoveries.map((d) => () => d.destroy()))
    const before = { a: notVouched(relayA), b: notVouched(relayB) }
    for (const d of discoveries) d.join(dk)
    const honest = [keyId(idA.publicKey), keyId(idB.publicKey)]
    const dialled = (r: (typeof rogues)[number]) => honest.every((k) => r.conns.some((c) => c.cascade && c.key === k))
    await waitFor('A and B dial every rogue relay', () => rogues.every(dialled), 40_000)
    // Each dial ends: the rogue is sent the room (the attack works), or the link gives up on it.
    const ended = (c: Received) => c.closed || c.binary > 0 || c.types.includes('subscribe')
    await waitFor('every dial to a rogue ends', () => rogues.every((r) => r.conns.filter((c) => c.cascade).every(ended)), 20_000)
    for (const r of rogues) {
      for (const c of r.conns) {
        expect(c.binary, `sync frames sent to a rogue relay by ${c.key}`).toBe(0)
        expect(c.types).not.toContain('subscribe')
        expect(c.types).not.toContain('answer')
      }
    }
    await waitFor('both relays count the rogues', () => notVouched(relayA) >= before.a + 3 && notVouched(relayB) >= before.b + 3, 20_000)
    // The honest link still stands, both ways.
    expect(link(relayA, relayB)?.destroyed).toBe(false)
    expect(link(relayB, relayA)?.destroyed).toBe(false)
    for (const d of discoveries) await d.destroy()
  }, 150_000)

  it('a relay key dialling in with cascade: true is refused without a vouch of the current epoch for its key', async () => {
    const rogue = await generateIdentity()
    const url = wsUrl(relayA)
    const before = refusedCascades(relayA)
    const epoch0 = membershipKey(linkSecret)
    const attempts = {
      none: undefined,
      forged: toBase64url(randomBytes(64)),
      "another relay's": vouchFor(epoch0, dk, keyId(idB.publicKey)),
      'a stranger key': toBase64url(proveMembership(membershipKey(randomBytes(32)), vouchMessage(dk, keyId(rogue.publicKey)))),
    }
    for (const [what, vouch] of Object.entries(attempts)) {
      const r = await dialAsRelay(url, dk, rogue, vouch)
      expect(r.types, `with ${what} vouch`).not.toContain('welcome')
      expect(r.got.find((m) => m.type === 'refused'), `with ${what} vouch`).toMatchObject({ op: 'auth', reason: 'not-member' })
      expect(r.closed?.code).toBe(RelayCloseCode.NotMember)
      expect(r.binary).toBe(0)
      expect(r.types).not.toContain('offer')
    }
    expect(refusedCascades(relayA)).toBe(before + Object.keys(attempts).length)
    // A member's vouch for this very key opens the cascade: the log is served.
    const vouched = await dialAsRelay(url, dk, rogue, vouchFor(epoch0, dk, keyId(rogue.publicKey)))
    expect(vouched.types).toContain('welcome')
    expect(vouched.binary).toBeGreaterThan(0)
  }, 60_000)

  it('a ban rotates the room: the cascade survives, both listeners keep hearing; an old vouch opens nothing', async () => {
    const linkAB = link(relayA, relayB)
    const linkBA = link(relayB, relayA)
    expect(linkAB && linkBA).toBeTruthy()
    const banAt = Date.now()
    await owner.actor.ban(banned.id)
    for (const [r, name] of [[relayA, 'A'], [relayB, 'B']] as const) {
      await waitFor(`relay ${name} is in epoch 1`, () => r.rooms.room(dk)?.state?.epochs.current?.n === 1, 15_000)
    }
    for (const m of [owner, speaker, onA, onB]) await waitFor('every member holds epoch 1', () => m.keeper.current.n === 1, 15_000)
    // Past the relays' grace for proofs (5 s): members and cascade links are still served.
    await new Promise((r) => setTimeout(r, 6500))
    for (const m of [owner, speaker, onA, onB]) expect(m.closed).toBeUndefined()
    expect(link(relayA, relayB)).toBe(linkAB)
    expect(link(relayB, relayA)).toBe(linkBA)
    expect(linkAB!.destroyed || linkBA!.destroyed).toBe(false)
    const now = Date.now()
    const silences = [onA, onB].flatMap((m) => FREQS.map((f) => longestSilence(m.blocks, banAt, now, f)))
    console.log(`longest silence across the rotation (ms): A 440 ${silences[0]}, A 660 ${silences[1]}, B 440 ${silences[2]}, B 660 ${silences[3]}`)
    expect(Math.max(...silences)).toBeLessThanOrEqual(1000)

    // A relay key vouched for in epoch 0 (the banned member's own relay, say): refused now.
    const rogue = await generateIdentity()
    const old = await dialAsRelay(wsUrl(relayA), dk, rogue, vouchFor(membershipKey(linkSecret), dk, keyId(rogue.publicKey)))
    expect(old.got.find((m) => m.type === 'refused')).toMatchObject({ op: 'auth', reason: 'not-member' })
    expect(old.binary).toBe(0)
    // Each relay holds its members' vouch of the new epoch.
    for (const r of [relayA, relayB]) {
      const held = r.rooms.room(dk)!
      expect(held.epochs.vouches.usable(held.state)).not.toBeNull()
    }
  }, 90_000)
})
