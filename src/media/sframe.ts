/**
 * End-to-end encryption of audio frames in a room: SFrame (RFC 9605, the format in
 * sframe-format.ts, re-exported here) with one key per epoch and per sender, derived from the
 * epoch's room secret. Browsers run it in a worker (sframe-worker.ts); a Node media path calls
 * `SframeKeyring` on each RTP payload.
 *
 *   base_key(epoch, sender) = HKDF-SHA256(ikm = epoch secret, salt = "",
 *                                         info = "stoop/sframe" || u64(epoch) || sender public key, 32)
 *   KID = the epoch number      CTR = this keyring's counter (see `counterStart`)
 *
 * Keys per sender keep the nonces of two senders apart (they count independently) and say
 * whose voice a frame is: a receiver opens a stream's frames with the key of the participant
 * the stream is attributed to (the mesh peer, or the publisher the relay names), so a frame
 * replayed onto another speaker's stream does not open. They are no signature: every member can
 * derive every key (RFC 9605 §9.2); what they keep out is everyone without the epoch secret,
 * the relay included.
 *
 * Invariants:
 * - (epoch, CTR) is never used twice by one keyring: one counter for all its connections,
 *   taken synchronously before any await.
 * - `decrypt` never throws on bytes from the network: it returns null and counts why.
 * - A receiving stream accepts each (KID, CTR) once (a 2048-wide window per KID), and frames of
 *   an older epoch only for `OLD_EPOCH_FRAMES` frames after its sender moved to a newer one.
 * - Keys are CryptoKeys that cannot be exported (or the `cipher`'s own, in Node); base keys and
 *   raw frame keys are wiped.
 * - With `switchDelayMs`, the epoch after the one sent with opens frames at once but is sealed
 *   with only that long after it was added: the members learn a rotation moments apart (each
 *   through its own sync), and a frame sealed under a key its receiver does not hold yet is lost
 *   to it, while the epoch before is one every receiver still holds (SEND_SWITCH_DELAY_MS).
 */
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { CodedError } from '../base/errors.ts'
import { bytesEqual, concatBytes, keyId, publicKeyFromId } from '../identity/index.ts'
import { decodeHeader, importSframeKey, MAX_U64, sframeOpen, sframeSeal, TAG_BYTES, u64be, type FrameCipherFactory, type SframeKey } from './sframe-format.ts'

export * from './sframe-format.ts'

/** Why a frame was dropped. `no-key`: nothing to encrypt with yet (sending side). */
/**
 * 'empty': a frame with no payload. Chromium hands the receiver's transform one per padding-only RTP
 * packet (bandwidth probes at the start of a connection, seen in bursts of 10-30 with repeated RTP
 * timestamps): they carry no audio and no sender's claim, so they are not counted against anyone.
 */
export type SframeDrop = 'malformed' | 'empty' | 'no-sender' | 'unknown-epoch' | 'old-epoch' | 'replay' | 'auth' | 'no-key'
export const SFRAME_DROPS: readonly SframeDrop[] = ['malformed', 'empty', 'no-sender', 'unknown-epoch', 'old-epoch', 'replay', 'auth', 'no-key']

export interface SframeCounters {
  encrypted: number
  decrypted: number
  dropped: Record<SframeDrop, number>
}

export interface SenderCounts {
  decrypted: number
  /** Frames attributed to this sender that were dropped (any reason). */
  dropped: number
}

export const EPOCH_SECRET_BYTES = 32
/** Epochs kept for receiving by default: the current one and the one before. */
export const DEFAULT_KEEP_EPOCHS = 2
/** A stream's frames of an older epoch are refused once this many of a newer one opened (1 s of audio). */
export const OLD_EPOCH_FRAMES = 50
/**
 * How long a sender keeps sealing under the previous epoch after learning a newer one (the
 * `switchDelayMs` that Node's and the browser's keyrings use). Measured on loopback, members
 * learnt a ban's rotation 7-400 ms after the moderator who wrote it (load 1-24 on 2 cores); a
 * relay adds its round trips. The cost: a member banned at the rotation who still gets frames
 * (only through a relay operator colluding with it: relays and peers stop sending to it at the
 * ban) hears up to this much more of the sender under the key it holds.
 */
export const SEND_SWITCH_DELAY_MS = 1000
/** Counter values a receiving stream remembers behind the newest (a frame per connection per 20 ms). */
export const REPLAY_WINDOW = 2048

