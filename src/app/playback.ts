/**
 * Playback: one WebAudio graph for everything this page plays.
 *
 *   remote track -> MediaStreamAudioSourceNode -> GainNode (volume, or 0) -> master -> output
 *                                              \-> AnalyserNode (speaking level)
 *   master -> AnalyserNode (what is actually played; `heard(freq)` for tests and the debug view)
 *   output: master -> MediaStreamAudioDestinationNode -> one unmuted <audio> element
 *           (or the context's destination where there is no MediaStream destination)
 *
 * Why the mix leaves through a media element rather than the context's destination: a phone
 * treats a playing media element as media (audio focus, the lock-screen / notification
 * controls of the Media Session, no throttling of an audible tab with the screen off on
 * Android), while WebAudio output alone is not, and iOS silences WebAudio with the ringer
 * switch but not media elements. The mix stays in WebAudio because the may-play gate,
 * per-person volume and metering live there. (iOS still suspends both when the screen
 * locks; coming back, `resume()` is tried on visibilitychange and otherwise the UI asks
 * for a tap.)
 *
 * Invariants:
 * - A track is audible only while `allowed(id)` says so (the validated room
 *   state: speakers only); otherwise its gain is 0 whatever the remote sends.
 *   Call `refresh()` when that answer may have changed.
 * - Chromium only feeds WebRTC audio into WebAudio while the remote stream is
 *   also attached to a media element, so each track gets a muted <audio>.
 * - `blocked` is true while the AudioContext is not running or the output element is
 *   paused (autoplay rules); `resume()` must be called from a user gesture.
 * - `close()` is idempotent and releases every node, element and the context.
 */
import type { Via } from '../participant/room-client.ts'

export interface PlaybackOptions {
  /** Whether audio from this participant, arriving over this path, may be played now. */
  allowed: (id: string, via: Via) => boolean
  /** Called when `blocked` changes. */
  onchange: () => void
  AudioContext?: typeof AudioContext
  document?: Document
  /** Where the mix plays (see above); default 'element' where the context can make a MediaStream. */
  output?: 'element' | 'context'
}

interface Source {
  from: string
  via: Via
  el: HTMLAudioElement
  node: MediaStreamAudioSourceNode
  gain: GainNode
  meter: AnalyserNode
}

const METER_FFT = 1024
const OUT_FFT = 8192

/** Maps an RMS amplitude (0..1 of full scale) to a 0..1 level on a 55 dB scale. */
export function levelFromRms(rms: number): number {
  if (rms <= 0) return 0
  const db = 20 * Math.log10(rms)
  return Math.min(1, Math.max(0, (db + 55) / 45))
}

/** RMS of an analyser's current time-domain window. */
export function analyserRms(node: AnalyserNode, buf: Float32Array<ArrayBuffer>): number {
  node.getFloatTimeDomainData(buf)
  let acc = 0
  for (let i = 0; i < buf.length; i++) acc += buf[i]! * buf[i]!
  return Math.sqrt(acc / buf.length)
}

export class Playback {
  readonly ctx: AudioContext
  readonly #master: GainNode
  readonly #out: AnalyserNode
  readonly #sources = new Map<MediaStreamTrack, Source>()
  readonly #volumes = new Map<string, number>()
  readonly #opts: PlaybackOptions
  readonly #doc: Document
  readonly #meterBuf = new Float32Array(METER_FFT)
  readonly #spectrum = new Float32Array(OUT_FFT / 2)
  /** Media-element play() and context close failures, counted rather than thrown. */
  readonly failures = { play: 0, close: 0, resume: 0 }
  /** The element the mix plays through (null: the context's destination). */
  readonly #outEl: HTMLAudioElement | null = null
  readonly #onVisible = (): void => this.#wake()
  #closed = false

  constructor(opts: PlaybackOptions) {
    this.#opts = opts
    this.#doc = opts.document ?? document
    const Ctx = opts.AudioContext ?? globalThis.AudioContext
    this.ctx = new Ctx({ latencyHint: 'interactive' })
    this.#master = this.ctx.createGain()
    this.#out = this.ctx.createAnalyser()
    this.#out.fftSize = OUT_FFT
    this.#out.smoothingTimeConstant = 0.5
    this.#master.connect(this.#out)
    if (opts.output !== 'context' && typeof this.ctx.createMediaStreamDestination === 'function') {
      const dest = this.ctx.createMediaStreamDestination()
      this.#master.connect(dest)
      const el = this.#doc.createElement('audio')
      el.autoplay = true
      el.setAttribute('playsinline', '')
      el.srcObject = dest.stream
      el.onplaying = el.onpause = () => opts.onchange()
      this.#outEl = el
      this.#play(el)
    } else {
      this.#master.connect(this.ctx.destination)
    }
    this.ctx.onstatechange = () => opts.onchange()
    this.#doc.addEventListener?.('visibilitychange', this.#onVisible)
  }

