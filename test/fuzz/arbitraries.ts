/**
 * fast-check arbitraries that know each format's structure, so random inputs get past the first
 * checks: Yjs V1 updates written field by field (any struct, parent and content kind, delete
 * sets, lying lengths), awareness updates, sync framing, JSON control frames with the right field
 * names and wrong values, mesh messages, invite links, room entries, RIFF files and data-channel
 * chunk streams. Each is mixed with plain random bytes or strings.
 */
import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { chunkStream, SDP, CANDIDATE, type FuzzContext } from './samples.ts'

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const b64url = (min: number, max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...B64URL), minLength: min, maxLength: max })
const hex = (n: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n })

/** Numbers a decoder may mishandle. */
const oddNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1, -1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, 1e21, 0.5),
)
/** Varuints up to 2^53 and the edges around 2^32. */
const bigUint = fc.oneof(fc.nat(300), fc.constantFrom(0, 1, 127, 128, 0xffff, 0x7fffffff, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1), fc.maxSafeNat())
const anyValue = fc.oneof({ weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) }, oddNumber, fc.string({ unit: 'binary', maxLength: 40 }))

const rawString = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'binary-ascii', maxLength: 300 }))
const rawBytes = fc.uint8Array({ maxLength: 600 })

/** A JSON object with some of `fields` (values from `values`) plus stray keys, serialised. */
function jsonFrame(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<string> {
  return fc
    .tuple(fc.record(fields, { requiredKeys: [] }), fc.dictionary(fc.string({ maxLength: 12 }), anyValue, { maxKeys: 3 }))
    .map(([known, extra]) => JSON.stringify({ ...extra, ...known }))
}

/** Valid JSON nested `depth` deep, inside an object. */
const deepJson = fc.tuple(fc.nat(80), fc.constantFrom('[', '{"a":')).map(([d, open]) => `{"type":"publish","topic":"t","data":${open.repeat(d)}1${(open === '[' ? ']' : '}').repeat(d)}}`)

export function signalArbitrary(ctx: FuzzContext): fc.Arbitrary<string> {
  const topic = fc.oneof(fc.constant(ctx.discovery), fc.string({ maxLength: 300 }), hex(64))
  const frame = jsonFrame({
    type: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'publish', 'ping', 'pong'), anyValue),
    topics: fc.oneof(fc.array(topic, { maxLength: 5 }), anyValue),
    topic: fc.oneof(topic, anyValue),
    data: anyValue,
    clients: fc.oneof(oddNumber, anyValue),
  })
  return fc.oneof({ weight: 4, arbitrary: frame }, rawString, fc.json({ maxDepth: 4 }), deepJson)
}

export function relayArbitrary(ctx: FuzzContext): fc.Arbitrary<string> {
  const key = fc.oneof(fc.constantFrom(...ctx.keyIds), b64url(40, 46), anyValue)
  // Inputs at the size caps are slow to make and to parse: one in twenty.
  const sdp = fc.oneof({ weight: 19, arbitrary: fc.oneof(fc.constant(SDP), fc.string({ maxLength: 200 }), anyValue) }, fc.nat(75_000).map((n) => 'v=0\r\n' + 'a'.repeat(n)))
  const frame = jsonFrame({
    type: fc.oneof(fc.constantFrom('hello', 'auth', 'publish', 'unpublish', 'subscribe', 'unsubscribe', 'answer', 'ping', 'pong', 'challenge', 'welcome',
      'published', 'unpublished', 'subscribed', 'unsubscribed', 'offer', 'publishers', 'refused', 'bye'), anyValue),
    v: oddNumber,
    room: fc.oneof(fc.constant(ctx.discovery), hex(64), hex(63), anyValue),
    key,
    cascade: anyValue,
    standby: anyValue,
    sig: fc.oneof(b64url(80, 130), anyValue),
    sdp,
    nonce: fc.oneof(b64url(40, 70), anyValue),
    relay: fc.oneof(fc.constantFrom('relay.example:8443', '[::1]:80', '127.0.0.1'), fc.string({ maxLength: 260 })),
    publishers: fc.oneof({ weight: 19, arbitrary: fc.array(key, { maxLength: 5 }) }, fc.nat(1100).map((n) => Array(n).fill(ctx.keyIds[0]))),
    ids: fc.oneof(fc.array(key, { maxLength: 5 }), anyValue),
    op: fc.oneof(fc.constantFrom('hello', 'auth', 'publish', 'subscribe', 'answer', 'toString', '__proto__'), anyValue),
    reason: fc.oneof(fc.string({ maxLength: 220 }), anyValue),
    message: fc.oneof(fc.string({ maxLength: 220 }), anyValue),
  })
  return fc.oneof({ weight: 4, arbitrary: frame }, rawString, fc.json({ maxDepth: 3 }), deepJson)
}

