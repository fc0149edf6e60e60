/**
 * Test helpers: a pool of identities generated once, and a tiny room builder
 * that signs entries and evaluates them with the pure computeState. Its free
 * text is sealed under the builder's epoch-0 secret, and `state()` reveals it.
 */
import { generateIdentity, keyId, randomBytes, type Identity } from '../../../src/identity/index.ts'
import {
  computeState, createLinkGrant, decodeEntry, deriveRoomId, entryId, signEntry, signRedeemProof, type Entry, type EntryBody, type LinkGrantInput,
  type LinkPass, type RoomState,
} from '../../../src/room/index.ts'
import { revealText, type TextFieldName } from '../../../src/room/reveal.ts'
import { sealedText } from '../../helpers/sealed-text.ts'

let pool: Promise<Identity[]> | null = null
/** Identities shared by all tests in a file (key generation is the slow part). */
export function identities(n = 8): Promise<Identity[]> {
  pool ??= Promise.all(Array.from({ length: 12 }, () => generateIdentity()))
  return pool.then((p) => p.slice(0, n))
}

export const T0 = 1_700_000_000_000

/** Builds a room log by hand. Times default to a counter so order is explicit. */
export class RoomBuilder {
  readonly owner: Identity
  readonly roomId: string
  readonly nonce: Uint8Array
  readonly bytes: Uint8Array[] = []
  genesisId = ''
  /** Epoch 0's secret (the link's): the builder's text is sealed under it. */
  readonly secret = randomBytes(32)
  private t = T0

  constructor(owner: Identity) {
    this.owner = owner
    this.nonce = randomBytes(16)
    this.roomId = deriveRoomId(owner.publicKey, this.nonce)
  }

  static async create(owner: Identity, title = 'Room'): Promise<RoomBuilder> {
    const b = new RoomBuilder(owner)
    b.genesisId = await b.add(owner, { kind: 'genesis', nonce: b.nonce, title: b.text(owner, 'title', title), topic: b.text(owner, 'topic', 'topic') })
    return b
  }

  /** `text` sealed for `field` of an entry by `who` in epoch 0. */
  text(who: Identity, field: TextFieldName, text: string): Uint8Array {
    return sealedText(this.roomId, who, field, text, this.secret)
  }

  get now(): number {
    return this.t + 1
  }

  /** Signs and appends an entry; returns its id. */
  async add(who: Identity, body: EntryBody, time?: number): Promise<string> {
    const bytes = await this.sign(who, body, time)
    this.bytes.push(bytes)
    return entryId(bytes)
  }

  /** Signs without appending. */
  async sign(who: Identity, body: EntryBody, time?: number, roomId = this.roomId): Promise<Uint8Array> {
    const at = time ?? ++this.t
    if (at > this.t) this.t = at
    return signEntry(who, roomId, at, body)
  }

  async grant(subject: Identity): Promise<string> {
    return this.add(this.owner, { kind: 'grant', auth: this.genesisId, role: 'moderator', subject: keyId(subject.publicKey) })
  }

  /** invite (by `by` with `auth`) + accept by `who`; returns [inviteId, acceptId]. */
  async seat(who: Identity, by = this.owner, auth = this.genesisId): Promise<[string, string]> {
    const inv = await this.add(by, { kind: 'invite', auth, subject: keyId(who.publicKey) })
    return [inv, await this.add(who, { kind: 'accept', invite: inv })]
  }

  async link(issuer: Identity, input: Partial<LinkGrantInput> & { role: LinkGrantInput['role'] }): Promise<LinkPass> {
    return createLinkGrant(issuer, { roomId: this.roomId, auth: this.genesisId, issuedAt: T0, singleUse: false, ...input })
  }

  /** A redeem by `who` with a correct holder proof. */
  async redeem(who: Identity, pass: LinkPass, time?: number): Promise<string> {
    return this.add(who, { kind: 'redeem', grant: pass.grant, proof: await signRedeemProof(pass, this.roomId, who.publicKey) }, time)
  }

  entries(): Entry[] {
    return this.bytes.map((b) => decodeEntry(b)!)
  }

  /** The state, its text opened with the builder's secret. */
  state(now = this.now + 1): RoomState {
    return revealText(this.sealedState(now), (n) => (n === 0 ? this.secret : null))
  }

  /** The state as computeState leaves it: free text sealed. */
  sealedState(now = this.now + 1): RoomState {
    return computeState(this.entries(), { roomId: this.roomId, now })
  }
}

export const kid = (i: Identity): string => keyId(i.publicKey)
