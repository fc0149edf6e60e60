/**
 * Vouches: which relays may cascade a room (docs/relay.md, "Cascading between
 * relays"). A member vouches for the relay it is connected to by signing
 * `vouchMessage(room, relayKey)` with the current epoch's membership key
 * (src/net/relay-protocol.ts); the relay key is the one its challenge named.
 * A relay proves it is that key with its own identity signature (the cascade
 * welcome's `relay.sig`, or the auth signature of its cascade hello), so a
 * vouch needs no nonce: it is bound to one relay key and one epoch.
 *
 * `VouchStore` keeps, per room, the newest vouch for this relay that verified
 * against the room's current epoch when it arrived. It is usable only while
 * that epoch is current (a rotation makes it stale until a member proves the
 * new epoch); it is still handed out then, as the best this relay has, so the
 * other side can ask again rather than wait in silence.
 *
 * Every valid vouch of one relay key in one epoch is the same bytes (Ed25519
 * is deterministic and every member signs with the same key), so "newer"
 * means "of another epoch": the store changes at most once per epoch.
 *
 * The relay's checks run through WebCrypto (`verifyMembershipAsync`), off the
 * thread's JavaScript; the room may move to another epoch while one runs, so
 * a vouch is stored only if the epoch it verified against is still current.
 */
import { TypedEmitter } from '../../src/base/emitter.ts'
import { fromBase64url, publicKeyFromId, toBase64url, verifySignature, type Identity } from '../../src/identity/index.ts'
import { relayProofMessage, vouchMessage } from '../../src/net/relay-protocol.ts'
import { verifyMembership, verifyMembershipAsync, type Epoch, type RoomState } from '../../src/room/index.ts'

/** Which epoch of `chain` a vouch for `relayKey` belongs to: the current one, an older one, or none. Never rejects. */
export async function vouchedEpoch(chain: readonly Epoch[], room: string, relayKey: string, vouch: string | undefined): Promise<'ok' | 'old' | 'none'> {
  const sig = vouch === undefined ? null : fromBase64url(vouch)
  if (!sig) return 'none'
  const msg = vouchMessage(room, relayKey)
  for (let i = chain.length - 1; i >= 0; i--) {
    if (await verifyMembershipAsync(chain[i]!.member, msg, sig)) return i === chain.length - 1 ? 'ok' : 'old'
  }
  return 'none'
}

/** Whether `vouch` vouches for `relayKey` in `epoch`. Never rejects. */
export async function vouchVerified(epoch: Epoch, room: string, relayKey: string, vouch: string | undefined): Promise<boolean> {
  const sig = vouch === undefined ? null : fromBase64url(vouch)
  return sig !== null && verifyMembershipAsync(epoch.member, vouchMessage(room, relayKey), sig)
}

/**
 * `vouchVerified`, synchronously (pure JavaScript, ~3 ms): for the dialling side's check of the
 * few vouches a dialled relay sent (relay/cascade/link.ts), not for connections.
 */
export function vouches(epoch: Epoch, room: string, relayKey: string, vouch: string | undefined): boolean {
  const sig = vouch === undefined ? null : fromBase64url(vouch)
  return sig !== null && verifyMembership(epoch.member, vouchMessage(room, relayKey), sig)
}

/** The `sig` of a cascade welcome's `relay` field: this relay's key, proved over the dialler's nonce and the host it was dialled as. */
export async function relayProof(identity: Identity, room: string, nonce: string, relayKey: string, host: string): Promise<string> {
  return toBase64url(await identity.sign(relayProofMessage(room, nonce, relayKey, host)))
}

/** Whether `sig` (base64url) is `relayKey`'s signature over the dialler's `nonce` at `host`. Never throws. */
export async function checkRelayProof(room: string, nonce: string, relayKey: string, host: string, sig: string): Promise<boolean> {
  const pub = publicKeyFromId(relayKey)
  const bytes = fromBase64url(sig)
  return pub !== null && bytes !== null && verifySignature(pub, relayProofMessage(room, nonce, relayKey, host), bytes)
}

export interface VouchStoreEvents {
  /** A vouch of the (then) current epoch was stored: other relays may be told. */
  vouched: (sig: string) => void
  /** The room's current epoch changed (the stored vouch may be stale now). */
  epoch: () => void
}

export class VouchStore extends TypedEmitter<VouchStoreEvents> {
  #latest: { epoch: string; sig: string } | null = null
  #epoch: string | null = null

  /** The newest vouch held, usable or not (null: none yet). */
  get latest(): string | null {
    return this.#latest?.sig ?? null
  }

  /** The vouch, when it is of the room's current epoch. */
  usable(state: RoomState | null): string | null {
    const cur = state?.epochs.current
    return cur && this.#latest?.epoch === cur.id ? this.#latest.sig : null
  }

  /**
   * A member's vouch for `relayKey` (this relay): kept when it verifies against the current epoch of
   * `state` and that epoch is still current in `now()` once it has. False when it does not verify.
   */
  async offer(state: RoomState | null, room: string, relayKey: string, sig: string, now: () => RoomState | null = () => state): Promise<boolean> {
    const cur = state?.epochs.current
    if (!cur || !(await vouchVerified(cur, room, relayKey, sig))) return false
    // A valid vouch of an epoch the room has left meanwhile: not refused, not kept either.
    if (now()?.epochs.current?.id !== cur.id || this.#latest?.epoch === cur.id) return true
    this.#latest = { epoch: cur.id, sig }
    this.emit('vouched', sig)
    return true
  }

  /** The room's state changed. */
  onState(state: RoomState): void {
    const id = state.epochs.current?.id ?? null
    if (id === this.#epoch) return
    this.#epoch = id
    this.emit('epoch')
  }

  destroy(): void {
    this.removeAllListeners()
  }
}
