/**
 * Fuzz targets for the binary decoders: sync messages applied to a live doc through the room
 * guard, awareness updates, the guard itself (and what it accepts, applied), the relay's room
 * gate, data-channel chunk reassembly, room entries and link passes, and WAV files.
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { Awareness } from 'y-protocols/awareness'
import { TypedEmitter } from '../../src/base/emitter.ts'
import { decodeWav, WavError } from '../../src/audio/wav.ts'
import { decodeSyncMessage, encodeSyncMessage, readSyncMessage, SYNC_REJECT_REASONS, type ReadResult, type SyncContext } from '../../src/net/sync.ts'
import { CHUNK_BYTES, PeerLink } from '../../src/net/peer-link.ts'
import type { Peer } from '../../src/net/peer.ts'
import { checkRemoteUpdate, decodeEntry, decodeLinkGrant, decodePass, encodeUnsigned, ENTRY_VERSION, LOG_NAME, MAX_ENTRY_BYTES, type Entry, type EntryBody } from '../../src/room/index.ts'
import { blobId } from '../../src/room/codec.ts'
import { checkRoomUpdate, ROOM_GATE_REASONS } from '../../relay/rooms/gate.ts'
import { awarenessArbitrary, entryArbitrary, peerLinkArbitrary, syncArbitrary, updateArbitrary, wavArbitrary } from './arbitraries.ts'
import type { FuzzContext, Samples } from './samples.ts'
import { must, mustBeReason, type Target } from './target.ts'

const bytes = (samples: Samples, name: string): Uint8Array[] => (samples[name] ?? []).filter((s): s is Uint8Array => s instanceof Uint8Array)

/** Every root type of `doc` is the log, and every log element is a binary entry-sized blob. */
function mustHoldOnlyLog(doc: Y.Doc, deep: boolean): void {
  for (const key of doc.share.keys()) must(key === LOG_NAME, `the doc gained a root type "${key}"`)
  if (!deep) return
  for (const el of doc.getArray<unknown>(LOG_NAME).toArray()) {
    must(el instanceof Uint8Array && el.length <= MAX_ENTRY_BYTES, 'the log holds something other than an entry-sized binary')
  }
}

/** A doc holding the room log of the samples (the full-state update is the guard corpus's last valid one). */
function roomDoc(updates: Uint8Array[]): Y.Doc {
  const doc = new Y.Doc()
  for (const u of updates) if (checkRemoteUpdate(u).ok) Y.applyUpdate(doc, u)
  return doc
}

function syncTarget(samples: Samples): Target {
  const updates = bytes(samples, 'guard')
  let doc = roomDoc(updates)
  let awareness = new Awareness(doc)
  let n = 0
  const ctx = (): SyncContext => ({ doc, awareness, origin: 'fuzz', acceptUpdate: (u) => checkRemoteUpdate(u).ok })
  let context = ctx()
  const checkResult = (r: ReadResult): void => {
    if (r.rejected !== undefined) mustBeReason(r.rejected, SYNC_REJECT_REASONS)
    for (const bytes of r.replies ?? []) {
      const reply = decodeSyncMessage(bytes, Number.MAX_SAFE_INTEGER)
      must(reply.ok && reply.message.type === 'step2', 'a step 1 was answered with something other than a step 2')
    }
  }
  return {
    name: 'sync',
    kind: 'bytes',
    maxLen: 256 * 1024,
    seeds: bytes(samples, 'sync'),
    arbitrary: syncArbitrary,
    run(input) {
      const d = decodeSyncMessage(input)
      if (!d.ok) return mustBeReason(d.reason, SYNC_REJECT_REASONS)
      const again = decodeSyncMessage(encodeSyncMessage(d.message))
      must(again.ok && again.message.type === d.message.type, 'a decoded message does not survive re-encoding')
      const r = readSyncMessage(d.message, context)
      must(!(r instanceof Promise), 'a synchronous gate gave an asynchronous answer')
      checkResult(r)
      mustHoldOnlyLog(doc, false)
      if (++n % 256 === 0) {
        mustHoldOnlyLog(doc, true)
        awareness.destroy()
        doc.destroy()
        doc = roomDoc(updates)
        awareness = new Awareness(doc)
        context = ctx()
      }
    },
    dispose: () => awareness.destroy(),
  }
}

