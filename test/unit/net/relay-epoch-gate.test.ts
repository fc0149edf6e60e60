/**
 * The relay's epoch gate (relay/rooms/epoch-gate.ts) verifies proofs through WebCrypto, so a
 * verification is in flight while the room and the connection go on. These are the orders an
 * attacker (or bad luck) can arrange: the connection leaves, its deadline passes, or the room
 * changes epoch between a proof's arrival and the end of its verification. In none of them is
 * a connection served, or freed of its deadline, by a proof that did not verify for the epoch
 * that is current when it is judged; and nothing is sent to one that left.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { toBase64url } from '../../../src/identity/index.ts'
import { memberMessage, RelayCloseCode, type RelayMessage } from '../../../src/net/relay-protocol.ts'
import { membershipKey, proveMembership, type Epoch, type RoomState } from '../../../src/room/index.ts'
import { EpochGate, type GateCount, type Member } from '../../../relay/rooms/epoch-gate.ts'

const ROOM = 'ab'.repeat(32)
const HOST = 'relay.test'
const epochOf = (id: string, seed: number) => ({ id, member: membershipKey(new Uint8Array(32).fill(seed)).publicKey }) as unknown as Epoch
const stateIn = (...chain: Epoch[]) => ({ epochs: { chain, current: chain.at(-1) ?? null } }) as unknown as RoomState
const e0 = epochOf('e0', 1)
const e1 = epochOf('e1', 2)

class Conn implements Member {
  readonly cascade = false
  readonly nonce = 'hello-nonce'
  readonly host = HOST
  readonly discovery = ROOM
  readonly key = 'A'.repeat(43)
  closing = false
  sent: RelayMessage[] = []
  closed: number | null = null
  send(msg: RelayMessage): void {
    this.sent.push(msg)
  }
  close(code: number): void {
    this.closing = true
    this.closed = code
  }
  /** The nonce of the last `prove` it was sent. */
  get asked(): string | undefined {
    return this.sent.filter((m) => m.type === 'prove').at(-1)?.nonce
  }
}

/** A proof of membership of the epoch made from `seed`, over `nonce`. */
const proof = (seed: number, nonce: string) => toBase64url(proveMembership(membershipKey(new Uint8Array(32).fill(seed)), memberMessage(ROOM, nonce, HOST)))

let state: RoomState | null
let served: Member[]
let counted: GateCount[]
let gate: EpochGate

beforeEach(() => {
  vi.useFakeTimers()
  state = null
  served = []
  counted = []
  gate = new EpochGate({ graceMs: 5000, handoff: () => [], counted: (w) => counted.push(w), served: (c) => served.push(c), state: () => state })
})
afterEach(() => {
  vi.useRealTimers()
})

/** A connection admitted before the room had an epoch (held), then asked to prove `epoch`. */
async function heldAndAsked(epoch: Epoch): Promise<Conn> {
  const conn = new Conn()
  expect(gate.admit(conn, state, await gate.check(conn, state, undefined))).toBe('ok')
  expect(gate.holds(conn)).toBe(true)
  state = stateIn(epoch)
  gate.onState(state, [conn])
  expect(conn.asked).toBeDefined()
  return conn
}

describe('epoch gate: asynchronous verification keeps its order', () => {
  it('a handshake proof of the epoch the room just left: held, asked only after its welcome, served once it proves the new one', async () => {
    state = stateIn(e0)
    const conn = new Conn()
    const checked = await gate.check(conn, state, proof(1, conn.nonce))
    expect(checked).toEqual({ epoch: 'e0', verdict: 'ok' })
    state = stateIn(e0, e1)
    expect(gate.admit(conn, state, checked)).toBe('ok')
    expect(gate.holds(conn)).toBe(true)
    // The caller sends the welcome in this same turn: no prove before it.
    expect(conn.sent).toEqual([])
    await Promise.resolve()
    const nonce = conn.asked!
    expect(nonce).toBeDefined()
    await gate.answer(conn, state, proof(1, nonce))
    expect(served).toEqual([])
    vi.advanceTimersByTime(300)
    await gate.answer(conn, state, proof(2, conn.asked!))
    expect(served).toEqual([conn])
    expect(gate.holds(conn)).toBe(false)
    expect(conn.closed).toBeNull()
  })

  it('a non-member proof against an epoch the room left is not taken for a refusal of the new one, nor for a pass', async () => {
    state = stateIn(e0)
    const conn = new Conn()
    const checked = await gate.check(conn, state, proof(2, conn.nonce))
    expect(checked.verdict).toBe('not-member')
    state = stateIn(e0, e1)
    expect(gate.admit(conn, state, checked)).toBe('ok')
    expect(gate.holds(conn)).toBe(true)
    await Promise.resolve()
    vi.advanceTimersByTime(5000)
    expect(conn.closed).toBe(RelayCloseCode.NotMember)
    expect(served).toEqual([])
  })

  it('an answer that verifies after its connection left serves nothing and sends nothing', async () => {
    const conn = await heldAndAsked(e0)
    const answered = gate.answer(conn, state, proof(1, conn.asked!))
    gate.forget(conn)
    const before = conn.sent.length
    await answered
    expect(served).toEqual([])
    expect(conn.sent.length).toBe(before)
  })

  it('an answer whose deadline passes while it verifies is moot: cut once, never served', async () => {
    const conn = await heldAndAsked(e0)
    const answered = gate.answer(conn, state, proof(1, conn.asked!))
    vi.advanceTimersByTime(5000)
    expect(conn.closed).toBe(RelayCloseCode.NotMember)
    await answered
    expect(served).toEqual([])
    expect(conn.sent.filter((m) => m.type === 'refused')).toHaveLength(1)
  })

  it('an answer verified against an epoch the room left meanwhile is asked again, not served', async () => {
    const conn = await heldAndAsked(e0)
    const first = conn.asked!
    const answered = gate.answer(conn, state, proof(1, first))
    state = stateIn(e0, e1)
    gate.onState(state, [conn])
    await answered
    expect(served).toEqual([])
    expect(gate.holds(conn)).toBe(true)
    vi.advanceTimersByTime(300)
    expect(conn.asked).not.toBe(first)
    await gate.answer(conn, state, proof(2, conn.asked!))
    expect(served).toEqual([conn])
  })

  it('a proof that does not verify at the handshake is refused there', async () => {
    state = stateIn(e0)
    const conn = new Conn()
    expect(gate.admit(conn, state, await gate.check(conn, state, proof(9, conn.nonce)))).toBe('not-member')
    expect(conn.closed).toBe(RelayCloseCode.NotMember)
    expect(counted).toEqual(['not-member'])
  })
})