const INFO = new TextEncoder().encode('stoop/sframe')
/** 2020-01-01T00:00:00Z: counters count from here. */
const COUNTER_ORIGIN_MS = 1_577_836_800_000
const COUNTER_PER_MS = 65_536n

/** Misuse of the keyring (a bad secret, two secrets for one epoch). */
export class SframeError extends CodedError<'bad-key' | 'bad-epoch' | 'bad-secret' | 'epoch-conflict' | 'counter-exhausted'> {}

/** The base key a sender's frames of one epoch are sealed under. */
export function baseKey(epochSecret: Uint8Array, epoch: number, senderPublicKey: Uint8Array): Uint8Array {
  return hkdf(sha256, epochSecret, new Uint8Array(0), concatBytes(INFO, u64be(BigInt(epoch)), senderPublicKey), 32)
}

/**
 * The first CTR of a keyring created at `nowMs`: 65,536 counter values per millisecond since
 * 2020. A sender that reloads its page starts above every counter it used before (no nonce
 * reuse under the same epoch key, and receivers' replay windows accept it) as long as it sealed
 * fewer than 65 million frames a second on average (a speaker in a full mesh seals about 650);
 * two sessions of one identity opened a second apart would need 28 hours of such a mesh to
 * overlap. 7 bytes in the header (8 from the year 2089).
 */
export function counterStart(nowMs: number): bigint {
  return BigInt(Math.max(0, Math.floor(nowMs) - COUNTER_ORIGIN_MS)) * COUNTER_PER_MS
}

/** Counter values seen on one stream under one KID: the newest and a bitmap of those behind it. */
class ReplayWindow {
  #top = -1n
  readonly #bits = new Uint8Array(REPLAY_WINDOW / 8)

