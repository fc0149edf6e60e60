/**
 * The attacks of the relay soak (issue 12), each as an attacker runs it with
 * raw WebSockets from an address of its own (127.0.0.x: Linux routes all of
 * 127/8 to loopback), each returning what it sent and the rejections it must
 * have caused, by the reason /metrics names:
 *
 *   signalFlood     /signal: malformed frames, then one oversized or broken frame per connection
 *   relayFlood      /relay: malformed control and sync frames after authenticating to a room of
 *                   its own, then one oversized frame per connection (and binary before welcome)
 *   awarenessFlood  a member of the victims' room: presence that is not its own, malformed,
 *                   too large, and too often
 *   junkUpdateFlood a member of the victims' room: room updates that are junk after a valid
 *                   update, empty, forged, of another room, or not entries at all
 *
 * Frames are sent in rounds a connection's budgets allow (frames and bytes per second), so
 * each refusal counted is the one intended; each connection waits for the relay's answer to a
 * ping before it leaves, so everything it sent was read.
 */
import WebSocket from 'ws'
import wrtc from '@roamhq/wrtc'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { generateIdentity, keyId, randomBytes, toBase64url, type Identity } from '../../src/identity/index.ts'
import { logOf, signEntry, type MembershipKey } from '../../src/room/index.ts'
import { authMessage, MAX_RELAY_SYNC_BYTES } from '../../src/net/relay-protocol.ts'
import { encodeSyncMessage, encodeUpdate } from '../../src/net/sync.ts'
import { RelayClient, type RelayWebSocketClass } from '../../src/net/relay-client.ts'
import { waitFor } from '../helpers/wait.ts'

/** Expected growth of a counter family, by reason. */
export type Expected = Record<string, number>

export interface AttackResult {
  frames: number
  /** stoop_signal_rejected_total / stoop_relay_rejected_total growth, by reason: exact. */
  exact: Expected
  /** Growth at least this much (rate limits: what the refill let through is not known to the frame). */
  atLeast?: Expected
}

function add(into: Expected, reason: string, n = 1): void {
  into[reason] = (into[reason] ?? 0) + n
}

/** A WebSocket class whose sockets leave from `localAddress`. */
export function wsFrom(localAddress: string): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { localAddress })
    }
  } as unknown as typeof WebSocket
}

interface Sock {
  ws: WebSocket
  texts: Array<Record<string, unknown>>
  readonly closed: { code: number } | null
  send(data: string | Uint8Array, binary?: boolean): void
  /** Resolves at the relay's answer to a ping sent now (everything before it was read). */
  roundTrip(): Promise<void>
  whenClosed(): Promise<void>
}

async function open(url: string, localAddress: string): Promise<Sock> {
  const ws = new WebSocket(url, { localAddress })
  const texts: Array<Record<string, unknown>> = []
  let closed: { code: number } | null = null
  const closing = new Promise<void>((ok) => ws.on('close', (code) => ((closed = { code }), ok())))
  ws.on('message', (data, isBinary) => {
    if (isBinary) return
    try {
      texts.push(JSON.parse(String(data)) as Record<string, unknown>)
    } catch {
      // Not ours to judge: the relay only sends JSON.
    }
  })
  ws.on('error', () => undefined)
  await new Promise<void>((ok, ko) => {
    ws.once('open', () => ok())
    ws.once('error', ko)
  })
  return {
    ws,
    texts,
    get closed() {
      return closed
    },
    send: (data, binary = data instanceof Uint8Array) => ws.send(data, { binary }),
    async roundTrip() {
      const before = texts.filter((m) => m.type === 'pong').length
      ws.send('{"type":"ping"}')
      await waitFor('pong', () => texts.filter((m) => m.type === 'pong').length > before || closed !== null, 30_000, 5)
    },
    whenClosed: () => closing,
  }
}

/** Runs `fn` for 0..n-1, `width` at a time. */
export async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) await fn(next++)
    }),
  )
}

const deep = (levels: number): string => `{"type":"publish","topic":"t","data":${'['.repeat(levels)}${']'.repeat(levels)}}`
/** Malformed /signal frames and the reason each is counted under. */
const SIGNAL_JUNK: Array<[string, string]> = [
  ['not json', 'bad-json'],
  ['null', 'not-object'],
  ['{"type":"frobnicate"}', 'unknown-type'],
  ['{"type":"subscribe","topics":"t"}', 'bad-field'],
  [deep(100), 'too-deep'],
]

/** `connections` sockets, each `perConnection` malformed frames then one that ends it. */
export async function signalFlood(url: string, from: string, connections: number, perConnection: number): Promise<AttackResult> {
  const exact: Expected = {}
  let frames = 0
  await pool(connections, 4, async (c) => {
    const s = await open(url, from)
    for (let i = 0; i < perConnection; i++) {
      const [frame, reason] = SIGNAL_JUNK[(c + i) % SIGNAL_JUNK.length]!
      s.send(frame, false)
      add(exact, reason)
    }
    await s.roundTrip()
    // The last frame closes the connection: over the message cap, over the frame ceiling, or not UTF-8.
    const kind = c % 3
    if (kind === 0) s.send('x'.repeat(70 * 1024), false)
    else if (kind === 1) s.send('x'.repeat(300 * 1024), false)
    else s.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false)
    add(exact, kind === 2 ? 'protocol' : 'too-large')
    frames += perConnection + 1
    await s.whenClosed()
  })
  return { frames, exact }
}

