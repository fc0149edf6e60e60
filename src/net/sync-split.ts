/**
 * A Yjs state, or one transaction, as several V1 updates each under a byte
 * budget, so a log of any size crosses links whose messages are capped (sync
 * step 2 used to be one message, and a room over 1 MiB never reached a joiner).
 *
 * Invariants:
 * - Applying the updates in order gives the receiver exactly what one
 *   `Y.encodeStateAsUpdate(doc, targetStateVector)` would (minus the doc's own
 *   pending structs, which wait for dependencies it does not have either).
 * - Structs go in causal order: everything a struct refers to (its origins, its
 *   parent, its own client's earlier structs) is in the receiver's state or in
 *   an earlier or the same update, so each update applies at once; nothing
 *   waits in the receiver's pending set for a later one.
 * - Every update is at most `maxBytes`, except one holding a single struct that
 *   is larger by itself (Yjs cannot cut it); the caller's cap decides about it.
 * - Linear in the doc: each struct is encoded once, as Yjs does.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'

type Struct = Y.Item | Y.GC
type StateVector = Map<number, number>
interface DeleteItem {
  clock: number
  len: number
}
/** Yjs's DeleteSet (not exported by name): deleted ranges per client. */
export interface DeleteRanges {
  clients: Map<number, DeleteItem[]>
}

export interface SplitOptions {
  /** Budget for one update, in bytes. */
  maxBytes: number
  /** Deletions to send. Default: every deletion the doc knows (as in a full state update). */
  deleteSet?: DeleteRanges
}

/** Upper bounds of varuint headers: a section (structs, client, clock) and a delete-set client or range. */
const SECTION_HEADER = 5 + 5 + 8
const DS_CLIENT_HEADER = 5 + 5
const DS_RANGE = 8 + 8
const UPDATE_HEADER = 5 + 5

/** The updates that bring a peer at `target` up to `doc`, each within `maxBytes` where it can be. */
export function encodeStateAsUpdates(doc: Y.Doc, target: StateVector, opts: SplitOptions): Uint8Array[] {
  const ordered = causalOrder(doc.store.clients, target)
  const deleteSet: DeleteRanges = opts.deleteSet ?? Y.createDeleteSetFromStructStore(doc.store)
  const chunks = new ChunkWriter(opts.maxBytes)
  const encoder = new Y.UpdateEncoderV1()
  const started = new Set<number>()
  for (const s of ordered) {
    const client = s.id.client
    // The receiver may hold the start of the first struct (a struct spans clocks): send the rest.
    const offset = started.has(client) ? 0 : Math.max(0, (target.get(client) ?? 0) - s.id.clock)
    started.add(client)
    const from = encoding.length(encoder.restEncoder)
    s.write(encoder, offset)
    chunks.addStruct(client, s.id.clock + offset, encoding.length(encoder.restEncoder) - from)
  }
  const bytes = encoder.toUint8Array()
  for (const [client, items] of [...deleteSet.clients].sort((a, b) => b[0] - a[0])) {
    for (const item of items) chunks.addDelete(client, item)
  }
  return chunks.finish(bytes)
}

/**
 * Every struct the receiver lacks, each after what it depends on. A depth-first
 * walk over clients: when a client's next struct needs another client's struct
 * not yet placed, that client is drained up to it first. Causality in a doc
 * has no cycles (a struct only refers to older ones); should a doc be
 * inconsistent, a struct on a cycle is placed anyway and the receiver's Yjs
 * holds it until its dependency comes.
 */
function causalOrder(clients: Map<number, Struct[]>, target: StateVector): Struct[] {
  const next = new Map<number, number>()
  const placed = new Map<number, number>()
  for (const [client, structs] of clients) {
    const first = structs[0]
    const last = structs[structs.length - 1]
    if (!first || !last) continue
    const start = Math.max(target.get(client) ?? 0, first.id.clock)
    if (start >= last.id.clock + last.length) continue
    next.set(client, Y.findIndexSS(structs, start))
    placed.set(client, start)
  }
  const has = (id: Y.ID): boolean => id.clock < (placed.get(id.client) ?? Infinity)
  const out: Struct[] = []
  const onStack = new Set<number>()
  for (const root of [...next.keys()].sort((a, b) => b - a)) {
    const stack: Array<{ client: number; until: number }> = [{ client: root, until: Infinity }]
    onStack.add(root)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const structs = clients.get(top.client)!
      const i = next.get(top.client)!
      if (i >= structs.length || placed.get(top.client)! >= top.until) {
        stack.pop()
        onStack.delete(top.client)
        continue
      }
      const s = structs[i]!
      const need = missing(s, has)
      if (need !== null && need.client !== top.client && !onStack.has(need.client)) {
        stack.push({ client: need.client, until: need.clock + 1 })
        onStack.add(need.client)
        continue
      }
      out.push(s)
      next.set(top.client, i + 1)
      placed.set(top.client, s.id.clock + s.length)
    }
  }
  return out
}

