/**
 * Invite links: `https://<host>/#/r/<roomId>?k=<secret>&c=<key check>[&o=<genesis>][&s=<seed>][&e=<epoch>][&g=<link grant>]`.
 *
 * `e` names the epoch the secret belongs to (docs/room-rules.md §8; absent: epoch 0), so a
 * joiner meets the members on that epoch's topic before it holds any of the log.
 *
 * `s` (seed) carries the owner's entries a room needs before its owner is ever online
 * again: epoch 0 and the owner's encryption key (docs/room-rules.md §8), so relays check
 * membership from the first joiner on and every rotation seals to the owner.
 *
 * Everything that matters sits in the URL fragment, which browsers never send
 * to a server: the room id, the 256-bit room secret (transport encryption key
 * material), a check binding that secret to the room id, and optionally a link
 * pass: a signed grant (speaker/moderator) plus the one-time holder key that
 * proves possession when redeeming. The host is only where the app is served from.
 *
 * Key check: `c = base64url(HMAC-SHA256(HKDF-SHA256(secret, info "stoop/link-check"), roomId)[0..12])`.
 * It lets a joiner know, offline and at once, that the key in its link is not this room's
 * (a mistyped or edited link). It is decided here, never from what arrives on the room's
 * signalling topic: anyone may publish there, so "payloads do not open" says nothing about our
 * key. Links made before the check (no `c`) stay valid and are not checked.
 *
 * `parseInvite` never throws: it returns a code and a sentence a person can act
 * on. It checks structure, the key check, the grant's room and expiry; the grant's
 * signature is checked when it is redeemed (it is async, see room/actor.ts).
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { bytesEqual, fromBase64url, toBase64url } from '../identity/index.ts'
import { decodeEntry, decodePass, encodePass, isRoomId, keyCheck, type LinkGrant, type LinkPass } from '../room/index.ts'

export const SECRET_BYTES = 32
/** Length of the key check: enough that a wrong key passes by chance once in 2^96. */
export const KEY_CHECK_BYTES = 12
export const WRONG_SECRET_MESSAGE = 'This link does not open this room (wrong room key).'

/** The key check of `secret` for `roomId` (see the module comment); the same check an epoch entry carries. */
export const roomKeyCheck = keyCheck

export interface Invite {
  roomId: string
  /** base64url of the 32-byte room secret. */
  secret: string
  secretBytes: Uint8Array
  /** The decoded grant (signature checked on redeem) ... */
  grant?: LinkGrant
  /** ... and what RoomActor.redeemLinkGrant needs. */
  pass?: LinkPass
  /** Origin the link pointed to (e.g. https://stoop.example), when it was a full URL. */
  origin?: string
  /**
   * The owner's signed genesis entry, so the first joiner can seed the room
   * even when nobody who holds its state is online (checked by the replica
   * like any entry: a forged one is ignored).
   */
  genesis?: Uint8Array
  /** The owner's epoch 0 and key entries (see `s` above); checked like any entry. */
  seed?: Uint8Array[]
  /** The room's epoch the secret belongs to (`e=`, absent for epoch 0): it names the topic members meet on. */
  epoch: number
}

export type InviteErrorCode = 'not-a-link' | 'missing-room' | 'bad-room-id' | 'missing-secret' | 'bad-secret' | 'wrong-secret' | 'bad-grant' | 'expired'

export type ParseInviteResult = { ok: true; invite: Invite } | { ok: false; code: InviteErrorCode; message: string }

export interface FormatInviteOptions {
  /** Where the app is served, e.g. `https://stoop.example` (path allowed, no fragment). */
  origin: string
  roomId: string
  secret: string | Uint8Array
  /** Link pass (from RoomActor.createLinkGrant). */
  grant?: LinkPass
  /** The room's genesis entry bytes (see Invite.genesis). */
  genesis?: Uint8Array
  /** See Invite.seed. */
  seed?: readonly Uint8Array[]
  /** See Invite.epoch (default 0). */
  epoch?: number
}

