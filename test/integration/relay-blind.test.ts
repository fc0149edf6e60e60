/**
 * What a stranger's relay gets out of an end-to-end encrypted room (issue 11), tried as its
 * operator would: a tap on the relay's forwarder (test-only: the relay is given a forwarder
 * factory that wraps the real Forwarder's per-packet step) records every payload it forwards
 * and can swap payloads for its own. Headless peers on werift, a mesh of one so the speaker
 * publishes to the relay and the listener subscribes there; all on 127.0.0.1.
 *
 * - Listening in: the tapped payloads, decoded as Opus in order, carry no trace of the
 *   speaker's 440 Hz tone, while the listener behind the relay hears it.
 * - Speaking in: the relay replaces 100 of the speaker's packets (2 s) with Opus frames of a
 *   1 kHz tone of its own. The listener drops and counts them and never hears 1 kHz.
 * - Altering: the relay flips one bit in each of 100 of the speaker's frames; each fails
 *   authentication at the listener, and is dropped and counted as 'auth'.
 *
 * The same room with E2EE off is the control: there the tap hears 440 Hz and the listener hears
 * the relay's 1 kHz, so the analysis above is one that would catch a relay that can listen.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { RtpPacket } from 'werift'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'
import { Forwarder } from '../../relay/sfu/forwarder.ts'
import type { ForwarderFactory } from '../../relay/sfu/sharded-forwarder.ts'
import { generateIdentity } from '../../src/identity/index.ts'
import { createRoomLinks } from '../../src/cli/room-create.ts'
import { detectTones, hasTone } from '../../src/audio/goertzel.ts'
import { createTone, SAMPLE_RATE } from '../../src/audio/tone.ts'
import { loadOpus } from '../../src/node/opus-codec.ts'
import type { NodeE2eeStats } from '../../src/headless/e2ee.ts'
import type { PeerEvent } from '../../src/headless/headless-peer.ts'
import { listeningPeer, type Listening } from './helpers/room-peers.ts'

const TONE = 440
const FORGED_TONE = 1000
const FORGED_PACKETS = 100
const POLL = { timeout: 45_000, interval: 100 }
const VIA_RELAY = { limits: { meshSize: 1, hysteresis: 0, hardCap: 12 } }

/** The operator's handle on its own relay: what it forwarded, and payloads it wants to send instead. */
interface Tap {
  payloads: Uint8Array[]
  /** Queued rewrites: each forwarded packet's payload goes through the next one. */
  forge: Array<(real: Uint8Array) => Uint8Array>
  forged: number
}

type ForwardStep = (pub: { id: string }, rtp: RtpPacket) => void

function tappedForwarders(tap: Tap): ForwarderFactory {
  return (opts) => {
    const fwd = new Forwarder(opts)
    const inner = fwd as unknown as { forward: ForwardStep }
    const forward = inner.forward.bind(fwd)
    inner.forward = (pub, rtp) => {
      tap.payloads.push(rtp.payload)
      const rewrite = tap.forge.shift()
      if (!rewrite) return forward(pub, rtp)
      tap.forged++
      forward(pub, new RtpPacket(rtp.header, Buffer.from(rewrite(rtp.payload))))
    }
    return fwd
  }
}

/** Does `payloads`, decoded as one Opus stream, carry `freq`? (Frames libopus refuses count as silence.) */
function opusCarries(payloads: readonly Uint8Array[], freq: number): { heard: boolean; ratio: number; refused: number } {
  const dec = loadOpus().createDecoder()
  const pcm: number[] = []
  let refused = 0
  for (const p of payloads) {
    const out = dec.decode(p)
    if (out) pcm.push(...out)
    else refused++
  }
  dec.destroy()
  const reading = detectTones(Int16Array.from(pcm), SAMPLE_RATE, [freq])[0]!
  return { heard: hasTone(reading, { minRatio: 0.2 }), ratio: reading.ratio, refused }
}

/** 20 ms Opus frames of a 1 kHz tone: what a relay that wants to speak in the room would send. */
function relayVoice(count: number): Uint8Array[] {
  const enc = loadOpus().createEncoder({ dtx: false })
  const tone = createTone({ freq: FORGED_TONE, frameSize: 960 })
  const frames = Array.from({ length: count }, () => enc.encode(tone.next()).slice())
  enc.destroy()
  return frames
}

let relay: Relay
const tap: Tap = { payloads: [], forge: [], forged: 0 }
let peers: Listening[] = []
beforeAll(async () => {
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, rooms: { forwarder: tappedForwarders(tap) } })
})
afterAll(() => relay?.close())
afterEach(async () => {
  await Promise.all(peers.map((p) => p.stop()))
  peers = []
})