function awarenessTarget(samples: Samples): Target {
  let awareness = new Awareness(new Y.Doc())
  let own = { name: 'me', level: 0 }
  let n = 0
  const reset = (): void => {
    awareness.destroy()
    awareness = new Awareness(new Y.Doc())
    own = { name: 'me', level: 0 }
    awareness.setLocalState(own)
  }
  reset()
  return {
    name: 'awareness',
    kind: 'bytes',
    maxLen: 64 * 1024,
    seeds: bytes(samples, 'awareness'),
    arbitrary: awarenessArbitrary,
    run(input) {
      const r = readSyncMessage({ type: 'awareness', update: input }, { doc: awareness.doc, awareness, origin: 'fuzz' })
      must(!(r instanceof Promise), 'awareness gave an asynchronous answer')
      if (r.rejected !== undefined) mustBeReason(r.rejected, SYNC_REJECT_REASONS)
      must(awareness.getLocalState() === own, 'a remote awareness message changed our own state')
      if (++n % 512 === 0) reset()
    },
    dispose: () => awareness.destroy(),
  }
}

function guardTarget(samples: Samples): Target {
  const updates = bytes(samples, 'guard')
  let doc = roomDoc(updates)
  let accepted = 0
  return {
    name: 'guard',
    kind: 'bytes',
    maxLen: 256 * 1024,
    seeds: updates,
    arbitrary: updateArbitrary,
    run(input) {
      const r = checkRemoteUpdate(input)
      if (!r.ok) return mustBeReason(r.reason)
      must(Number.isInteger(r.entries) && r.entries >= 0, 'accepted with a bad entry count')
      // The guard's promise: what it accepts is safe to apply, and only appends binary elements to the log.
      Y.applyUpdate(doc, input, 'fuzz')
      mustHoldOnlyLog(doc, false)
      if (++accepted % 128 === 0) {
        mustHoldOnlyLog(doc, true)
        doc.destroy()
        doc = roomDoc(updates)
      }
    },
    dispose: () => doc.destroy(),
  }
}

function relayGateTarget(samples: Samples, ctx: FuzzContext): Target {
  let flip = false
  return {
    name: 'relay-gate',
    kind: 'bytes',
    maxLen: 256 * 1024,
    seeds: bytes(samples, 'relay-gate'),
    arbitrary: updateArbitrary,
    run(input) {
      // A new room (room id not known yet) and a known one take different paths.
      flip = !flip
      const r = checkRoomUpdate(input, ctx.discovery, flip ? null : ctx.roomId)
      if (!r.ok) return mustBeReason(r.reason, ROOM_GATE_REASONS)
      must(r.roomId === null || r.roomId === ctx.roomId, 'the gate admitted another room')
    },
  }
}

class FakePeer extends TypedEmitter<{ data: (b: Uint8Array) => void; close: () => void }> {
  send(): void {}
  receive(chunk: Uint8Array): void {
    this.emit('data', chunk)
  }
}

const LINK_MAX = 8 * 1024
/** A little slack over what an honest sender needs (one chunk): the bound, not its exact value, is the contract. */
const LINK_MAX_CHUNKS = Math.ceil(LINK_MAX / CHUNK_BYTES) + 2

