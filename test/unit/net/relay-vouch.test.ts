/**
 * Vouches on the relay wire (src/net/relay-protocol.ts, docs/relay.md "Cascading between
 * relays"): the new fields are validated by the decoders (bad -> `bad-field`, never a throw),
 * the signed messages are domain-separated and bound to one relay key, and RelaySocket
 * vouches for the relay whose challenge names a key (a cascade sends its room's vouch and a
 * hello nonce, and keeps the dialled relay's proof).
 */
import { describe, expect, it } from 'vitest'
import { fromBase64url, generateIdentity, keyId, toBase64url } from '../../../src/identity/index.ts'
import { membershipKey, proveMembership, verifyMembership, type Epoch, type RoomState } from '../../../src/room/index.ts'
import {
  authMessage,
  decodeClientMessage,
  decodeRelayMessage,
  discoveryHex,
  memberMessage,
  relayProofMessage,
  vouchMessage,
} from '../../../src/net/relay-protocol.ts'
import { RelaySocket, type RelayWebSocket, type RelayWebSocketClass } from '../../../src/net/relay-socket.ts'
import { checkRelayProof, relayProof, vouchedEpoch, VouchStore } from '../../../relay/rooms/vouch.ts'

const ROOM = 'ab'.repeat(32)
const KEY = 'A'.repeat(43)
const SIG = 'B'.repeat(86)
const decodeC = (m: object) => decodeClientMessage(JSON.stringify(m))
const decodeR = (m: object) => decodeRelayMessage(JSON.stringify(m))

describe('vouch fields in the decoders', () => {
  it('hello: a nonce only with cascade, base64url and short', () => {
    expect(decodeC({ type: 'hello', v: 1, room: ROOM, key: KEY, cascade: true, nonce: 'n0nce' })).toEqual({ type: 'hello', v: 1, room: ROOM, key: KEY, cascade: true, nonce: 'n0nce' })
    expect(decodeC({ type: 'hello', v: 1, room: ROOM, key: KEY, nonce: 'n0nce' })).toEqual({ error: 'bad-field' })
    expect(decodeC({ type: 'hello', v: 1, room: ROOM, key: KEY, cascade: true, nonce: 'not base64!' })).toEqual({ error: 'bad-field' })
    expect(decodeC({ type: 'hello', v: 1, room: ROOM, key: KEY, cascade: true, nonce: 'x'.repeat(65) })).toEqual({ error: 'bad-field' })
    expect(decodeC({ type: 'hello', v: 1, room: ROOM, key: KEY, cascade: true, nonce: 7 })).toEqual({ error: 'bad-field' })
  })

  it('auth and member: an optional vouch', () => {
    expect(decodeC({ type: 'auth', sig: SIG, member: SIG, vouch: SIG })).toEqual({ type: 'auth', sig: SIG, member: SIG, vouch: SIG })
    expect(decodeC({ type: 'auth', sig: SIG })).toEqual({ type: 'auth', sig: SIG })
    expect(decodeC({ type: 'auth', sig: SIG, vouch: 'x'.repeat(129) })).toEqual({ error: 'bad-field' })
    expect(decodeC({ type: 'auth', sig: SIG, vouch: null })).toEqual({ error: 'bad-field' })
    expect(decodeC({ type: 'member', sig: SIG, vouch: SIG })).toEqual({ type: 'member', sig: SIG, vouch: SIG })
    expect(decodeC({ type: 'member', sig: SIG, vouch: '+/=' })).toEqual({ error: 'bad-field' })
  })

  it('challenge: an optional relay key id', () => {
    expect(decodeR({ type: 'challenge', nonce: 'n', relay: 'h:1', key: KEY })).toEqual({ type: 'challenge', nonce: 'n', relay: 'h:1', key: KEY })
    expect(decodeR({ type: 'challenge', nonce: 'n', relay: 'h:1' })).toEqual({ type: 'challenge', nonce: 'n', relay: 'h:1' })
    expect(decodeR({ type: 'challenge', nonce: 'n', relay: 'h:1', key: 'short' })).toEqual({ error: 'bad-field' })
    expect(decodeR({ type: 'challenge', nonce: 'n', relay: 'h:1', key: 42 })).toEqual({ error: 'bad-field' })
  })

  it('welcome: an optional relay proof; vouch: a signature', () => {
    expect(decodeR({ type: 'welcome', publishers: [], relay: { sig: SIG, vouch: SIG } })).toEqual({ type: 'welcome', publishers: [], relay: { sig: SIG, vouch: SIG } })
    expect(decodeR({ type: 'welcome', publishers: [], relay: { sig: SIG } })).toEqual({ type: 'welcome', publishers: [], relay: { sig: SIG } })
    for (const relay of [null, [], 'x', { vouch: SIG }, { sig: 'no!' }, { sig: SIG, vouch: 5 }, { sig: 'x'.repeat(129) }]) {
      expect(decodeR({ type: 'welcome', publishers: [], relay })).toEqual({ error: 'bad-field' })
    }
    expect(decodeR({ type: 'vouch', sig: SIG })).toEqual({ type: 'vouch', sig: SIG })
    expect(decodeR({ type: 'vouch' })).toEqual({ error: 'bad-field' })
    expect(decodeR({ type: 'vouch', sig: 'x'.repeat(129) })).toEqual({ error: 'bad-field' })
  })
})

