/**
 * The mesh's control messages on the signalling bus, and their signatures.
 *
 * Every message is signed with its sender's identity key over the sender id, the addressee,
 * both connection nonces, the kind and the signal itself:
 *
 *   signed = utf8("stoop/mesh/v2\n" + from + "\n" + to + "\n" + JSON([k, n, r, s]))
 *
 * Why everything: the bus does not authenticate who sent a message (any member holds the room
 * key and can write any sender id), and the nonces decide which connection a message belongs to
 * (a higher `n` replaces ours). Unsigned, a member could speak for another and cut its links; with
 * the addressee and nonces outside the signature, a message read off the topic could be replayed
 * to another peer or with a higher nonce. The SDP, being inside, still binds the DTLS
 * fingerprint (and so the encrypted connection) to the sender's key.
 *
 * Invariants: `parseWire` and `verifyWire` never throw; the signed bytes are rebuilt from the
 * parsed fields on both ends (JSON.stringify of what JSON.parse returned is the sender's string).
 */
import { fromBase64url, publicKeyFromId, toBase64url, verifySignature, type Identity } from '../identity/index.ts'
import type { BusMessage } from './bus.ts'
import { jsonDepthExceeds } from './json-guard.ts'
import type { PeerSignal } from './peer.ts'

/** `n`: the sender's connection nonce; `r`: the receiver's, as far as the sender knows. */
export type WireBody = { k: 'sig'; s: PeerSignal; n: number; r: number | null } | { k: 'hi'; n: number; r: number | null }
/** A body and its signature (base64url Ed25519). */
export type Wire = WireBody & { sig: string }

const CONTEXT = 'stoop/mesh/v2'
const MAX_WIRE_CHARS = 96 * 1024
/** A wire message nests two deep (the message, its signal). Deeper input is refused before parsing: verifying re-serialises it, and a few thousand levels overflow JSON.stringify's stack. */
const MAX_WIRE_DEPTH = 8

function signedBytes(from: string, to: string, body: WireBody): Uint8Array {
  const fields = [body.k, body.n, body.r, body.k === 'sig' ? body.s : null]
  return new TextEncoder().encode(`${CONTEXT}\n${from}\n${to}\n${JSON.stringify(fields)}`)
}

/** Signs `body` as `from`'s message to `to`, ready for the bus. */
export async function encodeWire(identity: Identity, from: string, to: string, body: WireBody): Promise<string> {
  const sig = toBase64url(await identity.sign(signedBytes(from, to, body)))
  return JSON.stringify({ ...body, sig } satisfies Wire)
}

/** True when `body` was signed (`sig`) by the key `from` names, for `to`, with these nonces. */
export async function verifyWire(from: string, to: string, body: WireBody, sig: string): Promise<boolean> {
  const pub = publicKeyFromId(from)
  const bytes = fromBase64url(sig)
  if (!pub || !bytes) return false
  let signed: Uint8Array
  try {
    signed = signedBytes(from, to, body)
  } catch {
    // A body that does not serialise (too deep, a cycle) was not signed by anyone.
    return false
  }
  return verifySignature(pub, signed, bytes)
}

/** A message as received: its body, and its signature if it had one. */
export type ReceivedWire = WireBody & { sig: string | null }

/**
 * The message's shape, or null when it is not a mesh message at all (malformed). A missing
 * signature is a shape the verifier refuses: counted apart from malformed, as a bad signature.
 */
export function parseWire(msg: BusMessage): ReceivedWire | null {
  if (typeof msg !== 'string' || msg.length > MAX_WIRE_CHARS || jsonDepthExceeds(msg, MAX_WIRE_DEPTH)) return null
  let data: unknown
  try {
    data = JSON.parse(msg)
  } catch {
    return null
  }
  if (typeof data !== 'object' || data === null) return null
  const d = data as Record<string, unknown>
  const nonce = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0
  if (!nonce(d.n) || (d.r !== null && !nonce(d.r))) return null
  if (d.sig !== undefined && typeof d.sig !== 'string') return null
  const head = { n: d.n, r: d.r as number | null, sig: typeof d.sig === 'string' ? d.sig : null }
  if (d.k === 'hi') return { k: 'hi', ...head }
  if (d.k !== 'sig' || typeof d.s !== 'object' || d.s === null) return null
  // The Peer validates the signal's own shape (peer-signal.ts) before using it.
  return { k: 'sig', s: d.s as PeerSignal, ...head }
}