async function roomThroughRelay(e2ee: boolean): Promise<{ listener: Listening; stats: () => NodeE2eeStats | null }> {
  const links = await createRoomLinks(await generateIdentity(), { title: `Blind relay ${e2ee}`, topic: '', origin: relay.url })
  tap.payloads.length = 0
  let last: NodeE2eeStats | null = null
  const speaker = await listeningPeer('MOD', { link: links.moderator, media: 'werift', e2ee, ...VIA_RELAY, speak: { kind: 'tone', freq: TONE } })
  peers.push(speaker)
  const listener = await listeningPeer('ANA', {
    link: links.listener,
    media: 'werift',
    e2ee,
    ...VIA_RELAY,
    onEvent: (ev: PeerEvent) => {
      if (ev.event === 'stats' && ev.e2ee) last = ev.e2ee as NodeE2eeStats
    },
  })
  peers.push(listener)
  await expect.poll(() => [speaker.client.via, listener.client.via], POLL).toEqual(['relay', 'relay'])
  await expect.poll(() => listener.hears(TONE) && tap.payloads.length >= 100, POLL).toBe(true)
  return { listener, stats: () => last }
}

/** Rewrites FORGED_PACKETS packets and samples, every 100 ms until they are out and 1 s after, whether the listener hears 1 kHz. */
async function forge(listener: Listening, rewrites: Array<(real: Uint8Array) => Uint8Array>): Promise<boolean[]> {
  tap.forged = 0
  tap.forge.push(...rewrites)
  const heard: boolean[] = []
  const until = Date.now() + 45_000
  while (tap.forge.length > 0 && Date.now() < until) {
    heard.push(listener.hears(FORGED_TONE))
    await new Promise((r) => setTimeout(r, 100))
  }
  for (let i = 0; i < 10; i++) {
    heard.push(listener.hears(FORGED_TONE))
    await new Promise((r) => setTimeout(r, 100))
  }
  expect(tap.forged, 'the relay sent its own frames').toBe(rewrites.length)
  return heard
}

/** The relay speaks: its own 1 kHz frames in place of the speaker's. */
const speakIn = (listener: Listening) => forge(listener, relayVoice(FORGED_PACKETS).map((frame) => () => frame))

/** The relay alters the speaker's frames: one bit of each (the end of the GCM tag). */
const tamper = (listener: Listening) =>
  forge(
    listener,
    Array.from({ length: FORGED_PACKETS }, () => (real: Uint8Array) => {
      const altered = Uint8Array.from(real)
      altered[altered.length - 1]! ^= 1
      return altered
    }),
  )

describe('a relay forwarding an end-to-end encrypted room', () => {
  test('cannot hear it: its tap decodes to no tone while the listener hears 440 Hz; what it forges is dropped, counted and not heard', async () => {
    const { listener, stats } = await roomThroughRelay(true)
    await expect.poll(() => stats()?.decrypted ?? 0, POLL).toBeGreaterThan(100)
    // The last 2 s the relay forwarded, as the operator would play them.
    const seen = tap.payloads.slice(-100)
    const tapped = opusCarries(seen, TONE)
    console.info(`relay-blind: the relay's tap decodes at ${TONE} Hz to ratio ${tapped.ratio.toFixed(3)} (${tapped.refused} of ${seen.length} frames refused by libopus)`)
    expect(tapped.heard, 'the relay hears the speaker').toBe(false)
    expect(listener.hears(TONE)).toBe(true)

    const before = stats()!
    const heard = await speakIn(listener)
    await expect.poll(() => stats()!.dropped - before.dropped, POLL).toBeGreaterThanOrEqual(FORGED_PACKETS * 0.9)
    const dropped = stats()!.dropped - before.dropped
    console.info(`relay-blind: forged ${FORGED_PACKETS}, dropped ${dropped} ${JSON.stringify(stats()!.reasons)}, heard at ${FORGED_TONE} Hz in ${heard.filter(Boolean).length} of ${heard.length} samples`)
    expect(dropped, 'no more dropped than forged').toBeLessThanOrEqual(FORGED_PACKETS)
    expect(heard.filter(Boolean), 'the relay\'s voice was heard').toEqual([])
    // The speaker is back once the relay stops.
    await expect.poll(() => listener.hears(TONE), POLL).toBe(true)

    // Altered frames fail authentication: dropped and counted as such, the tone not played from them.
    const clean = stats()!
    await tamper(listener)
    await expect.poll(() => stats()!.dropped - clean.dropped, POLL).toBeGreaterThanOrEqual(FORGED_PACKETS * 0.9)
    const auth = (stats()!.reasons.auth ?? 0) - (clean.reasons.auth ?? 0)
    console.info(`relay-blind: altered ${FORGED_PACKETS}, dropped ${stats()!.dropped - clean.dropped} ${JSON.stringify(stats()!.reasons)}`)
    expect(auth, 'altered frames fail authentication').toBeGreaterThanOrEqual(FORGED_PACKETS * 0.9)
    expect(stats()!.dropped - clean.dropped).toBeLessThanOrEqual(FORGED_PACKETS)
  }, 180_000)

  test('control, E2EE off: the same tap hears 440 Hz and the listener hears the relay\'s 1 kHz (the checks above can fail)', async () => {
    const { listener } = await roomThroughRelay(false)
    const tapped = opusCarries(tap.payloads.slice(-100), TONE)
    expect(tapped.heard, `tap ratio ${tapped.ratio.toFixed(3)}`).toBe(true)
    const heard = await speakIn(listener)
    expect(heard.some(Boolean), 'the relay\'s voice reaches a room without E2EE').toBe(true)
  }, 180_000)
})