async function authenticate(s: Sock, identity: Identity, room: string): Promise<void> {
  s.send(JSON.stringify({ type: 'hello', v: 1, room, key: keyId(identity.publicKey) }), false)
  await waitFor('challenge', () => s.texts.some((m) => m.type === 'challenge') || s.closed !== null, 30_000, 5)
  const ch = s.texts.find((m) => m.type === 'challenge') as { nonce: string; relay: string } | undefined
  if (!ch) throw new Error(`no challenge: ${JSON.stringify(s.texts)}`)
  s.send(JSON.stringify({ type: 'auth', sig: toBase64url(await identity.sign(authMessage(room, ch.nonce, ch.relay))) }), false)
  await waitFor('welcome', () => s.texts.some((m) => m.type === 'welcome') || s.closed !== null, 30_000, 5)
  if (!s.texts.some((m) => m.type === 'welcome')) throw new Error(`not welcomed: ${JSON.stringify(s.texts)}`)
}

/** Malformed /relay frames (text, or binary sync) and the reason each is counted under. */
const RELAY_JUNK: Array<[string | Uint8Array, string]> = [
  ['not json', 'bad-json'],
  ['[1,2]', 'not-object'],
  ['{"type":"frobnicate"}', 'unknown-type'],
  ['{"type":"publish"}', 'bad-field'],
  ['{"type":"ping","x":[[[[[[1]]]]]]}', 'too-deep'],
  [new Uint8Array([9, 1, 0]), 'sync:unknown-type'],
  [new Uint8Array([2, 200]), 'sync:malformed'],
]

/**
 * `connections` sockets authenticated to rooms of the attacker's own (a relay serves a
 * room that holds no log to any key), each `perConnection` malformed frames, then one
 * that ends it: a control frame over 72 KiB, a binary frame over the 1 MiB sync cap, or
 * (without authenticating) a binary frame before welcome.
 */
export async function relayFlood(url: string, from: string, connections: number, perConnection: number): Promise<AttackResult> {
  const exact: Expected = {}
  let frames = 0
  const rooms = [toHex(randomBytes(32)), toHex(randomBytes(32))]
  await pool(connections, 4, async (c) => {
    // A key per connection: the same key connecting to a room again replaces its first connection.
    const identity = await generateIdentity()
    const s = await open(url, from)
    const kind = c % 3
    if (kind === 2) {
      s.send(new Uint8Array(16))
      add(exact, 'unexpected')
      frames++
      return s.whenClosed()
    }
    await authenticate(s, identity, rooms[c % rooms.length]!)
    for (let i = 0; i < perConnection; i++) {
      const [frame, reason] = RELAY_JUNK[(c + i) % RELAY_JUNK.length]!
      s.send(frame, frame instanceof Uint8Array)
      add(exact, reason)
    }
    await s.roundTrip()
    if (s.closed) throw new Error(`relay flood: connection ${c} closed before its last frame (${JSON.stringify(s.texts.at(-1))})`)
    if (kind === 0) s.send('{"type":"ping","pad":"' + 'x'.repeat(73 * 1024) + '"}', false)
    else s.send(new Uint8Array(MAX_RELAY_SYNC_BYTES + 4096))
    add(exact, 'too-large')
    frames += perConnection + 3
    await s.whenClosed()
  })
  return { frames, exact }
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

interface Member {
  client: RelayClient
  /** Resolves at the relay's pong to a ping sent now: every frame before it was read (not every update decided). */
  roundTrip(): Promise<void>
}

/** A member's relay connection to the victims' room, from `from`: its link carries whatever we send. */
async function memberSocket(url: string, roomId: string, member: MembershipKey, from: string): Promise<Member> {
  const made: WebSocket[] = []
  const Base = wsFrom(from)
  const Capture = class extends Base {
    constructor(u: string | URL, protocols?: string | string[]) {
      super(u, protocols)
      made.push(this)
    }
  }
  const client = new RelayClient({ WebSocket: Capture as unknown as RelayWebSocketClass, wrtc, member: () => member })
  await client.connect(url, roomId, await generateIdentity())
  let pongs = 0
  const ws = made[0]!
  ws.on('message', (data, isBinary) => {
    if (!isBinary && String(data) === '{"type":"pong"}') pongs++
  })
  return {
    client,
    async roundTrip() {
      const before = pongs
      ws.send('{"type":"ping"}')
      await waitFor('pong', () => pongs > before || ws.readyState !== ws.OPEN, 30_000, 5)
    },
  }
}

function awareness(clientId: number, clock: number, state: unknown): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, 1)
  encoding.writeVarUint(enc, clientId)
  encoding.writeVarUint(enc, clock)
  encoding.writeVarString(enc, JSON.stringify(state))
  return encodeSyncMessage({ type: 'awareness', update: encoding.toUint8Array(enc) })
}