  seen(ctr: bigint): boolean {
    if (ctr > this.#top) return false
    if (this.#top - ctr >= BigInt(REPLAY_WINDOW)) return true
    const i = Number(ctr % BigInt(REPLAY_WINDOW))
    return (this.#bits[i >> 3]! & (1 << (i & 7))) !== 0
  }

  mark(ctr: bigint): void {
    if (ctr > this.#top) {
      const gap = this.#top < 0n ? BigInt(REPLAY_WINDOW) : ctr - this.#top
      if (gap >= BigInt(REPLAY_WINDOW)) this.#bits.fill(0)
      else for (let c = this.#top + 1n; c < ctr; c++) this.#flip(c, false)
      this.#top = ctr
    }
    this.#flip(ctr, true)
  }

  #flip(ctr: bigint, on: boolean): void {
    const i = Number(ctr % BigInt(REPLAY_WINDOW))
    if (on) this.#bits[i >> 3]! |= 1 << (i & 7)
    else this.#bits[i >> 3]! &= ~(1 << (i & 7))
  }
}

/**
 * One receiving stream (an RTP receiver): who its frames are attributed to and what it has
 * accepted. Re-attributing it (a relay reusing a section for another publisher) starts afresh.
 */
export class SframeStream {
  #sender: string | null = null
  #newest = -1n
  #sinceNewest = 0
  readonly #windows = new Map<bigint, ReplayWindow>()

  constructor(sender: string | null = null) {
    this.sender = sender
  }

  get sender(): string | null {
    return this.#sender
  }

  set sender(id: string | null) {
    if (id === this.#sender) return
    this.#sender = id
    this.#newest = -1n
    this.#sinceNewest = 0
    this.#windows.clear()
  }

  /** Why a frame with this (KID, CTR) is refused before decrypting it, or null. */
  check(kid: bigint, ctr: bigint): 'old-epoch' | 'replay' | null {
    if (kid < this.#newest && this.#sinceNewest >= OLD_EPOCH_FRAMES) return 'old-epoch'
    return this.#windows.get(kid)?.seen(ctr) ? 'replay' : null
  }

  /** Records an authenticated frame; false if it was accepted before (a replay). */
  accept(kid: bigint, ctr: bigint): boolean {
    let w = this.#windows.get(kid)
    if (!w) this.#windows.set(kid, (w = new ReplayWindow()))
    if (w.seen(ctr)) return false
    w.mark(ctr)
    if (kid > this.#newest) {
      this.#newest = kid
      this.#sinceNewest = 0
      // Older epochs than the one before the newest are never accepted again on this stream.
      for (const k of this.#windows.keys()) if (k < kid - 1n) this.#windows.delete(k)
    }
    if (kid === this.#newest) this.#sinceNewest++
    return true
  }
}

export interface SframeKeyringOptions {
  /** This participant's public key: what it sends is sealed under its own key. */
  self: Uint8Array
  /** First counter value: `counterStart(Date.now())`. */
  ctrStart: bigint
  /** Epochs kept for receiving (the newest ones). Default 2. */
  keepEpochs?: number
  /** A newer epoch is sealed with this long after it is added (see the module comment). Default 0: at once. */
  switchDelayMs?: number
  /** Clock for `switchDelayMs`, ms. Default performance.now. */
  now?: () => number
  /** AES-GCM for the frame keys (default WebCrypto, keys not extractable; Node passes its own: sframe-format.ts). */
  cipher?: FrameCipherFactory
}

interface Epoch {
  secret: Uint8Array
  /** Frame keys by sender id (a promise: WebCrypto import is async; null for a bad id). */
  keys: Map<string, Promise<SframeKey | null>>
}

/** The keys of one participant's session: its own for sending, everyone's for receiving. */
export class SframeKeyring {
  readonly counters: SframeCounters = { encrypted: 0, decrypted: 0, dropped: { malformed: 0, empty: 0, 'no-sender': 0, 'unknown-epoch': 0, 'old-epoch': 0, replay: 0, auth: 0, 'no-key': 0 } }
  /** Per attributed sender: frames opened and dropped. */
  readonly senders = new Map<string, SenderCounts>()
  readonly selfId: string
  readonly #keep: number
  readonly #epochs = new Map<number, Epoch>()
  readonly #switchDelayMs: number
  readonly #now: () => number
  readonly #cipher: FrameCipherFactory | undefined
  #send: number | null = null
  /** The newer epoch sealed with from `at` on (a delayed switch). */
  #next: { epoch: number; at: number } | null = null
  #ctr: bigint

  constructor(opts: SframeKeyringOptions) {
    if (!(opts?.self instanceof Uint8Array) || opts.self.length !== 32) throw new SframeError('bad-key', 'opts.self must be a 32-byte public key')
    if (typeof opts.ctrStart !== 'bigint' || opts.ctrStart < 0n || opts.ctrStart > MAX_U64) throw new SframeError('bad-epoch', 'opts.ctrStart must be an unsigned 64-bit bigint')
    this.selfId = keyId(opts.self)
    this.#keep = Math.max(1, opts.keepEpochs ?? DEFAULT_KEEP_EPOCHS)
    this.#switchDelayMs = Math.max(0, opts.switchDelayMs ?? 0)
    this.#now = opts.now ?? (() => performance.now())
    this.#cipher = opts.cipher
    this.#ctr = opts.ctrStart
  }

  /** The epoch frames are sealed under now (the newest added, once its switch delay is over), or null before the first. */
  get sendEpoch(): number | null {
    if (this.#next && this.#now() >= this.#next.at) {
      this.#send = this.#next.epoch
      this.#next = null
    }
    return this.#send
  }

  /** Epochs whose frames can be opened, oldest first. */
  get epochs(): number[] {
    return [...this.#epochs.keys()].sort((a, b) => a - b)
  }

  /**
   * Adds an epoch's secret as it arrives. The newest epoch becomes the one sent with, after
   * `switchDelayMs` when another is sent with now (unless `send` is false: then call `sendWith`
   * when receivers are ready); only the `keepEpochs` newest are kept. Returns false for an
   * epoch older than all kept ones (ignored).
   */
  addEpoch(epoch: number, secret: Uint8Array, opts: { send?: boolean } = {}): boolean {
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new SframeError('bad-epoch', `epoch must be a non-negative integer, got ${epoch}`)
    if (!(secret instanceof Uint8Array) || secret.length !== EPOCH_SECRET_BYTES) throw new SframeError('bad-secret', `an epoch secret is ${EPOCH_SECRET_BYTES} bytes`)
    const known = this.#epochs.get(epoch)
    if (known) {
      if (!bytesEqual(known.secret, secret)) throw new SframeError('epoch-conflict', `epoch ${epoch} already has another secret`)
      return true
    }
    const kept = this.epochs
    if (kept.length >= this.#keep && epoch < kept[0]!) return false
    this.#epochs.set(epoch, { secret: secret.slice(), keys: new Map() })
    for (const old of this.epochs.slice(0, Math.max(0, this.#epochs.size - this.#keep))) this.retireEpoch(old)
    const sending = this.sendEpoch
    if (opts.send === false || (sending !== null && epoch <= sending) || (this.#next && epoch <= this.#next.epoch)) return true
    // Receivers keep the epoch before theirs, so the one just behind a new epoch still opens for
    // all of them; from further behind (a joiner catching up), nobody would open it: switch now.
    if (sending === null || this.#switchDelayMs === 0 || epoch !== sending + 1) {
      this.#send = epoch
      this.#next = null
    } else this.#next = { epoch, at: this.#now() + this.#switchDelayMs }
    return true
  }

  /** Seals from now on under `epoch` (added before). */
  sendWith(epoch: number): void {
    if (!this.#epochs.has(epoch)) throw new SframeError('bad-epoch', `epoch ${epoch} is not known`)
    this.#send = epoch
    if (this.#next && this.#next.epoch <= epoch) this.#next = null
  }

  /** Forgets an epoch's keys (e.g. some time after a rotation for a ban). */
  retireEpoch(epoch: number): void {
    const e = this.#epochs.get(epoch)
    if (!e) return
    e.secret.fill(0)
    this.#epochs.delete(epoch)
    if (this.#next?.epoch === epoch) this.#next = null
    if (this.#send !== epoch) return
    // The epoch sent with is gone: its frames would open nowhere, so switch now.
    this.#send = this.#next?.epoch ?? this.epochs.at(-1) ?? null
    this.#next = null
  }

  /** Seals one frame of this participant's audio; null (counted `no-key`) before any epoch. */
  async encrypt(frame: Uint8Array, metadata?: Uint8Array): Promise<Uint8Array | null> {
    const epoch = this.sendEpoch
    if (epoch === null) {
      this.counters.dropped['no-key']++
      return null
    }
    const ctr = this.#ctr
    if (ctr > MAX_U64) throw new SframeError('counter-exhausted', 'the frame counter is exhausted')
    this.#ctr = ctr + 1n
    const key = await this.#key(epoch, this.selfId)
    if (!key) throw new SframeError('bad-epoch', `epoch ${epoch} was retired while sealing`)
    const out = await sframeSeal(key, ctr, frame, metadata)
    this.counters.encrypted++
    return out
  }

  /**
   * Opens a frame received on `stream`, with the key of the sender it is attributed to. Null,
   * counted by reason and against that sender, when it does not open; never throws.
   */
  async decrypt(stream: SframeStream, frame: Uint8Array, metadata?: Uint8Array): Promise<Uint8Array | null> {
    const sender = stream.sender
    if (frame.length === 0) return this.#drop('empty', null)
    const header = decodeHeader(frame)
    if (!header || frame.length < header.length + TAG_BYTES) return this.#drop('malformed', sender)
    if (sender === null) return this.#drop('no-sender', null)
    const epoch = header.kid <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(header.kid) : -1
    if (!this.#epochs.has(epoch)) return this.#drop('unknown-epoch', sender)
    const early = stream.check(header.kid, header.ctr)
    if (early) return this.#drop(early, sender)
    const key = await this.#key(epoch, sender)
    if (!key) return this.#drop(this.#epochs.has(epoch) ? 'no-sender' : 'unknown-epoch', sender)
    const plain = await sframeOpen(key, frame, header, metadata)
    if (!plain) return this.#drop('auth', sender)
    // Re-attributed while this frame was opening: it belongs to the previous sender.
    if (stream.sender !== sender) return this.#drop('no-sender', sender)
    if (!stream.accept(header.kid, header.ctr)) return this.#drop('replay', sender)
    this.counters.decrypted++
    this.#sender(sender).decrypted++
    return plain
  }

  #key(epoch: number, sender: string): Promise<SframeKey | null> {
    const e = this.#epochs.get(epoch)
    if (!e) return Promise.resolve(null)
    let p = e.keys.get(sender)
    if (!p) {
      const pub = publicKeyFromId(sender)
      if (pub) {
        const base = baseKey(e.secret, epoch, pub)
        p = importSframeKey(base, BigInt(epoch), this.#cipher).finally(() => base.fill(0))
      } else p = Promise.resolve(null)
      e.keys.set(sender, p)
    }
    return p
  }

  #sender(id: string): SenderCounts {
    let c = this.senders.get(id)
    if (!c) this.senders.set(id, (c = { decrypted: 0, dropped: 0 }))
    return c
  }

  #drop(reason: SframeDrop, sender: string | null): null {
    this.counters.dropped[reason]++
    if (sender !== null) this.#sender(sender).dropped++
    return null
  }
}
