/**
 * Peer logic against a scripted fake RTCPeerConnection: perfect-negotiation collisions, candidate
 * buffering, signal validation, ICE-restart policy with injected timers/backoff, data channel rules
 * and the destroy lifecycle. Real WebRTC is covered in test/integration/peer-audio.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Peer, PeerError, type PeerOptions, type PeerSignal } from '../../../src/net/peer.ts'
import type { Timers } from '../../../src/base/timers.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'

const SDP = (tag: string) => `v=0\r\no=- ${tag} 1 IN IP4 127.0.0.1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n`
let counter = 0
const instances: FakePC[] = []

class FakeDC extends EventTarget {
  readyState: RTCDataChannelState = 'connecting'
  binaryType = 'blob'
  bufferedAmount = 0
  sent: Uint8Array[] = []
  constructor(readonly label: string, readonly init: RTCDataChannelInit) {
    super()
  }
  send(d: Uint8Array) {
    this.sent.push(d)
  }
  close() {
    this.readyState = 'closed'
  }
  open() {
    this.readyState = 'open'
    this.dispatchEvent(new Event('open'))
  }
  remoteClose() {
    this.readyState = 'closed'
    this.dispatchEvent(new Event('close'))
  }
  message(data: unknown) {
    this.dispatchEvent(Object.assign(new Event('message'), { data }))
  }
}

class FakePC extends EventTarget {
  signalingState: RTCSignalingState = 'stable'
  connectionState: RTCPeerConnectionState = 'new'
  localDescription: RTCSessionDescriptionInit | null = null
  remoteDescription: RTCSessionDescriptionInit | null = null
  candidates: RTCIceCandidateInit[] = []
  offerOptions: unknown[] = []
  rollbacks = 0
  closed = false
  dc!: FakeDC
  constructor(readonly config: RTCConfiguration) {
    super()
    instances.push(this)
  }
  createDataChannel(label: string, init: RTCDataChannelInit) {
    return (this.dc = new FakeDC(label, init))
  }
  async createOffer(opts: unknown) {
    this.offerOptions.push(opts)
    return { type: 'offer' as const, sdp: SDP(`offer${++counter}`) }
  }
  async createAnswer() {
    if (this.signalingState !== 'have-remote-offer') throw new Error('createAnswer in ' + this.signalingState)
    return { type: 'answer' as const, sdp: SDP(`answer${++counter}`) }
  }
  async setLocalDescription(d: RTCSessionDescriptionInit) {
    const s = this.signalingState
    if (d.type === 'rollback') {
      if (s !== 'have-local-offer') throw new Error('rollback in ' + s)
      this.rollbacks++
      this.signalingState = 'stable'
      return
    }
    if ((d.type === 'offer' && s !== 'stable') || (d.type === 'answer' && s !== 'have-remote-offer')) throw new Error(`SLD ${d.type} in ${s}`)
    this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable'
    this.localDescription = d
  }
  async setRemoteDescription(d: RTCSessionDescriptionInit) {
    const s = this.signalingState
    if ((d.type === 'offer' && s !== 'stable') || (d.type === 'answer' && s !== 'have-local-offer')) throw new Error(`SRD ${d.type} in ${s}`)
    this.signalingState = d.type === 'offer' ? 'have-remote-offer' : 'stable'
    this.remoteDescription = d
  }
  async addIceCandidate(c: RTCIceCandidateInit) {
    if (!this.remoteDescription) throw new Error('no remote description')
    if (c.candidate?.includes('bad')) throw new Error('bad candidate')
    this.candidates.push(c)
  }
  addTrack(track: MediaStreamTrack) {
    queueMicrotask(() => this.dispatchEvent(new Event('negotiationneeded')))
    return { track } as unknown as RTCRtpSender
  }
  removeTrack() {
    queueMicrotask(() => this.dispatchEvent(new Event('negotiationneeded')))
  }
  async getStats() {
    return new Map([['T', { id: 'T', type: 'transport', bytesSent: 1, bytesReceived: 2 }]])
  }
  close() {
    this.closed = true
    this.signalingState = 'closed'
    this.connectionState = 'closed'
  }
  setState(s: RTCPeerConnectionState) {
    this.connectionState = s
    this.dispatchEvent(new Event('connectionstatechange'))
  }
  negotiationNeeded() {
    this.dispatchEvent(new Event('negotiationneeded'))
  }
  localCandidate(candidate: string | null) {
    this.dispatchEvent(Object.assign(new Event('icecandidate'), { candidate: candidate === null ? null : { candidate, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' } }))
  }
}

/** Timers driven by the test; promises settle after each one fires. */
function manualTimers(): Timers & { pending: number; advance(ms: number): Promise<void> } {
  const clock = fakeTimers()
  return {
    ...clock.timers,
    get pending() {
      return clock.pending()
    },
    advance: (ms) => clock.advanceAsync(ms, settle),
  }
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
}
const wrtc = { RTCPeerConnection: FakePC as unknown as PeerOptions['wrtc']['RTCPeerConnection'] }

