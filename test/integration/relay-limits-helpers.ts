/**
 * Helpers for the relay-limits tests: a raw /relay socket that authenticates
 * like a client and then sends whatever an attacker likes, and hand-built room
 * logs (genesis, stage seats) signed with real keys.
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { keyId, randomBytes, toBase64url, type Identity } from '../../src/identity/index.ts'
import { deriveDiscoveryKey, deriveRoomId, entryId, logOf, membershipKey, proveMembership, RoomActor, RoomReplica, signEntry } from '../../src/room/index.ts'
import { authMessage, discoveryHex, MAX_RELAY_SYNC_BYTES, memberMessage } from '../../src/net/relay-protocol.ts'
import { encodeSyncMessage, encodeUpdate } from '../../src/net/sync.ts'
import { sealedText } from '../helpers/sealed-text.ts'
import { waitFor } from '../helpers/wait.ts'

export const until = (what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> => waitFor(what, cond, timeoutMs)

export interface Raw {
  ws: WebSocket
  got: Array<Record<string, unknown>>
  binary: Uint8Array[]
  readonly closed: { code: number; reason: string } | null
  opened: Promise<void>
  send(msg: unknown): void
  /** With `secret`, proves membership of the epoch it is the secret of (a member's connection). */
  authenticate(identity: Identity, room: string, secret?: Uint8Array): Promise<void>
}

/** A raw socket that records what the relay sends and how it closes. */
export function raw(url: string): Raw {
  const ws = new WebSocket(url)
  const got: Array<Record<string, unknown>> = []
  const binary: Uint8Array[] = []
  let closed: { code: number; reason: string } | null = null
  ws.on('message', (data, isBinary) => {
    if (isBinary) binary.push(new Uint8Array(data as Buffer))
    else got.push(JSON.parse(String(data)) as Record<string, unknown>)
  })
  ws.on('close', (code, reason) => (closed = { code, reason: String(reason) }))
  ws.on('error', () => undefined)
  return {
    ws,
    got,
    binary,
    get closed() {
      return closed
    },
    opened: new Promise<void>((ok, fail) => {
      ws.once('open', () => ok())
      ws.once('error', fail)
    }),
    send: (msg: unknown) => ws.send(msg instanceof Uint8Array ? msg : typeof msg === 'string' ? msg : JSON.stringify(msg)),
    async authenticate(identity: Identity, room: string, secret?: Uint8Array): Promise<void> {
      await this.opened
      this.send({ type: 'hello', v: 1, room, key: keyId(identity.publicKey) })
      await until('challenge', () => got.some((m) => m.type === 'challenge') || closed !== null)
      const ch = got.find((m) => m.type === 'challenge') as { nonce: string; relay: string } | undefined
      if (!ch) return
      const member = secret ? { member: toBase64url(proveMembership(membershipKey(secret), memberMessage(room, ch.nonce, ch.relay))) } : {}
      this.send({ type: 'auth', sig: toBase64url(await identity.sign(authMessage(room, ch.nonce, ch.relay))), ...member })
      await until('welcome', () => got.some((m) => m.type === 'welcome') || closed !== null)
    },
  }
}

export interface HandRoom {
  roomId: string
  dk: string
  genesisId: string
  doc: Y.Doc
  /** Epoch 0's secret, when the room has one. */
  secret?: Uint8Array
}

/**
 * A room log written by hand: genesis, and a stage seat for the owner and each of `speakers`.
 * No membership epoch unless `epoch`: any authenticated key may connect to the relay for it,
 * but is sent nothing of the room (a relay serves only members of an epoch, docs/relay.md).
 * With `epoch`, epoch 0 (`secret` is its secret): members who prove it are served.
 */