/** Builds an invite link. Throws RangeError on an invalid room id or secret (a programming error). */
export function formatInvite(opts: FormatInviteOptions): string {
  if (!isRoomId(opts.roomId)) throw new RangeError('roomId is not a room id')
  const secret = typeof opts.secret === 'string' ? opts.secret : toBase64url(opts.secret)
  const secretBytes = fromBase64url(secret)
  if (secretBytes?.length !== SECRET_BYTES) throw new RangeError('secret must be 32 bytes')
  const base = trimSlashes(opts.origin.replace(/#.*$/, ''))
  let link = `${base}/#/r/${opts.roomId}?k=${secret}&c=${toBase64url(roomKeyCheck(opts.roomId, secretBytes))}`
  if (opts.genesis) link += `&o=${toBase64url(opts.genesis)}`
  if (opts.seed?.length) link += `&s=${toBase64url(encodeSeed(opts.seed))}`
  if (opts.epoch !== undefined && opts.epoch > 0) link += `&e=${opts.epoch}`
  if (opts.grant) link += `&g=${toBase64url(encodePass(opts.grant))}`
  return link
}

const fail = (code: InviteErrorCode, message: string): ParseInviteResult => ({ ok: false, code, message })

/**
 * Parses an invite link (a full URL, or just its `#/r/...` fragment).
 * `now` (ms) is used to report an expired grant.
 */
export function parseInvite(input: string | URL, now: number): ParseInviteResult {
  const text = (typeof input === 'string' ? input : input.href).trim()
  if (text === '') return fail('not-a-link', 'The invite link is empty.')
  const hash = text.indexOf('#')
  if (hash < 0) return fail('not-a-link', 'This is not a Stoop invite link: it has no "#/r/..." part. Copy the whole link.')
  let origin: string | undefined
  if (hash > 0) {
    try {
      origin = new URL(text.slice(0, hash)).origin
    } catch {
      return fail('not-a-link', 'This is not a Stoop invite link: the part before "#" is not a web address.')
    }
  }
  const fragment = text.slice(hash + 1)
  if (!fragment.startsWith('/r/') && fragment !== '/r') return fail('not-a-link', 'This is not a Stoop room link: the part after "#" should start with "/r/".')
  const q = fragment.indexOf('?')
  const roomId = trimSlashes(q < 0 ? fragment.slice(3) : fragment.slice(3, q))
  if (roomId === '') return fail('missing-room', 'The link has no room id after "#/r/". It may have been cut off.')
  if (!isRoomId(roomId)) return fail('bad-room-id', `The room id "${short(roomId)}" is not valid (expected 22 letters, digits, "-" or "_"). The link may be mistyped or cut off.`)
  const params = new URLSearchParams(q < 0 ? '' : fragment.slice(q + 1))
  const secret = params.get('k')
  if (secret === null || secret === '') return fail('missing-secret', 'The link has no room key ("k=..."). Without it you cannot join; ask for the full link.')
  const secretBytes = fromBase64url(secret)
  if (!secretBytes || secretBytes.length !== SECRET_BYTES) return fail('bad-secret', 'The room key ("k=...") in the link is damaged (expected 43 characters). The link may be cut off.')
  const check = params.get('c')
  if (check !== null) {
    const given = fromBase64url(check)
    if (!given || given.length !== KEY_CHECK_BYTES) return fail('bad-secret', 'The room key check ("c=...") in the link is damaged. The link may be cut off.')
    if (!bytesEqual(given, roomKeyCheck(roomId, secretBytes))) return fail('wrong-secret', WRONG_SECRET_MESSAGE)
  }
  const e = params.get('e')
  const epoch = e === null ? 0 : /^[1-9][0-9]{0,8}$/.test(e) ? Number(e) : -1
  if (epoch < 0) return fail('bad-secret', 'The epoch in the link ("e=...") is damaged. The link may be cut off.')
  const invite: Invite = { roomId, secret, secretBytes, epoch, ...(origin ? { origin } : {}) }
  const o = params.get('o')
  if (o !== null) {
    const genesis = fromBase64url(o)
    const entry = genesis && decodeEntry(genesis)
    if (!entry || entry.kind !== 'genesis' || entry.roomId !== roomId) {
      return fail('bad-grant', 'The room details in the link ("o=...") are damaged or belong to another room. The link may be cut off.')
    }
    invite.genesis = genesis
  }
  const sd = params.get('s')
  if (sd !== null) {
    const seed = decodeSeed(fromBase64url(sd), roomId)
    if (!seed) return fail('bad-grant', 'The room details in the link ("s=...") are damaged or belong to another room. The link may be cut off.')
    invite.seed = seed
  }
  const g = params.get('g')
  if (g !== null) {
    const bytes = fromBase64url(g)
    const decoded = bytes && decodePass(bytes)
    if (!decoded) return fail('bad-grant', 'The speaker/moderator pass in the link ("g=...") is damaged. You could still join as a listener without it.')
    const grant = decoded.link
    if (grant.roomId !== roomId) return fail('bad-grant', 'The speaker/moderator pass in the link ("g=...") belongs to a different room.')
    if (grant.expiresAt !== undefined && now > grant.expiresAt) {
      return fail('expired', `The ${grant.role} pass in this link expired on ${new Date(grant.expiresAt).toISOString()}. Ask for a new link, or join as a listener.`)
    }
    invite.grant = grant
    invite.pass = decoded.pass
  }
  return { ok: true, invite }
}

/** Without its trailing slashes. A loop, not /\/+$/: that regex backtracks quadratically over a run of slashes not at the end. */
function trimSlashes(s: string): string {
  let end = s.length
  while (end > 0 && s.charCodeAt(end - 1) === 0x2f) end--
  return s.slice(0, end)
}

/** Seed entries: count, then each as a length-prefixed entry. */
function encodeSeed(seed: readonly Uint8Array[]): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, seed.length)
  for (const e of seed) encoding.writeVarUint8Array(enc, e)
  return encoding.toUint8Array(enc)
}

const SEED_KINDS = new Set(['epoch', 'key'])
const MAX_SEED = 4

function decodeSeed(bytes: Uint8Array | null, roomId: string): Uint8Array[] | null {
  if (!bytes) return null
  try {
    const dec = decoding.createDecoder(bytes)
    const n = decoding.readVarUint(dec)
    if (n > MAX_SEED) return null
    const out: Uint8Array[] = []
    for (let i = 0; i < n; i++) {
      const e = decodeEntry(decoding.readVarUint8Array(dec))
      if (!e || e.roomId !== roomId || !SEED_KINDS.has(e.kind)) return null
      out.push(e.bytes)
    }
    return dec.pos === bytes.length ? out : null
  } catch {
    // Truncated or garbled: the caller says the link is damaged.
    return null
  }
}

function short(s: string): string {
  return s.length > 30 ? `${s.slice(0, 27)}...` : s
}