function make(opts: Partial<PeerOptions> = {}) {
  const timers = manualTimers()
  const peer = new Peer({ wrtc, polite: false, timers, ...opts })
  const pc = instances[instances.length - 1]!
  const out: PeerSignal[] = []
  const events: string[] = []
  peer.on('signal', (s) => out.push(s))
  for (const ev of ['connect', 'reconnecting', 'reconnected', 'state', 'error', 'close'] as const) {
    peer.on(ev, (...args: unknown[]) => events.push(`${ev}${args[0] instanceof PeerError ? ':' + args[0].code : typeof args[0] === 'string' ? ':' + args[0] : ''}`))
  }
  return { peer, pc, out, events, timers }
}

afterEach(() => {
  instances.length = 0
})

describe('Peer: setup and negotiation', () => {
  it('creates one negotiated ordered data channel (id 0) and no ICE servers by default', () => {
    const { pc } = make()
    expect(pc.dc.init).toEqual({ negotiated: true, id: 0, ordered: true })
    expect(pc.dc.binaryType).toBe('arraybuffer')
    expect(pc.config).toEqual({ iceServers: [] })
  })

  it('offers with Opus munged in, answers incoming offers, and emits candidates', async () => {
    const a = make()
    a.pc.negotiationNeeded()
    await settle()
    expect(a.out).toHaveLength(1)
    const offer = a.out[0]!
    expect(offer.type === 'description' && offer.sdpType === 'offer' && offer.sdp.includes('usedtx=1;maxaveragebitrate=32000')).toBe(true)
    expect(a.pc.localDescription?.sdp).toContain('a=ptime:20')

    const b = make({ polite: true })
    b.peer.signal(offer)
    await settle()
    const answer = b.out[0]!
    expect(answer).toMatchObject({ type: 'description', sdpType: 'answer' })
    expect(answer.type === 'description' && answer.sdp.includes('maxaveragebitrate=32000')).toBe(true)
    a.peer.signal(answer)
    await settle()
    expect([a.pc.signalingState, b.pc.signalingState]).toEqual(['stable', 'stable'])

    a.pc.localCandidate('candidate:1 1 udp 1 127.0.0.1 5000 typ host')
    a.pc.localCandidate(null)
    expect(a.out[1]).toEqual({ type: 'candidate', candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' })
    expect(a.out).toHaveLength(2)
  })

  it('opus: false leaves SDP untouched', async () => {
    const a = make({ opus: false })
    a.pc.negotiationNeeded()
    await settle()
    expect(a.pc.localDescription?.sdp).not.toContain('usedtx')
  })

  it('the polite side never makes the first offer; it offers pending changes after answering', async () => {
    const imp = make({ polite: false })
    const pol = make({ polite: true })
    pol.pc.negotiationNeeded()
    await settle()
    expect(pol.out).toEqual([])
    imp.pc.negotiationNeeded()
    await settle()
    pol.peer.signal(imp.out.shift())
    await settle()
    expect(pol.out.map((s) => s.type === 'description' && s.sdpType)).toEqual(['answer', 'offer'])
  })

  it('offer collision: impolite ignores, polite rolls back and answers, both end stable', async () => {
    const imp = make({ polite: false })
    const pol = make({ polite: true })
    // First exchange (polite waits to be offered to), then both renegotiate at once.
    imp.pc.negotiationNeeded()
    await settle()
    pol.peer.signal(imp.out.shift())
    await settle()
    imp.peer.signal(pol.out.shift())
    await settle()
    expect([imp.pc.signalingState, pol.pc.signalingState]).toEqual(['stable', 'stable'])
    imp.pc.negotiationNeeded()
    pol.pc.negotiationNeeded()
    await settle()
    expect([imp.pc.signalingState, pol.pc.signalingState]).toEqual(['have-local-offer', 'have-local-offer'])
    // Both offers cross on the wire.
    imp.peer.signal(pol.out.shift())
    pol.peer.signal(imp.out.shift())
    await settle()
    expect(imp.peer.counters.ignoredOffers).toBe(1)
    expect(pol.pc.rollbacks).toBe(1)
    // Polite answered; it also re-offers its rolled-back changes once the answer is out.
    const answer = pol.out.shift()!
    expect(answer).toMatchObject({ sdpType: 'answer' })
    imp.peer.signal(answer)
    await settle()
    expect(imp.pc.signalingState).toBe('stable')
    const reoffer = pol.out.shift()!
    expect(reoffer).toMatchObject({ sdpType: 'offer' })
    imp.peer.signal(reoffer)
    await settle()
    pol.peer.signal(imp.out.shift())
    await settle()
    expect([imp.pc.signalingState, pol.pc.signalingState]).toEqual(['stable', 'stable'])
    expect(imp.events.concat(pol.events).filter((e) => e.startsWith('error'))).toEqual([])
  })

  it('a rolled-back ICE-restart offer is re-offered as a restart', async () => {
    const imp = make({ polite: false })
    const pol = make({ polite: true })
    imp.pc.negotiationNeeded()
    await settle()
    pol.peer.signal(imp.out.shift())
    await settle()
    imp.peer.signal(pol.out.shift())
    await settle()
    pol.peer.restartIce()
    imp.pc.negotiationNeeded()
    await settle()
    expect(pol.pc.offerOptions.at(-1)).toEqual({ iceRestart: true })
    pol.peer.signal(imp.out.shift()) // collides: polite rolls back its restart offer and answers
    await settle()
    expect(pol.pc.rollbacks).toBe(1)
    expect(pol.out.map((s) => s.type === 'description' && s.sdpType)).toEqual(['offer', 'answer', 'offer'])
    expect(pol.pc.offerOptions.at(-1)).toEqual({ iceRestart: true })
  })

  it('stale answers are counted and dropped, not fatal', async () => {
    const a = make()
    a.peer.signal({ type: 'description', sdpType: 'answer', sdp: SDP('x') })
    await settle()
    expect(a.peer.counters.staleAnswers).toBe(1)
    expect(a.peer.destroyed).toBe(false)
  })

  it('buffers remote candidates until the remote description, then applies them; bad ones are counted', async () => {
    const a = make({ polite: true })
    a.peer.signal({ type: 'candidate', candidate: 'candidate:1 1 udp 1 127.0.0.1 1 typ host', sdpMid: '0', sdpMLineIndex: 0 })
    a.peer.signal({ type: 'candidate', candidate: 'candidate:bad', sdpMid: '0' })
    await settle()
    expect(a.pc.candidates).toHaveLength(0)
    a.peer.signal({ type: 'description', sdpType: 'offer', sdp: SDP('o') })
    await settle()
    expect(a.pc.candidates).toEqual([{ candidate: 'candidate:1 1 udp 1 127.0.0.1 1 typ host', sdpMid: '0', sdpMLineIndex: 0 }])
    expect(a.peer.counters.failedCandidates).toBe(1)
    expect(a.peer.destroyed).toBe(false)
  })

  it('malformed signals are counted and dropped', async () => {
    const a = make()
    for (const m of [null, 'x', { type: 'description', sdpType: 'offer', sdp: 'hello' }, { type: 'candidate' }]) a.peer.signal(m)
    await settle()
    expect(a.peer.counters.malformedSignals).toBe(4)
    expect(a.pc.remoteDescription).toBeNull()
  })

  it('a failing negotiation step destroys with negotiation-failed', async () => {
    const a = make()
    a.pc.createOffer = async () => {
      throw new Error('boom')
    }
    a.pc.negotiationNeeded()
    await settle()
    expect(a.events.slice(-2)).toEqual(['error:negotiation-failed', 'close:negotiation-failed'])
    expect(a.pc.closed).toBe(true)
  })
})

describe('Peer: data channel', () => {
  it('send() rules: type, size, open state; exact-copy of views', () => {
    const a = make({ maxMessageBytes: 8 })
    const code = (fn: () => void) => {
      try {
        fn()
      } catch (e) {
        return (e as PeerError).code
      }
      return null
    }
    expect(code(() => a.peer.send(new Uint8Array(1)))).toBe('channel-not-open')
    a.pc.dc.open()
    expect(code(() => a.peer.send('hi' as unknown as Uint8Array))).toBe('bad-message')
    expect(code(() => a.peer.send(new Uint8Array(9)))).toBe('message-too-large')
    const big = Uint8Array.from([1, 2, 3, 4, 5])
    a.peer.send(big.subarray(1, 3))
    a.peer.send(big)
    expect(a.pc.dc.sent[0]).toEqual(Uint8Array.from([2, 3]))
    expect(a.pc.dc.sent[0]!.buffer.byteLength).toBe(2)
    expect(a.pc.dc.sent[1]).toBe(big)
  })

  it('emits connect once and data as Uint8Array; text frames are dropped and counted', async () => {
    const a = make()
    const got: Uint8Array[] = []
    a.peer.on('data', (d) => got.push(d))
    a.pc.dc.open()
    a.pc.dc.open()
    a.pc.dc.message(Uint8Array.from([9, 8]).buffer)
    a.pc.dc.message('text')
    await settle()
    expect(a.events.filter((e) => e === 'connect')).toHaveLength(1)
    expect(a.peer.connected).toBe(true)
    expect(got).toEqual([Uint8Array.from([9, 8])])
    expect(a.peer.counters.droppedMessages).toBe(1)
  })

  it('remote channel close destroys with remote-closed', async () => {
    const a = make()
    a.pc.dc.open()
    a.pc.dc.remoteClose()
    await settle()
    expect(a.events.slice(-1)).toEqual(['close:remote-closed'])
  })
})

describe('Peer: connection loss', () => {
  it('disconnected beyond the grace period -> ICE restart; recovery resets attempts', async () => {
    const a = make({ disconnectGraceMs: 1000, backoff: () => 5000 })
    a.pc.dc.open()
    a.pc.setState('connected')
    a.pc.setState('disconnected')
    await settle()
    await a.timers.advance(900)
    expect(a.pc.offerOptions).toHaveLength(0)
    a.pc.setState('connected') // came back within grace: nothing happens
    await settle()
    expect(a.timers.pending).toBe(0)

    a.pc.setState('disconnected')
    await settle()
    await a.timers.advance(1000)
    expect(a.events).toContain('reconnecting')
    expect(a.pc.offerOptions.at(-1)).toEqual({ iceRestart: true })
    expect(a.out.at(-1)).toMatchObject({ type: 'description', sdpType: 'offer' })
    a.pc.setState('connected')
    await settle()
    expect(a.events.at(-1)).toBe('reconnected')
    expect(a.timers.pending).toBe(0)
  })

  it('failed -> restarts with the injected backoff, then connection-lost after maxRestarts; no timers left', async () => {
    const delays: number[] = []
    const a = make({ maxRestarts: 3, backoff: (n) => (delays.push(n), 100 * 2 ** n) })
    const attempts: number[] = []
    a.peer.on('reconnecting', ({ attempt }) => attempts.push(attempt))
    a.pc.dc.open()
    a.pc.setState('connected')
    a.pc.setState('failed')
    await settle()
    expect(attempts).toEqual([1])
    await a.timers.advance(200)
    expect(attempts).toEqual([1, 2])
    await a.timers.advance(400)
    expect(attempts).toEqual([1, 2, 3])
    expect(a.peer.destroyed).toBe(false)
    await a.timers.advance(800)
    expect(delays).toEqual([1, 2, 3])
    expect(a.events.slice(-2)).toEqual(['error:connection-lost', 'close:connection-lost'])
    expect(a.pc.closed).toBe(true)
    expect(a.timers.pending).toBe(0)
    expect(a.peer.counters.iceRestarts).toBe(3)
  })

  it('a restart replaces an unanswered offer (rollback first)', async () => {
    const a = make()
    a.pc.negotiationNeeded()
    await settle()
    expect(a.pc.signalingState).toBe('have-local-offer')
    a.peer.restartIce()
    await settle()
    expect(a.pc.rollbacks).toBe(1)
    expect(a.pc.offerOptions.at(-1)).toEqual({ iceRestart: true })
    expect(a.peer.destroyed).toBe(false)
  })

  it('connect timeout', async () => {
    const a = make({ connectTimeoutMs: 5000 })
    await a.timers.advance(5000)
    expect(a.events.slice(-1)).toEqual(['close:connect-timeout'])
    const b = make({ connectTimeoutMs: 5000 })
    b.pc.dc.open()
    expect(b.timers.pending).toBe(0)
  })
})

describe('Peer: lifecycle', () => {
  it('destroy is idempotent, closes everything, clears timers, detaches listeners', async () => {
    const a = make({ disconnectGraceMs: 1000 })
    a.pc.setState('disconnected')
    await settle()
    expect(a.timers.pending).toBe(2) // connect timeout + grace
    a.peer.destroy()
    a.peer.destroy(new Error('again'))
    expect(a.events.filter((e) => e.startsWith('close'))).toEqual(['close'])
    expect(a.timers.pending).toBe(0)
    expect(a.pc.closed && a.pc.dc.readyState === 'closed').toBe(true)
    // Events from the closed connection no longer reach the peer.
    a.pc.setState('failed')
    a.pc.negotiationNeeded()
    await settle()
    expect(a.pc.offerOptions).toHaveLength(0)
    expect(a.peer.connectionState).toBe('closed')
    // Late signals are ignored; calls are misuse.
    a.peer.signal({ type: 'bye' })
    expect(a.peer.counters.malformedSignals).toBe(0)
    expect(() => a.peer.send(new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'destroyed' }))
    expect(() => a.peer.addTrack({} as MediaStreamTrack, {} as MediaStream)).toThrow(expect.objectContaining({ code: 'destroyed' }))
    await expect(a.peer.getStats()).rejects.toMatchObject({ code: 'destroyed' })
  })

  it('destroy(err) wraps foreign errors as aborted with cause', () => {
    const a = make()
    let got: PeerError | null = null
    a.peer.on('error', (e) => (got = e))
    const cause = new Error('signalling gone')
    a.peer.destroy(cause)
    expect(got).toMatchObject({ code: 'aborted', message: 'signalling gone', cause })
  })

  it('addTrack/removeTrack misuse codes', async () => {
    const a = make()
    const t = { id: 't1' } as MediaStreamTrack
    a.peer.addTrack(t, {} as MediaStream)
    expect(() => a.peer.addTrack(t, {} as MediaStream)).toThrow(expect.objectContaining({ code: 'track-exists' }))
    a.peer.removeTrack(t)
    expect(() => a.peer.removeTrack(t)).toThrow(expect.objectContaining({ code: 'unknown-track' }))
    expect(() => new Peer({ wrtc: {} as PeerOptions['wrtc'], polite: true })).toThrow(expect.objectContaining({ code: 'bad-options' }))
    expect(() => new Peer({ wrtc, polite: true, opus: { ptimeMs: 7 } })).toThrow(expect.objectContaining({ code: 'invalid-opus-params' }))
    expect((await a.peer.getStats()).bytesReceived).toBe(2)
  })
})
