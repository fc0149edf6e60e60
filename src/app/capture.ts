/**
 * Microphone capture for one room session: opened only while this person is
 * (or is about to be) a speaker, closed as soon as they are not, so the
 * browser's recording indicator means "others can hear you".
 *
 * Mute keeps the track (no new permission prompt on unmute) and disables it:
 * a disabled audio track sends silence. The speaking level is measured on the
 * captured audio with an AnalyserNode in the playback context.
 *
 * Errors: `start()` rejects with the browser's error (NotAllowedError when the
 * microphone is denied); a start superseded by `stop()` resolves to null and
 * releases what it opened.
 */
import { analyserRms, levelFromRms } from './playback.ts'

export interface LocalAudio {
  track: MediaStreamTrack
  stream: MediaStream
}

export const VOICE_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true } as const

export class Capture {
  readonly #media: MediaDevices
  readonly #ctx: AudioContext
  #local: LocalAudio | null = null
  #meter: { node: MediaStreamAudioSourceNode; analyser: AnalyserNode } | null = null
  #pending: Promise<LocalAudio | null> | null = null
  #generation = 0
  #enabled = true
  readonly #buf = new Float32Array(1024)

  constructor(media: MediaDevices, ctx: AudioContext) {
    this.#media = media
    this.#ctx = ctx
  }

  get local(): LocalAudio | null {
    return this.#local
  }

  get starting(): boolean {
    return this.#pending !== null
  }

  /** Opens the microphone (or returns the open one). */
  start(deviceId?: string): Promise<LocalAudio | null> {
    if (this.#local) return Promise.resolve(this.#local)
    if (this.#pending) return this.#pending
    const generation = ++this.#generation
    const pending = this.#open(deviceId).then(
      (stream) => {
        if (this.#pending === pending) this.#pending = null
        if (generation !== this.#generation) {
          for (const t of stream.getTracks()) t.stop()
          return null
        }
        const track = stream.getAudioTracks()[0]
        if (!track) throw Object.assign(new Error('The microphone gave no audio track.'), { name: 'NotFoundError' })
        track.enabled = this.#enabled
        this.#local = { track, stream }
        const node = this.#ctx.createMediaStreamSource(stream)
        const analyser = this.#ctx.createAnalyser()
        analyser.fftSize = 1024
        node.connect(analyser)
        this.#meter = { node, analyser }
        return this.#local
      },
      (err: unknown) => {
        if (this.#pending === pending) this.#pending = null
        throw err
      },
    )
    this.#pending = pending
    return pending
  }

  /** Closes the microphone (idempotent); a pending start resolves to null. */
  stop(): void {
    this.#generation++
    this.#pending = null
    this.#meter?.node.disconnect()
    this.#meter = null
    for (const t of this.#local?.stream.getTracks() ?? []) t.stop()
    this.#local = null
  }

  /** Enabled = not muted. Applies to the current and any later track. */
  setEnabled(on: boolean): void {
    this.#enabled = on
    if (this.#local) this.#local.track.enabled = on
  }

  /** 0..1 speaking level of the captured audio (0 when muted or closed). */
  level(): number {
    if (!this.#meter || !this.#enabled) return 0
    return levelFromRms(analyserRms(this.#meter.analyser, this.#buf))
  }

  async #open(deviceId?: string): Promise<MediaStream> {
    if (!this.#media?.getUserMedia) throw Object.assign(new Error('This browser cannot record audio here (it needs https).'), { name: 'NotSupportedError' })
    if (deviceId) {
      try {
        return await this.#media.getUserMedia({ audio: { ...VOICE_CONSTRAINTS, deviceId: { exact: deviceId } } })
      } catch (err) {
        // The chosen device is gone: fall back to the default one; a denial stays a denial.
        if ((err as { name?: string }).name === 'NotAllowedError') throw err
      }
    }
    return this.#media.getUserMedia({ audio: { ...VOICE_CONSTRAINTS } })
  }
}