  /** The mix as played (after the may-play gate and volumes): what a recording of this page takes. */
  get mix(): AudioNode {
    return this.#master
  }

  get blocked(): boolean {
    return this.ctx.state !== 'running' || (this.#outEl?.paused ?? false)
  }

  async resume(): Promise<void> {
    if (this.#closed) return
    await this.ctx.resume()
    if (this.#outEl?.paused) this.#play(this.#outEl)
    for (const s of this.#sources.values()) if (s.el.paused) this.#play(s.el)
  }

  add(from: string, track: MediaStreamTrack, via: Via): void {
    if (this.#closed || this.#sources.has(track)) return
    const stream = new MediaStream([track])
    const el = this.#doc.createElement('audio')
    el.muted = true
    el.autoplay = true
    el.srcObject = stream
    this.#play(el)
    const node = this.ctx.createMediaStreamSource(stream)
    const gain = this.ctx.createGain()
    gain.gain.value = this.#gainFor(from, via)
    const meter = this.ctx.createAnalyser()
    meter.fftSize = METER_FFT
    node.connect(gain)
    gain.connect(this.#master)
    node.connect(meter)
    this.#sources.set(track, { from, via, el, node, gain, meter })
  }

  remove(track: MediaStreamTrack): void {
    const s = this.#sources.get(track)
    if (!s) return
    this.#sources.delete(track)
    s.node.disconnect()
    s.gain.disconnect()
    s.el.srcObject = null
  }

  setVolume(id: string, volume: number): void {
    this.#volumes.set(id, Math.min(1, Math.max(0, volume)))
    this.refresh()
  }

  /** Re-applies volumes and the may-play gate to every source. */
  refresh(): void {
    const t = this.ctx.currentTime
    for (const s of this.#sources.values()) s.gain.gain.setTargetAtTime(this.#gainFor(s.from, s.via), t, 0.02)
  }

  /** Speaking level (0..1) per participant whose audio may be played now. */
  levels(): Map<string, number> {
    const out = new Map<string, number>()
    for (const s of this.#sources.values()) {
      if (!this.#opts.allowed(s.from, s.via)) continue
      const level = levelFromRms(analyserRms(s.meter, this.#meterBuf))
      out.set(s.from, Math.max(out.get(s.from) ?? 0, level))
    }
    return out
  }

  /**
   * Share of the played output's power within ±`halfWidthHz` of `freq`
   * (0..1; 0 when nothing audible plays). Measured on the mixed output, after
   * gains: what a person in the room would hear.
   */
  heard(freq: number, halfWidthHz = 25): number {
    const spec = this.#spectrum
    this.#out.getFloatFrequencyData(spec)
    const binHz = this.ctx.sampleRate / OUT_FFT
    let total = 0
    let band = 0
    for (let i = 1; i < spec.length; i++) {
      const db = spec[i]!
      if (!Number.isFinite(db)) continue
      const p = 10 ** (db / 10)
      total += p
      if (Math.abs(i * binHz - freq) <= halfWidthHz) band += p
    }
    // Below about -80 dBFS overall there is nothing to hear.
    return total < 1e-8 ? 0 : band / total
  }

  /** What is wired now, for the debug hook: one row per remote track. */
  describe(): Array<{ from: string; via: Via; allowed: boolean; gain: number; track: string; muted: boolean; level: number }> {
    return [...this.#sources].map(([track, s]) => ({
      from: s.from,
      via: s.via,
      allowed: this.#opts.allowed(s.from, s.via),
      gain: s.gain.gain.value,
      track: track.readyState,
      muted: track.muted,
      level: levelFromRms(analyserRms(s.meter, this.#meterBuf)),
    }))
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const track of [...this.#sources.keys()]) this.remove(track)
    this.ctx.onstatechange = null
    this.#doc.removeEventListener?.('visibilitychange', this.#onVisible)
    if (this.#outEl) {
      this.#outEl.onplaying = this.#outEl.onpause = null
      this.#outEl.pause()
      this.#outEl.srcObject = null
    }
    this.ctx.close().catch(() => this.failures.close++)
  }

  /**
   * Back from the background: a platform that suspended the context (iOS) may let it run
   * again without a tap; if not, `blocked` stays true and the UI asks for one.
   */
  #wake(): void {
    if (this.#closed || this.#doc.visibilityState !== 'visible') return
    if (this.ctx.state !== 'running') this.ctx.resume().catch(() => this.failures.resume++)
    if (this.#outEl?.paused) this.#play(this.#outEl)
  }

  #gainFor(id: string, via: Via): number {
    return this.#opts.allowed(id, via) ? (this.#volumes.get(id) ?? 1) : 0
  }

  #play(el: HTMLAudioElement): void {
    el.play().catch(() => this.failures.play++)
  }
}