describe('vouch messages', () => {
  it('are domain-separated from the other signed messages', () => {
    const all = [vouchMessage(ROOM, KEY), relayProofMessage(ROOM, 'n', KEY, 'h'), memberMessage(ROOM, 'n', KEY), authMessage(ROOM, 'n', KEY)].map((b) => new TextDecoder().decode(b))
    expect(new Set(all).size).toBe(4)
    expect(all[0]).toMatch(/^stoop\/relay-vouch\/v1\n/)
    expect(all[1]).toMatch(/^stoop\/relay-cascade\/v1\n/)
  })

  it('a vouch holds for one relay key, one room and one epoch', () => {
    const epoch = membershipKey(new Uint8Array(32).fill(1))
    const next = membershipKey(new Uint8Array(32).fill(2))
    const sig = proveMembership(epoch, vouchMessage(ROOM, KEY))
    expect(verifyMembership(epoch.publicKey, vouchMessage(ROOM, KEY), sig)).toBe(true)
    expect(verifyMembership(epoch.publicKey, vouchMessage(ROOM, 'C'.repeat(43)), sig)).toBe(false)
    expect(verifyMembership(epoch.publicKey, vouchMessage('cd'.repeat(32), KEY), sig)).toBe(false)
    expect(verifyMembership(next.publicKey, vouchMessage(ROOM, KEY), sig)).toBe(false)
  })
})

/** A socket the test plays the relay on: it records what the client sends. */
class Wire implements RelayWebSocket {
  static last: Wire
  readyState = 0
  binaryType = ''
  bufferedAmount = 0
  sent: Array<Record<string, unknown>> = []
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  constructor(readonly url: string) {
    Wire.last = this
    queueMicrotask(() => {
      this.readyState = 1
      this.onopen?.({})
    })
  }
  send(data: string | Uint8Array): void {
    if (typeof data === 'string') this.sent.push(JSON.parse(data) as Record<string, unknown>)
  }
  close(): void {
    this.readyState = 3
  }
  relay(msg: object): void {
    this.onmessage?.({ data: JSON.stringify(msg) })
  }
}

const settle = () => new Promise((r) => setTimeout(r, 20))
const dk = new Uint8Array(32).fill(7)

