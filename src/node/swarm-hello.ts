/**
 * The hello frame that opens every swarm-bus connection (see swarm-bus.ts), and
 * its strict parser: the bytes come from any hyperswarm peer on the topic, so a
 * frame that is not exactly this shape is refused (null), never thrown.
 *
 *   0x00 'stoop/bus' varString, version varUint, topic varUint8Array(32),
 *        peer id varString (1..128 chars), session varUint8Array(16)
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

export const MAX_PEER_ID_LENGTH = 128
/** A bus's random session id: a new one tells a restarted peer from a second connection. */
export const SESSION_BYTES = 16

const HELLO_MAGIC = 'stoop/bus'
const HELLO_VERSION = 1
const FRAME_HELLO = 0x00

export function encodeHello(topic: Uint8Array, peerId: string, session: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeUint8(encoder, FRAME_HELLO)
  encoding.writeVarString(encoder, HELLO_MAGIC)
  encoding.writeVarUint(encoder, HELLO_VERSION)
  encoding.writeVarUint8Array(encoder, topic)
  encoding.writeVarString(encoder, peerId)
  encoding.writeVarUint8Array(encoder, session)
  return encoding.toUint8Array(encoder)
}

/** Parse a hello frame; null if it is anything else. */
export function decodeHello(frame: Uint8Array): { topic: Uint8Array; peerId: string; session: string } | null {
  try {
    const decoder = decoding.createDecoder(frame)
    if (decoding.readUint8(decoder) !== FRAME_HELLO) return null
    if (decoding.readVarString(decoder) !== HELLO_MAGIC) return null
    if (decoding.readVarUint(decoder) !== HELLO_VERSION) return null
    const topic = decoding.readVarUint8Array(decoder)
    const peerId = decoding.readVarString(decoder)
    const session = decoding.readVarUint8Array(decoder)
    if (decoding.hasContent(decoder) || !validPeerId(peerId) || session.byteLength !== SESSION_BYTES) return null
    return { topic, peerId, session: Buffer.from(session).toString('hex') }
  } catch {
    // Truncated input; the caller counts it as a bad hello.
    return null
  }
}

export function validPeerId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_PEER_ID_LENGTH
}