function peerLinkTarget(samples: Samples): Target {
  const maxChunks = LINK_MAX_CHUNKS
  return {
    name: 'peer-link',
    kind: 'bytes',
    maxLen: 24 * 1024,
    seeds: bytes(samples, 'peer-link'),
    arbitrary: peerLinkArbitrary,
    run(stream) {
      const peer = new FakePeer()
      const link = new PeerLink(peer as unknown as Peer, { maxMessageBytes: LINK_MAX, maxChunks })
      link.on('message', (m) => must(m.byteLength <= LINK_MAX, `delivered a ${m.byteLength}-byte message over the ${LINK_MAX} cap`))
      const dec = decoding.createDecoder(stream)
      while (decoding.hasContent(dec) && !link.closed) {
        const at = dec.pos
        let chunk: Uint8Array
        try {
          chunk = decoding.readVarUint8Array(dec)
        } catch {
          chunk = stream.subarray(at) // a torn length: the rest is one last chunk
          dec.pos = stream.length
        }
        peer.receive(chunk)
        const held = link.held
        must(held.bytes <= LINK_MAX && held.chunks <= maxChunks, `reassembly holds ${held.bytes} bytes in ${held.chunks} chunks (caps ${LINK_MAX}, ${maxChunks})`)
      }
      link.close()
    },
  }
}

/** An entry's fields with bytes as hex, for comparing two decodes. */
function fields(e: Entry): string {
  const { id: _id, bytes: _b, signed: _s, version: _v, ...rest } = e
  return JSON.stringify(rest, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))
}

function entryTarget(samples: Samples, ctx: FuzzContext): Target {
  return {
    name: 'entry',
    kind: 'bytes',
    maxLen: MAX_ENTRY_BYTES + 256,
    seeds: bytes(samples, 'entry'),
    arbitrary: entryArbitrary(ctx),
    run(input) {
      const pass = decodePass(input)
      if (pass) must(pass.link.id === blobId(pass.pass.grant) && decodeLinkGrant(pass.pass.grant) !== null, 'a pass whose grant does not decode alone')
      decodeLinkGrant(input)
      const e = decodeEntry(input)
      if (e === null) return
      must(e.id === blobId(input) && e.signed.length + e.sig.length === input.length, 'an entry whose id or signed part is not its bytes')
      // Plain text (entries before version 3) is read, never written: such an entry has no re-encoding.
      if (e.version < ENTRY_VERSION && (e.kind === 'genesis' || e.kind === 'meta' || e.kind === 'profile')) return
      // Canonical form: what decodes must re-encode (with the same fields), or replicas could disagree on it.
      const { id: _i, bytes: _b, version: _v, prev, roomId, author: _a, authorKey, time, signed: _s, sig, ...body } = e
      if ('link' in body) delete (body as { link?: unknown }).link
      const unsigned = encodeUnsigned(roomId, authorKey, time, body as EntryBody, prev)
      const back = decodeEntry(new Uint8Array([...unsigned, ...sig]))
      must(back !== null && fields(back) === fields(e), 'a decoded entry does not re-encode to the same fields')
    },
  }
}

const WAV_CODES = ['wav-too-short', 'wav-not-riff', 'wav-no-fmt', 'wav-unsupported-format', 'wav-bad-fmt', 'wav-no-data', 'wav-truncated', 'wav-too-many-chunks', 'wav-bad-input']

function wavTarget(samples: Samples): Target {
  return {
    name: 'wav',
    kind: 'bytes',
    maxLen: 64 * 1024,
    seeds: bytes(samples, 'wav'),
    arbitrary: wavArbitrary,
    run(input) {
      for (const allowTruncated of [false, true]) {
        try {
          const a = decodeWav(input, { allowTruncated })
          must((a.channels === 1 || a.channels === 2) && a.sampleRate > 0 && a.samples.length % a.channels === 0, 'decoded a bad format')
          must(a.samples.length * 2 <= input.length, 'decoded more samples than the file holds')
        } catch (err) {
          // decodeWav's contract is a typed error with a stable code; anything else is a crash.
          if (!(err instanceof WavError)) throw err
          mustBeReason(err.code, WAV_CODES)
        }
      }
    },
  }
}

export function binaryTargets(samples: Samples, ctx: FuzzContext): Target[] {
  return [syncTarget(samples), awarenessTarget(samples), guardTarget(samples), relayGateTarget(samples, ctx), peerLinkTarget(samples), entryTarget(samples, ctx), wavTarget(samples)]
}
