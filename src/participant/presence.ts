/**
 * Presence (awareness) a relay cannot read (docs/room-rules.md §9, issue 11).
 *
 * What a client publishes in the Yjs awareness is one sealed blob of its whole
 * presence (name, speaking level, and whatever is added later), so no field
 * ever goes out in the clear:
 *
 *   { k: <identity key id>, s: base64url(sealText(epoch secret, n, {roomId, author: k, field: 'presence'}, JSON)) }
 *
 * `k` stays in the clear (the relay knows each connection's key anyway) because
 * a reader needs the author to open the blob. It is as unsigned as presence
 * always was: any member holds the secret and can seal under any `k`, so
 * consumers believe a name only for a key that is present.
 *
 * Sealed under the epoch this participant is in (the EpochKeeper's current);
 * sealed again when that changes, so after a ban's rotation the banned member
 * reads no new presence. Readers open blobs with the epoch secrets they hold;
 * what does not open is dropped and counted by reason (and tried again when a
 * new secret arrives). The relay's awareness guard still checks size, rate and
 * client-id ownership, now on the blob.
 */
import type { Awareness } from 'y-protocols/awareness'
import { TypedEmitter } from '../base/emitter.ts'
import { fromBase64url, randomBytes, toBase64url } from '../identity/index.ts'
import { openField, sealField, type SealingKey, type SecretOf } from '../room/reveal.ts'
import { TEXT_NONCE_BYTES } from '../room/sealed-text.ts'
import type { EpochKeeper } from './epoch-keeper.ts'

export interface Presence {
  name?: string
  /** Speaking level 0..1. */
  level?: number
  [field: string]: unknown
}

/** Someone else's presence, opened: its claimed key and what it published. */
export interface PresentPeer {
  key: string
  presence: Presence
}

/** Why a remote presence state was dropped: not our shape, not openable (no secret, altered, another author), or not a JSON object inside. */
export const PRESENCE_DROPS = ['malformed', 'unreadable', 'bad-content'] as const
export type PresenceDrop = (typeof PRESENCE_DROPS)[number]

export interface SealedPresenceOptions {
  selfId: string
  roomId: string
  /** The epoch to seal in now (synchronous: levels change many times a second). */
  current: () => SealingKey
  secret: SecretOf
}

interface Wire {
  k: string
  s: string
}

export class SealedPresence extends TypedEmitter<{ change: () => void }> {
  readonly dropped = Object.fromEntries(PRESENCE_DROPS.map((r) => [r, 0])) as Record<PresenceDrop, number>
  readonly #aw: Awareness
  readonly #o: SealedPresenceOptions
  #local: Presence = {}
  /** What we published last: its epoch and plain JSON (an unchanged state is not sealed again). */
  #published: { n: number; json: string } | null = null
  readonly #peers = new Map<number, PresentPeer>()
  /** States that did not open yet, kept to try again when a secret arrives. */
  readonly #closed = new Map<number, Wire>()
  readonly #onChange: (c: { added: number[]; updated: number[]; removed: number[] }) => void

  constructor(awareness: Awareness, opts: SealedPresenceOptions) {
    super()
    this.#aw = awareness
    this.#o = opts
    this.#onChange = ({ added, updated, removed }) => {
      let changed = false
      for (const id of [...added, ...updated]) if (id !== awareness.clientID) changed = this.#read(id, true) || changed
      for (const id of removed) changed = this.#peers.delete(id) || this.#closed.delete(id) || changed
      if (changed) this.emit('change')
    }
    awareness.on('change', this.#onChange)
  }

  /** Our own presence, as we set it. */
  get local(): Presence {
    return this.#local
  }

  /** Everyone else's presence that opened, by awareness client id. */
  get peers(): ReadonlyMap<number, PresentPeer> {
    return this.#peers
  }

  /** Publishes presence fields (merged into ours), sealed. */
  set(p: Presence): void {
    this.#local = { ...this.#local, ...p }
    this.#publish()
  }

  /** Our epoch changed: publish again under the new one. */
  republish(): void {
    this.#publish()
  }

  /** A new secret is held: open what did not open before. */
  reopen(): void {
    let changed = false
    for (const id of [...this.#closed.keys()]) changed = this.#read(id, false) || changed
    if (changed) this.emit('change')
  }

  destroy(): void {
    this.#aw.off('change', this.#onChange)
    this.removeAllListeners()
  }

  #publish(): void {
    const key = this.#o.current()
    const json = JSON.stringify(this.#local)
    if (this.#published?.n === key.n && this.#published.json === json) return
    const sealed = sealField(key, this.#ctx(this.#o.selfId), json, randomBytes(TEXT_NONCE_BYTES))
    this.#published = { n: key.n, json }
    this.#aw.setLocalState({ k: this.#o.selfId, s: toBase64url(sealed) } satisfies Wire)
  }

  #ctx(author: string) {
    return { roomId: this.#o.roomId, author, field: 'presence' }
  }

  /** Reads client `id`'s state; true when what we show for it changed. `count`: a fresh state (not a retry). */
  #read(id: number, count: boolean): boolean {
    const wire = this.#aw.getStates().get(id) as Partial<Wire> | undefined
    const had = this.#peers.delete(id)
    this.#closed.delete(id)
    const sealed = typeof wire?.s === 'string' && typeof wire.k === 'string' ? fromBase64url(wire.s) : null
    if (!sealed) return this.#drop('malformed', count) || had
    const json = openField(sealed, this.#ctx(wire!.k!), this.#o.secret)
    if (json === null) {
      this.#closed.set(id, wire as Wire)
      return this.#drop('unreadable', count) || had
    }
    const presence = parseObject(json)
    if (!presence) return this.#drop('bad-content', count) || had
    this.#peers.set(id, { key: wire!.k!, presence })
    return true
  }

  #drop(reason: PresenceDrop, count: boolean): false {
    if (count) this.dropped[reason]++
    return false
  }
}

/** Presence sealed with an EpochKeeper's secrets: in the epoch it is in (0 before the log has one), opened with every one it holds. */
export function keeperPresence(
  awareness: Awareness, selfId: string, roomId: string, keeper: Pick<EpochKeeper, 'current' | 'secretOf'>, initial: Presence,
): SealedPresence {
  const current = () => ({ n: Math.max(keeper.current.n, 0), secret: keeper.current.secret })
  const presence = new SealedPresence(awareness, { selfId, roomId, current, secret: (n) => keeper.secretOf(n) })
  presence.set(initial)
  return presence
}

function parseObject(json: string): Presence | null {
  try {
    const v: unknown = JSON.parse(json)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Presence) : null
  } catch {
    // Sealed by a member, so not hostile to the relay, but still bytes from the network: dropped.
    return null
  }
}