export function meshWireArbitrary(ctx: FuzzContext): fc.Arbitrary<string> {
  const nonce = fc.oneof(fc.integer({ min: 1 }), fc.constantFrom(2 ** 53 - 1, 2 ** 53, 0, -1, 1.5), anyValue)
  const signal = jsonFrame({
    type: fc.oneof(fc.constantFrom('description', 'candidate'), anyValue),
    sdpType: fc.oneof(fc.constantFrom('offer', 'answer', 'rollback', 'pranswer'), anyValue),
    sdp: fc.oneof(fc.constant(SDP), fc.string({ maxLength: 100 }).map((s) => 'v=0' + s), anyValue),
    candidate: fc.oneof(fc.constantFrom(CANDIDATE, '', 'a=' + CANDIDATE), fc.string({ maxLength: 1100 }), anyValue),
    sdpMid: fc.oneof(fc.constantFrom('0', null), fc.string({ maxLength: 70 }), anyValue),
    sdpMLineIndex: fc.oneof(fc.integer({ min: -2, max: 1100 }), anyValue),
    usernameFragment: fc.oneof(fc.string({ maxLength: 300 }), anyValue),
  }).map((s) => JSON.parse(s) as unknown)
  const frame = jsonFrame({
    k: fc.oneof(fc.constantFrom('hi', 'sig'), anyValue),
    n: nonce,
    r: fc.oneof(fc.constant(null), nonce),
    sig: fc.oneof(b64url(84, 88), anyValue),
    s: fc.oneof({ weight: 3, arbitrary: signal }, anyValue),
  })
  return fc.oneof({ weight: 4, arbitrary: frame }, rawString, fc.json({ maxDepth: 4 }), fc.constant(ctx.wireFrom))
}

export function inviteArbitrary(ctx: FuzzContext): fc.Arbitrary<string> {
  const origin = fc.oneof(fc.constantFrom('', 'https://stoop.example', 'http://[::1]:8787/app/', 'stoop.example', 'javascript:x', 'https://a@b:c/'), fc.webUrl())
  const room = fc.oneof(fc.constant(ctx.roomId), b64url(0, 30), fc.string({ maxLength: 30 }))
  const value = fc.oneof(b64url(0, 500), fc.constant(ctx.secret), fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }).map(encodeURIComponent))
  const param = fc.tuple(fc.oneof(fc.constantFrom('k', 'c', 'o', 'g'), fc.string({ maxLength: 4 })), value).map(([k, v]) => `${k}=${v}`)
  const link = fc
    .tuple(origin, fc.constantFrom('#/r/', '#/r', '#', '#/R/', '##/r/'), room, fc.constantFrom('', '/', '//'), fc.array(param, { maxLength: 6 }), fc.constantFrom('?', '&', '?&'))
    .map(([o, h, r, slash, params, q]) => `${o}${h}${r}${slash}${params.length > 0 ? q + params.join('&') : ''}`)
  return fc.oneof({ weight: 4, arbitrary: link }, rawString, fc.webUrl({ withFragments: true, withQueryParameters: true }))
}

function uints(enc: encoding.Encoder, ...values: number[]): void {
  for (const v of values) encoding.writeVarUint(enc, v)
}

/** One Yjs V1 struct, written as UpdateEncoderV1 does (lengths, counts and ids may lie). */
const struct = fc.record({
  ref: fc.oneof({ weight: 5, arbitrary: fc.constant(3) }, fc.nat(31)),
  origin: fc.option(fc.tuple(bigUint, bigUint)),
  rightOrigin: fc.option(fc.tuple(bigUint, bigUint)),
  parent: fc.oneof(fc.constantFrom('log', 'log', 'm', ''), fc.string({ maxLength: 8 }), fc.tuple(bigUint, bigUint)),
  parentSub: fc.option(fc.string({ maxLength: 6 })),
  len: bigUint,
  content: fc.uint8Array({ maxLength: 120 }),
  text: fc.string({ maxLength: 20 }),
  any: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 }),
})