describe('RelaySocket vouches', () => {
  it('a member vouches for the relay its challenge names, at auth and at every prove', async () => {
    const id = await generateIdentity()
    const epoch = membershipKey(new Uint8Array(32).fill(3))
    const socket = new RelaySocket({ WebSocket: Wire as unknown as RelayWebSocketClass, pingIntervalMs: 0 })
    const done = socket.connect('ws://relay.test/relay', dk, id, { member: () => epoch })
    await settle()
    const wire = Wire.last
    wire.relay({ type: 'challenge', nonce: 'n1', relay: 'relay.test', key: KEY })
    await settle()
    const auth = wire.sent.find((m) => m.type === 'auth')!
    expect(verifyMembership(epoch.publicKey, vouchMessage(discoveryHex(dk), KEY), fromBase64url(auth.vouch as string)!)).toBe(true)
    expect(verifyMembership(epoch.publicKey, memberMessage(discoveryHex(dk), 'n1', 'relay.test'), fromBase64url(auth.member as string)!)).toBe(true)
    wire.relay({ type: 'welcome', publishers: [] })
    await done
    wire.relay({ type: 'prove', nonce: 'n2' })
    const member = wire.sent.find((m) => m.type === 'member')!
    expect(member.vouch).toBe(auth.vouch)
    expect(socket.relayProof).toBeNull()
    socket.destroy()
  })

  it('no vouch when the challenge names no key', async () => {
    const socket = new RelaySocket({ WebSocket: Wire as unknown as RelayWebSocketClass, pingIntervalMs: 0 })
    void socket.connect('ws://relay.test/relay', dk, await generateIdentity(), { member: () => membershipKey(new Uint8Array(32)) }).catch(() => undefined)
    await settle()
    Wire.last.relay({ type: 'challenge', nonce: 'n1', relay: 'relay.test' })
    await settle()
    const auth = Wire.last.sent.find((m) => m.type === 'auth')!
    expect(auth.member).toBeTypeOf('string')
    expect(auth).not.toHaveProperty('vouch')
    socket.destroy()
  })

  it('a cascade sends a hello nonce and its room vouch as proof, and keeps the relay proof of the welcome', async () => {
    const id = await generateIdentity()
    const other = await generateIdentity()
    let vouch = 'v1'
    const socket = new RelaySocket({ WebSocket: Wire as unknown as RelayWebSocketClass, pingIntervalMs: 0 })
    const done = socket.connect('ws://relay.test/relay', dk, id, { cascade: true, nonce: 'hn', vouch: () => vouch })
    await settle()
    const wire = Wire.last
    expect(wire.sent[0]).toMatchObject({ type: 'hello', cascade: true, nonce: 'hn', key: keyId(id.publicKey) })
    wire.relay({ type: 'challenge', nonce: 'n1', relay: 'relay.test', key: keyId(other.publicKey) })
    await settle()
    expect(wire.sent.find((m) => m.type === 'auth')).toMatchObject({ member: 'v1' })
    expect(wire.sent.find((m) => m.type === 'auth')).not.toHaveProperty('vouch')
    const sig = toBase64url(await other.sign(relayProofMessage(discoveryHex(dk), 'hn', keyId(other.publicKey), 'relay.test')))
    wire.relay({ type: 'welcome', publishers: [], relay: { sig, vouch: 'theirs' } })
    await done
    expect(socket.relayProof).toEqual({ key: keyId(other.publicKey), sig, vouch: 'theirs' })
    vouch = 'v2'
    wire.relay({ type: 'prove', nonce: 'n2' })
    expect(wire.sent.filter((m) => m.type === 'member')).toEqual([{ type: 'member', sig: 'v2' }])
    const pushed: unknown[] = []
    socket.on('message', (m) => pushed.push(m))
    wire.relay({ type: 'vouch', sig: 'v3' })
    expect(pushed).toEqual([{ type: 'vouch', sig: 'v3' }])
    socket.destroy()
  })
})