/**
 * `connections` members of the room each: their own presence (let through), another's id,
 * a malformed message, `large` states over the 4 KiB cap, then `flood` more of their own as
 * fast as the socket takes them (10/s, burst 20: the first few pass).
 */
export async function awarenessFlood(url: string, roomId: string, member: MembershipKey, from: string, connections: number, large: number, flood: number): Promise<AttackResult> {
  const exact: Expected = {}
  const atLeast: Expected = {}
  let frames = 0
  await pool(connections, 4, async (c) => {
    const { client, roundTrip } = await memberSocket(url, roomId, member, from)
    const id = 1_000_000 + c
    const t0 = performance.now()
    client.link.send(awareness(id, 1, { name: `Mallory ${c}` }))
    client.link.send(awareness(id + 500_000, 1, { name: 'not mine' }))
    add(exact, 'sync:awareness-not-own')
    client.link.send(encodeSyncMessage({ type: 'awareness', update: new Uint8Array([5, 1]) }))
    add(exact, 'sync:awareness-malformed')
    for (let i = 0; i < large; i++) client.link.send(awareness(id, 2 + i, { name: 'x'.repeat(8 * 1024) }))
    add(exact, 'sync:awareness-too-large', large)
    for (let i = 0; i < flood; i++) client.link.send(awareness(id, 1000 + i, { name: `Mallory ${c} ${i}` }))
    await roundTrip()
    // Three tokens went above; the rest of the burst of 20 and what refilled (10/s) passed.
    const seconds = (performance.now() - t0) / 1000
    add(atLeast, 'sync:awareness-rate', Math.max(0, flood - 17 - Math.ceil(seconds * 10)))
    frames += 3 + large + flood
    client.destroy()
  })
  return { frames, exact, atLeast }
}

/**
 * `connections` members of the room each sending `perKind` updates of every kind the gate
 * refuses: junk after a valid empty update, an empty update, entries with forged signatures,
 * entries of another room, and elements that are not entries. Each is refused whole and
 * counted twice: by the gate (`gate:<reason>`) and by the sync (`sync:gate`).
 */
export async function junkUpdateFlood(
  url: string,
  roomId: string,
  member: MembershipKey,
  from: string,
  connections: number,
  perKind: number,
  /** Resolves once the relay has counted `sent` (updates are decided asynchronously, in order per connection). */
  counted: (sent: Expected) => Promise<void>,
): Promise<AttackResult> {
  const exact: Expected = {}
  let frames = 0
  const mallory = await generateIdentity()
  const one = await signEntry(mallory, roomId, Date.now(), { kind: 'raise', nonce: new Uint8Array(16) })
  const otherRoom = await signEntry(mallory, toBase64url(randomBytes(16)), Date.now(), { kind: 'raise', nonce: new Uint8Array(16) })
  const empty = Y.encodeStateAsUpdate(new Y.Doc())
  const withJunk = new Uint8Array(64 * 1024)
  withJunk.set(empty)
  withJunk.fill(0x61, empty.length)
  const kinds: Array<[() => Uint8Array, string]> = [
    [() => encodeUpdate(withJunk), 'gate:trailing-bytes'],
    [() => encodeUpdate(empty), 'gate:no-new-entry'],
    [() => encodeUpdate(updateOf(Array.from({ length: 200 }, (_, i) => forge(one, i)))), 'gate:bad-signature'],
    [() => encodeUpdate(updateOf([otherRoom])), 'gate:foreign-room'],
    [() => encodeUpdate(updateOf([randomBytes(40)])), 'gate:malformed-entry'],
  ]
  await pool(connections, 4, async () => {
    const { client } = await memberSocket(url, roomId, member, from)
    for (let i = 0; i < perKind; i++) {
      for (const [frame, reason] of kinds) {
        client.link.send(frame())
        add(exact, reason)
        add(exact, 'sync:gate')
      }
      // A round at a time: the relay checks a connection's updates in order, with a bounded backlog.
      await counted({ ...exact })
    }
    frames += perKind * kinds.length
    client.destroy()
  })
  return { frames, exact }
}

function forge(entry: Uint8Array, i: number): Uint8Array {
  const e = entry.slice()
  e[e.length - 1] = (e[e.length - 1]! + 1) & 0xff
  e[e.length - 2] = i & 0xff
  e[e.length - 3] = (i >> 8) & 0xff
  return e
}

/** An update appending `entries` under a fresh Yjs client. */
function updateOf(entries: Uint8Array[]): Uint8Array {
  const doc = new Y.Doc()
  logOf(doc).push(entries)
  return Y.encodeStateAsUpdate(doc)
}
