/**
 * Fuzz targets for the text decoders: signalling frames, relay control frames (both directions),
 * signed mesh messages on the bus, and invite links.
 */
import { SIGNAL_DECODE_REASONS, decodeSignalMessage, encodeSignalMessage, isSignalDecodeError, MAX_SIGNAL_MESSAGE_BYTES } from '../../src/net/signal-protocol.ts'
import {
  decodeClientMessage, decodeRelayMessage, encodeRelayMessage, isDiscoveryHex, isRelayDecodeError, MAX_RELAY_CONTROL_BYTES, RELAY_DECODE_REASONS,
} from '../../src/net/relay-protocol.ts'
import { parseWire, verifyWire, type WireBody } from '../../src/net/mesh-wire.ts'
import { parseSignal } from '../../src/net/peer-signal.ts'
import { formatInvite, parseInvite, type InviteErrorCode } from '../../src/invite/index.ts'
import { isRoomId } from '../../src/room/index.ts'
import { inviteArbitrary, meshWireArbitrary, relayArbitrary, signalArbitrary } from './arbitraries.ts'
import type { FuzzContext, Samples } from './samples.ts'
import { must, mustBeReason, type Target } from './target.ts'

const strings = (samples: Samples, name: string): string[] => (samples[name] ?? []).filter((s): s is string => typeof s === 'string')

const SIGNAL_TYPES = ['subscribe', 'unsubscribe', 'publish', 'ping', 'pong']

function signalTarget(samples: Samples, ctx: FuzzContext): Target {
  return {
    name: 'signal',
    kind: 'string',
    maxLen: MAX_SIGNAL_MESSAGE_BYTES + 1024,
    seeds: strings(samples, 'signal'),
    tokens: ['"subscribe"', '"unsubscribe"', '"publish"', '"ping"', '"pong"', '"topics"', '"topic"', '"data"', '"clients"', JSON.stringify(ctx.discovery)],
    arbitrary: signalArbitrary(ctx),
    run(raw) {
      const m = decodeSignalMessage(raw)
      if (isSignalDecodeError(m)) return mustBeReason(m.error, SIGNAL_DECODE_REASONS)
      must(SIGNAL_TYPES.includes(m.type), `decoded an unknown type ${String(m.type)}`)
      // What the relay does with an accepted publish: re-serialise it with `clients` added.
      const out = encodeSignalMessage(m.type === 'publish' ? { ...m, clients: 1 } : m)
      const again = decodeSignalMessage(out, Number.MAX_SAFE_INTEGER)
      must(!isSignalDecodeError(again) && encodeSignalMessage(again) === out, 'a decoded message does not survive re-encoding')
    },
  }
}

function relayTarget(samples: Samples, ctx: FuzzContext): Target {
  const check = (decode: typeof decodeClientMessage | typeof decodeRelayMessage, raw: string): void => {
    const m = decode(raw)
    if (isRelayDecodeError(m)) return mustBeReason(m.error, RELAY_DECODE_REASONS)
    must(typeof m.type === 'string', 'decoded message without a type')
    if (m.type === 'hello') must(isDiscoveryHex(m.room), 'hello with a bad room')
    const out = encodeRelayMessage(m)
    must(encodeRelayMessage(decode(out, Number.MAX_SAFE_INTEGER) as typeof m) === out, 'a decoded message does not survive re-encoding')
  }
  return {
    name: 'relay',
    kind: 'string',
    maxLen: MAX_RELAY_CONTROL_BYTES + 1024,
    seeds: strings(samples, 'relay'),
    tokens: ['"hello"', '"auth"', '"challenge"', '"welcome"', '"refused"', '"publishers"', '"ids"', '"sdp"', '"standby"', '"cascade"', JSON.stringify(ctx.keyIds[0])],
    arbitrary: relayArbitrary(ctx),
    run(raw) {
      check(decodeClientMessage, raw)
      check(decodeRelayMessage, raw)
    },
  }
}

function meshWireTarget(samples: Samples, ctx: FuzzContext): Target {
  const nonce = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0
  return {
    name: 'mesh-wire',
    kind: 'string',
    async: true,
    maxLen: 100 * 1024,
    seeds: strings(samples, 'mesh-wire'),
    tokens: ['"k"', '"hi"', '"sig"', '"s"', '"n"', '"r"', '"description"', '"candidate"', '"sdpType"', '"offer"', '"sdpMLineIndex"', '9007199254740992'],
    arbitrary: meshWireArbitrary(ctx),
    async run(raw) {
      const w = parseWire(raw)
      if (w === null) return
      must((w.k === 'hi' || w.k === 'sig') && nonce(w.n) && (w.r === null || nonce(w.r)), 'parsed a message of the wrong shape')
      must(w.sig === null || typeof w.sig === 'string', 'parsed a non-string signature')
      if (w.k === 'sig') parseSignal(w.s)
      if (w.sig === null) return
      const { sig, ...body } = w
      // As the mesh calls it: any sender id (the bus does not authenticate it), our id, the parsed body.
      for (const from of [ctx.wireFrom, raw.slice(0, 43)]) {
        const ok = await verifyWire(from, ctx.wireTo, body as WireBody, sig)
        must(typeof ok === 'boolean', 'verifyWire answered a non-boolean')
      }
    },
  }
}

const INVITE_CODES: InviteErrorCode[] = ['not-a-link', 'missing-room', 'bad-room-id', 'missing-secret', 'bad-secret', 'wrong-secret', 'bad-grant', 'expired']
const NOW = 1_700_000_500_000

function inviteTarget(samples: Samples, ctx: FuzzContext): Target {
  return {
    name: 'invite',
    kind: 'string',
    maxLen: 8 * 1024,
    seeds: strings(samples, 'invite'),
    tokens: ['#', '#/r/', '/r/', '?', '&', '=', 'k=', 'c=', 'o=', 'g=', '%', '%00', '%zz', '%2F', '+', ' ', 'https://', 'http://[::1]:80', '@', ':', ctx.roomId, ctx.secret],
    arbitrary: inviteArbitrary(ctx),
    run(text) {
      const r = parseInvite(text, NOW)
      if (!r.ok) {
        mustBeReason(r.code, INVITE_CODES)
        return must(typeof r.message === 'string' && r.message.length > 0, 'refusal without a sentence')
      }
      const inv = r.invite
      must(isRoomId(inv.roomId) && inv.secretBytes.length === 32, 'accepted a link without a room id and a 32-byte secret')
      // What the app does with an accepted link: format it again (a share button), and that must parse the same.
      const again = parseInvite(formatInvite({ origin: 'https://stoop.example', roomId: inv.roomId, secret: inv.secret, genesis: inv.genesis, grant: inv.pass }), NOW)
      must(again.ok && again.invite.roomId === inv.roomId && again.invite.secret === inv.secret, 'an accepted link does not format and parse back')
      must(again.invite.grant?.id === inv.grant?.id && (again.invite.genesis === undefined) === (inv.genesis === undefined), 'an accepted link loses its grant or genesis')
    },
  }
}

export function textTargets(samples: Samples, ctx: FuzzContext): Target[] {
  return [signalTarget(samples, ctx), relayTarget(samples, ctx), meshWireTarget(samples, ctx), inviteTarget(samples, ctx)]
}