describe('the relay side (relay/rooms/vouch.ts)', () => {
  const epochOf = (id: string, seed: number) => ({ id, member: membershipKey(new Uint8Array(32).fill(seed)).publicKey }) as unknown as Epoch
  const stateIn = (...chain: Epoch[]) => ({ epochs: { chain, current: chain.at(-1) ?? null } }) as unknown as RoomState
  const sign = (seed: number, key: string) => toBase64url(proveMembership(membershipKey(new Uint8Array(32).fill(seed)), vouchMessage(ROOM, key)))

  it('a relay proof holds for the nonce, key and host it was made for', async () => {
    const relay = await generateIdentity()
    const key = keyId(relay.publicKey)
    const sig = await relayProof(relay, ROOM, 'n', key, 'a.test:1')
    expect(await checkRelayProof(ROOM, 'n', key, 'a.test:1', sig)).toBe(true)
    expect(await checkRelayProof(ROOM, 'n', key, 'b.test:1', sig)).toBe(false)
    expect(await checkRelayProof(ROOM, 'm', key, 'a.test:1', sig)).toBe(false)
    expect(await checkRelayProof(ROOM, 'n', keyId((await generateIdentity()).publicKey), 'a.test:1', sig)).toBe(false)
    expect(await checkRelayProof(ROOM, 'n', 'not a key', 'a.test:1', sig)).toBe(false)
    expect(await checkRelayProof(ROOM, 'n', key, 'a.test:1', '!!')).toBe(false)
  })

  it('judges a vouch against the chain: current, older or none', async () => {
    const e0 = epochOf('e0', 1)
    const e1 = epochOf('e1', 2)
    expect(await vouchedEpoch([e0, e1], ROOM, KEY, sign(2, KEY))).toBe('ok')
    expect(await vouchedEpoch([e0, e1], ROOM, KEY, sign(1, KEY))).toBe('old')
    expect(await vouchedEpoch([e0, e1], ROOM, KEY, sign(3, KEY))).toBe('none')
    expect(await vouchedEpoch([e0, e1], ROOM, 'C'.repeat(43), sign(2, KEY))).toBe('none')
    expect(await vouchedEpoch([e0, e1], ROOM, KEY, undefined)).toBe('none')
    expect(await vouchedEpoch([e0, e1], ROOM, KEY, 'x')).toBe('none')
  })

  it('keeps the vouch of the current epoch, once per epoch; a rotation makes it unusable until a new one', async () => {
    const e0 = epochOf('e0', 1)
    const e1 = epochOf('e1', 2)
    const store = new VouchStore()
    const told: string[] = []
    let epochs = 0
    store.on('vouched', (sig) => told.push(sig))
    store.on('epoch', () => epochs++)
    expect(await store.offer(null, ROOM, KEY, sign(1, KEY))).toBe(false)
    expect(await store.offer(stateIn(e0), ROOM, 'C'.repeat(43), sign(1, KEY))).toBe(false)
    expect(await store.offer(stateIn(e0), ROOM, KEY, sign(1, KEY))).toBe(true)
    expect(await store.offer(stateIn(e0), ROOM, KEY, sign(1, KEY))).toBe(true)
    expect(told).toEqual([sign(1, KEY)])
    expect(store.usable(stateIn(e0))).toBe(sign(1, KEY))
    store.onState(stateIn(e0, e1))
    expect(epochs).toBe(1)
    expect(store.usable(stateIn(e0, e1))).toBeNull()
    expect(store.latest).toBe(sign(1, KEY))
    expect(await store.offer(stateIn(e0, e1), ROOM, KEY, sign(1, KEY))).toBe(false)
    expect(await store.offer(stateIn(e0, e1), ROOM, KEY, sign(2, KEY))).toBe(true)
    expect(told).toEqual([sign(1, KEY), sign(2, KEY)])
    expect(store.usable(stateIn(e0, e1))).toBe(sign(2, KEY))
  })

  it('does not keep a vouch whose epoch the room left while it verified', async () => {
    const e0 = epochOf('e0', 1)
    const e1 = epochOf('e1', 2)
    const store = new VouchStore()
    let now = stateIn(e0)
    const offered = store.offer(stateIn(e0), ROOM, KEY, sign(1, KEY), () => now)
    now = stateIn(e0, e1)
    expect(await offered).toBe(true)
    expect(store.latest).toBeNull()
    expect(await store.offer(now, ROOM, KEY, sign(2, KEY), () => now)).toBe(true)
    expect(store.latest).toBe(sign(2, KEY))
  })
})
