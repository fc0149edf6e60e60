/**
 * The page's SFrame worker: every encoded audio frame the page sends or receives passes through
 * here, as an `RTCRtpScriptTransform` (`rtctransform` events) or as a stream pair that Chromium's
 * `createEncodedStreams()` made and the page transferred. Epoch secrets arrive by message; the
 * frame keys are derived and kept here, never posted back.
 *
 * Invariants: a frame that cannot be sealed is not sent, one that does not open is not played
 * (both dropped and counted); a transform never errors its stream (an errored stream would stop
 * the track for good), whatever a frame holds.
 */
import { counterStart, SEND_SWITCH_DELAY_MS, SframeKeyring, SframeStream } from './sframe.ts'
import type { E2eeRole, FromWorker, ToWorker, TransformOptions } from './worker-protocol.ts'

interface EncodedFrame {
  data: ArrayBuffer
}

interface Transformer {
  readable: ReadableStream<EncodedFrame>
  writable: WritableStream<EncodedFrame>
  options?: TransformOptions
}

interface WorkerScope {
  postMessage(msg: FromWorker): void
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null
  onrtctransform: ((e: { transformer: Transformer }) => void) | null
}

const STATS_MS = 1000

const scope = globalThis as unknown as WorkerScope
let ring: SframeKeyring | null = null
/** Receiving streams by id: created by whichever comes first, the stream or its sender. */
const streams = new Map<number, SframeStream>()
let running = 0
let early = 0
let pipeErrors = 0
let encryptMs = 0
let decryptMs = 0
let dirty = false
/** Frames seen per receiving transform id. */
const framesById = new Map<number, number>()

function streamFor(id: number): SframeStream {
  let s = streams.get(id)
  if (!s) streams.set(id, (s = new SframeStream()))
  return s
}

async function seal(role: E2eeRole, stream: SframeStream | null, data: Uint8Array): Promise<Uint8Array | null> {
  if (!ring) {
    early++
    return null
  }
  const t0 = performance.now()
  try {
    if (role === 'encrypt') return await ring.encrypt(data)
    return await ring.decrypt(stream!, data)
  } catch (err) {
    // Only sealing can throw (an epoch retired mid-frame): that frame is not sent.
    void err
    ring.counters.dropped['no-key']++
    return null
  } finally {
    if (role === 'encrypt') encryptMs += performance.now() - t0
    else decryptMs += performance.now() - t0
  }
}

function pipe(id: number, role: E2eeRole, readable: ReadableStream<EncodedFrame>, writable: WritableStream<EncodedFrame>): void {
  const stream = role === 'decrypt' ? streamFor(id) : null
  running++
  const transform = new TransformStream<EncodedFrame, EncodedFrame>({
    async transform(frame, out) {
      if (role === 'decrypt') framesById.set(id, (framesById.get(id) ?? 0) + 1)
      const result = await seal(role, stream, new Uint8Array(frame.data))
      dirty = true
      if (!result) return
      frame.data = result.byteOffset === 0 && result.byteLength === result.buffer.byteLength ? (result.buffer as ArrayBuffer) : (result.slice().buffer as ArrayBuffer)
      out.enqueue(frame)
    },
  })
  readable
    .pipeThrough(transform)
    .pipeTo(writable)
    .catch(() => {
      // Usually the connection closing under the pipe; counted for the debug view.
      pipeErrors++
    })
    .finally(() => {
      running--
      if (role === 'decrypt') {
        streams.delete(id)
        framesById.delete(id)
      }
      dirty = true
    })
}

function onMessage(msg: ToWorker): void {
  switch (msg.t) {
    case 'init':
      // A rotation reaches the members moments apart: keep sealing under the epoch before for a while.
      ring ??= new SframeKeyring({ self: msg.self, ctrStart: counterStart(Date.now()), switchDelayMs: SEND_SWITCH_DELAY_MS })
      return
    case 'epoch':
      ring?.addEpoch(msg.epoch, msg.secret, msg.send === false ? { send: false } : {})
      return
    case 'send-with':
      ring?.sendWith(msg.epoch)
      return
    case 'retire':
      ring?.retireEpoch(msg.epoch)
      return
    case 'streams':
      return pipe(msg.id, msg.role, msg.readable as ReadableStream<EncodedFrame>, msg.writable as WritableStream<EncodedFrame>)
    case 'sender':
      streamFor(msg.id).sender = msg.sender
      return
  }
}

function report(): void {
  if (!dirty || !ring) return
  dirty = false
  scope.postMessage({
    t: 'stats',
    counters: ring.counters,
    senders: Object.fromEntries(ring.senders),
    early,
    pipeErrors,
    encryptMs,
    decryptMs,
    streams: running,
    frames: Object.fromEntries(framesById),
  })
}

scope.onmessage = (e) => onMessage(e.data)
scope.onrtctransform = (e) => {
  const { readable, writable, options } = e.transformer
  if (options && (options.role === 'encrypt' || options.role === 'decrypt')) pipe(options.id, options.role, readable, writable)
}
setInterval(report, STATS_MS)