function writeStruct(enc: encoding.Encoder, s: typeof struct extends fc.Arbitrary<infer T> ? T : never): void {
  if (s.ref === 0 || s.ref === 10) {
    encoding.writeUint8(enc, s.ref)
    return encoding.writeVarUint(enc, s.len)
  }
  encoding.writeUint8(enc, (s.ref & 31) | (s.origin ? 0x80 : 0) | (s.rightOrigin ? 0x40 : 0) | (s.parentSub !== null ? 0x20 : 0))
  for (const id of [s.origin, s.rightOrigin]) if (id) uints(enc, ...id)
  if (!s.origin && !s.rightOrigin) {
    if (typeof s.parent === 'string') {
      uints(enc, 1)
      encoding.writeVarString(enc, s.parent)
    } else uints(enc, 0, ...s.parent)
    if (s.parentSub !== null) encoding.writeVarString(enc, s.parentSub)
  }
  switch (s.ref) {
    case 1: // deleted
      return encoding.writeVarUint(enc, s.len)
    case 2: // JSON
    case 8: // any
      encoding.writeVarUint(enc, s.any.length)
      for (const v of s.any) {
        if (s.ref === 8) encoding.writeAny(enc, v as never)
        else encoding.writeVarString(enc, JSON.stringify(v) ?? 'undefined')
      }
      return
    case 4: // string
    case 5: // embed
      return encoding.writeVarString(enc, s.ref === 5 ? JSON.stringify(s.text) : s.text)
    case 6: // format
      encoding.writeVarString(enc, s.text)
      return encoding.writeVarString(enc, JSON.stringify(s.any))
    case 7: // type
      return encoding.writeVarUint(enc, s.len % 8)
    default: // 3 binary; others: raw bytes
      return encoding.writeVarUint8Array(enc, s.content)
  }
}

/** A V1 update: clients with struct runs, then a delete set. */
export const yjsUpdateArbitrary: fc.Arbitrary<Uint8Array> = fc
  .record({
    clients: fc.array(fc.record({ count: fc.option(bigUint), client: bigUint, clock: bigUint, structs: fc.array(struct, { maxLength: 4 }) }), { maxLength: 3 }),
    lieClients: fc.option(bigUint, { freq: 8 }),
    ds: fc.array(fc.tuple(bigUint, fc.array(fc.tuple(bigUint, bigUint), { maxLength: 3 })), { maxLength: 2 }),
    tail: fc.uint8Array({ maxLength: 8 }),
  })
  .map(({ clients, lieClients, ds, tail }) => {
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, lieClients ?? clients.length)
    for (const c of clients) {
      encoding.writeVarUint(enc, c.count ?? c.structs.length)
      encoding.writeVarUint(enc, c.client)
      encoding.writeVarUint(enc, c.clock)
      for (const s of c.structs) writeStruct(enc, s)
    }
    encoding.writeVarUint(enc, ds.length)
    for (const [client, ranges] of ds) {
      encoding.writeVarUint(enc, client)
      encoding.writeVarUint(enc, ranges.length)
      for (const range of ranges) uints(enc, ...range)
    }
    encoding.writeUint8Array(enc, tail)
    return encoding.toUint8Array(enc)
  })

export const updateArbitrary = fc.oneof({ weight: 4, arbitrary: yjsUpdateArbitrary }, rawBytes)

/** An awareness update: entries of client id, clock and a JSON state (or not JSON). */
export const awarenessArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.option(bigUint, { freq: 6 }),
        fc.array(fc.tuple(bigUint, bigUint, fc.oneof(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.constant('null'), fc.string({ maxLength: 30 }))), { maxLength: 4 }),
      )
      .map(([lie, entries]) => {
        const enc = encoding.createEncoder()
        encoding.writeVarUint(enc, lie ?? entries.length)
        for (const [id, clock, state] of entries) {
          uints(enc, id, clock)
          encoding.writeVarString(enc, state)
        }
        return encoding.toUint8Array(enc)
      }),
  },
  rawBytes,
)

/** Sync framing: a type byte and one varUint8Array whose content is an update, state vector or awareness. */
export const syncArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(fc.oneof(fc.nat(3), fc.nat(255)), fc.oneof(updateArbitrary, awarenessArbitrary, fc.array(bigUint, { maxLength: 8 }).map((n) => {
      const enc = encoding.createEncoder()
      for (const v of n) encoding.writeVarUint(enc, v)
      return encoding.toUint8Array(enc)
    })), fc.option(bigUint, { freq: 6 }), fc.uint8Array({ maxLength: 4 })).map(([type, payload, lie, tail]) => {
      const enc = encoding.createEncoder()
      encoding.writeUint8(enc, type)
      encoding.writeVarUint(enc, lie ?? payload.length)
      encoding.writeUint8Array(enc, payload)
      encoding.writeUint8Array(enc, tail)
      return encoding.toUint8Array(enc)
    }),
  },
  rawBytes,
)