export async function handRoom(owner: Identity, speakers: Identity[] = [], opts: { epoch?: boolean } = {}): Promise<HandRoom> {
  const nonce = randomBytes(16)
  const roomId = deriveRoomId(owner.publicKey, nonce)
  const t = Date.now()
  const genesis = await signEntry(owner, roomId, t, { kind: 'genesis', nonce, title: sealedText(roomId, owner, 'title', 'Limits'), topic: sealedText(roomId, owner, 'topic', '') })
  const genesisId = entryId(genesis)
  const entries = [genesis]
  for (const who of [owner, ...speakers]) {
    const invite = await signEntry(owner, roomId, t, { kind: 'invite', auth: genesisId, subject: keyId(who.publicKey) }, [genesisId])
    entries.push(invite, await signEntry(who, roomId, t, { kind: 'accept', invite: entryId(invite) }, [entryId(invite)]))
  }
  const doc = new Y.Doc()
  logOf(doc).push(entries)
  const room: HandRoom = { roomId, dk: discoveryHex(deriveDiscoveryKey(roomId)), genesisId, doc }
  if (!opts.epoch) return room
  const replica = new RoomReplica(doc, { roomId })
  await replica.ready()
  room.secret = randomBytes(32)
  await new RoomActor(replica, owner).startEpochs(room.secret)
  replica.destroy()
  return room
}

/** Bytes of every entry in `doc`'s log. */
export function entryBytes(doc: Y.Doc): number {
  return logOf(doc)
    .toArray()
    .reduce((n, e) => n + e.byteLength, 0)
}

/** One sync frame as large as the relay takes: an empty (valid) update followed by junk. */
export function junkFrame(): Uint8Array {
  const empty = Y.encodeStateAsUpdate(new Y.Doc())
  const update = new Uint8Array(MAX_RELAY_SYNC_BYTES - 16)
  update.set(empty)
  update.fill(0x61, empty.length)
  return encodeUpdate(update)
}

/** An update frame of `n` entries of room `roomId` signed by `who`, each with a broken signature. */
export async function forgedFrame(who: Identity, roomId: string, n: number, salt: number): Promise<Uint8Array> {
  const one = await signEntry(who, roomId, Date.now(), { kind: 'raise', nonce: new Uint8Array(16) })
  const forged = Array.from({ length: n }, (_, i) => {
    const e = one.slice()
    e[e.length - 1] = (salt + 1) & 0xff
    e[e.length - 2] = i & 0xff
    e[e.length - 3] = (i >> 8) & 0xff
    return e
  })
  const doc = new Y.Doc()
  logOf(doc).push(forged)
  return encodeUpdate(Y.encodeStateAsUpdate(doc))
}

/** An update frame appending `n` copies of `entry` (as anyone served the log could), under a fresh Yjs client. */
export function copiesFrame(entry: Uint8Array, n: number): Uint8Array {
  const doc = new Y.Doc()
  logOf(doc).push(Array.from({ length: n }, () => entry))
  return encodeUpdate(Y.encodeStateAsUpdate(doc))
}

/** An update frame of `n` valid profile entries signed by `who` (sequence numbers from `from` + 1). */
export async function profilesFrame(who: Identity, roomId: string, n: number, from: number): Promise<Uint8Array> {
  const entries = await Promise.all(Array.from({ length: n }, (_, i) => signEntry(who, roomId, Date.now(), { kind: 'profile', seq: from + i + 1, name: sealedText(roomId, who, 'name', 'Mallory'), muted: false })))
  const doc = new Y.Doc()
  logOf(doc).push(entries)
  return encodeUpdate(Y.encodeStateAsUpdate(doc))
}

/** A sync awareness message naming `clientId` with `state` (null: a removal). */
export function awarenessFrame(clientId: number, clock: number, state: Record<string, unknown> | null): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, 1)
  encoding.writeVarUint(enc, clientId)
  encoding.writeVarUint(enc, clock)
  encoding.writeVarString(enc, JSON.stringify(state))
  return encodeSyncMessage({ type: 'awareness', update: encoding.toUint8Array(enc) })
}

/** A sync step 1 from an empty doc: 3 bytes that ask for the whole log. */
export const EMPTY_STEP1 = encodeSyncMessage({ type: 'step1', stateVector: Y.encodeStateVector(new Y.Doc()) })