/** The first struct `s` refers to that is not placed yet (as Yjs's `Item.getMissing` looks), or null. */
function missing(s: Struct, has: (id: Y.ID) => boolean): Y.ID | null {
  if (!(s instanceof Y.Item)) return null
  if (s.origin !== null && !has(s.origin)) return s.origin
  if (s.rightOrigin !== null && !has(s.rightOrigin)) return s.rightOrigin
  if (s.origin === null && s.rightOrigin === null) {
    const parentItem = (s.parent as { _item?: Y.Item | null } | null)?._item
    if (parentItem && !has(parentItem.id)) return parentItem.id
  }
  return null
}

interface Section {
  clock: number
  /** [start, end) of each struct in the encoded bytes. */
  ranges: number[]
}

interface Chunk {
  sections: Map<number, Section>
  deletes: Map<number, DeleteItem[]>
  bytes: number
}

/** Packs structs (as byte ranges of one encoding) and delete ranges into updates under a budget. */
class ChunkWriter {
  readonly #max: number
  readonly #done: Chunk[] = []
  #chunk: Chunk = ChunkWriter.#empty()
  #at = 0

  constructor(maxBytes: number) {
    this.#max = maxBytes
  }

  static #empty(): Chunk {
    return { sections: new Map(), deletes: new Map(), bytes: UPDATE_HEADER }
  }

  addStruct(client: number, clock: number, length: number): void {
    const start = this.#at
    this.#at += length
    this.#fit(length + (this.#chunk.sections.has(client) ? 0 : SECTION_HEADER))
    let section = this.#chunk.sections.get(client)
    if (!section) {
      this.#chunk.sections.set(client, (section = { clock, ranges: [] }))
      this.#chunk.bytes += SECTION_HEADER
    }
    section.ranges.push(start, start + length)
    this.#chunk.bytes += length
  }

  addDelete(client: number, item: DeleteItem): void {
    this.#fit(DS_RANGE + (this.#chunk.deletes.has(client) ? 0 : DS_CLIENT_HEADER))
    let items = this.#chunk.deletes.get(client)
    if (!items) {
      this.#chunk.deletes.set(client, (items = []))
      this.#chunk.bytes += DS_CLIENT_HEADER
    }
    items.push(item)
    this.#chunk.bytes += DS_RANGE
  }

  /** Starts a new chunk when `cost` more bytes would not fit this one (a lone oversize struct goes alone). */
  #fit(cost: number): void {
    const c = this.#chunk
    if (c.bytes + cost <= this.#max || (c.sections.size === 0 && c.deletes.size === 0)) return
    this.#done.push(c)
    this.#chunk = ChunkWriter.#empty()
  }

  finish(structBytes: Uint8Array): Uint8Array[] {
    this.#done.push(this.#chunk)
    return this.#done.map((c) => encodeChunk(c, structBytes))
  }
}

function encodeChunk(chunk: Chunk, structBytes: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder()
  // Higher client ids first, as Yjs writes them (its conflict resolution is faster that way).
  const sections = [...chunk.sections].sort((a, b) => b[0] - a[0])
  encoding.writeVarUint(enc, sections.length)
  for (const [client, { clock, ranges }] of sections) {
    encoding.writeVarUint(enc, ranges.length / 2)
    encoding.writeVarUint(enc, client)
    encoding.writeVarUint(enc, clock)
    for (let i = 0; i < ranges.length; i += 2) encoding.writeUint8Array(enc, structBytes.subarray(ranges[i]!, ranges[i + 1]!))
  }
  encoding.writeVarUint(enc, chunk.deletes.size)
  for (const [client, items] of chunk.deletes) {
    encoding.writeVarUint(enc, client)
    encoding.writeVarUint(enc, items.length)
    for (const { clock, len } of items) {
      encoding.writeVarUint(enc, clock)
      encoding.writeVarUint(enc, len)
    }
  }
  return encoding.toUint8Array(enc)
}