/** A room entry's layout with random field values and a random body. */
export function entryArbitrary(ctx: FuzzContext): fc.Arbitrary<Uint8Array> {
  const roomId = Buffer.from(ctx.roomId, 'base64url')
  const shaped = fc
    .record({
      version: fc.oneof(fc.constantFrom(1, 2, 3, 0x81), fc.nat(255)),
      kind: fc.oneof(fc.nat(16), fc.nat(255)),
      room: fc.oneof(fc.constant(new Uint8Array(roomId)), fc.uint8Array({ minLength: 16, maxLength: 16 })),
      author: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      time: bigUint,
      prev: fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { maxLength: 10 }),
      body: fc.uint8Array({ maxLength: 300 }),
      sig: fc.uint8Array({ minLength: 0, maxLength: 64 }),
    })
    .map((e) => {
      const enc = encoding.createEncoder()
      encoding.writeUint8(enc, e.version)
      encoding.writeUint8(enc, e.kind)
      encoding.writeUint8Array(enc, e.room)
      encoding.writeUint8Array(enc, e.author)
      encoding.writeVarUint(enc, e.time)
      encoding.writeUint8(enc, e.prev.length)
      for (const p of e.prev) encoding.writeUint8Array(enc, p)
      encoding.writeUint8Array(enc, e.body)
      encoding.writeUint8Array(enc, e.sig)
      return encoding.toUint8Array(enc)
    })
  return fc.oneof({ weight: 4, arbitrary: shaped }, rawBytes, fc.uint8Array({ minLength: 2000, maxLength: 2100 }))
}

const u32 = fc.oneof(fc.nat(100), fc.constantFrom(0, 1, 16, 18, 40, 0x7fffffff, 0xfffffffe, 0xffffffff), fc.nat({ max: 0xffffffff }))
const u16 = fc.oneof(fc.constantFrom(0, 1, 2, 16, 0xfffe, 0xffff), fc.nat(0xffff))

/** RIFF/WAVE: a header and chunks (fmt fields, sizes) drawn around the values that matter. */
export const wavArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom('RIFF', 'RIFX', 'RIF'),
        u32,
        fc.constantFrom('WAVE', 'WAVX'),
        fc.array(
          fc.record({
            id: fc.oneof(fc.constantFrom('fmt ', 'data', 'LIST', 'fact'), fc.string({ unit: 'binary-ascii', minLength: 4, maxLength: 4 })),
            size: fc.option(u32, { freq: 3 }),
            fmt: fc.tuple(fc.oneof(fc.constantFrom(1, 3, 0xfffe), u16), fc.oneof(fc.constantFrom(1, 2), u16), u32, u32, fc.oneof(fc.constantFrom(2, 4), u16), fc.oneof(fc.constant(16), u16)),
            body: fc.uint8Array({ maxLength: 80 }),
          }),
          { maxLength: 6 },
        ),
      )
      .map(([riff, size, wave, chunks]) => {
        const parts: number[] = [...Buffer.from(riff, 'latin1'), ...le32(size), ...Buffer.from(wave, 'latin1')]
        for (const c of chunks) {
          const body = c.id === 'fmt ' ? [...le16(c.fmt[0]), ...le16(c.fmt[1]), ...le32(c.fmt[2]), ...le32(c.fmt[3]), ...le16(c.fmt[4]), ...le16(c.fmt[5]), ...c.body.subarray(0, 24)] : [...c.body]
          parts.push(...Buffer.from(c.id, 'latin1').subarray(0, 4), ...le32(c.size ?? body.length), ...body)
        }
        return Uint8Array.from(parts)
      }),
  },
  rawBytes,
)

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]
}
function le16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff]
}

function withHeader(head: number, body: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(body.length + 1)
  chunk[0] = head
  chunk.set(body, 1)
  return chunk
}

/** Data-channel chunk streams: random chunks, and long runs of tiny "more follows" chunks. */
export const peerLinkArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(0, 1), fc.nat(255)), fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.nat(10_000).map((n) => new Uint8Array(n)))), { maxLength: 40 })
      .map((chunks) => chunkStream(chunks.map(([head, body]) => withHeader(head, body))).subarray(0, 24 * 1024)),
  },
  { weight: 1, arbitrary: fc.nat(3000).map((n) => chunkStream([...Array.from({ length: n }, () => Uint8Array.of(1)), Uint8Array.of(0)])) },
  { weight: 1, arbitrary: fc.array(fc.uint8Array({ maxLength: 3 }), { maxLength: 30 }).map(chunkStream) },
  rawBytes,
)
