/**
 * What a headless speaker says: a sine, a WAV file (looped), or frames from a
 * callback (benches, tests). The source runs from the start; the room client
 * sends it only while this participant holds a stage seat.
 */
import { readFile } from 'node:fs/promises'
import { decodeWav, type PcmAudio } from '../audio/wav.ts'
import { createFrameSource, createPcmSource, createToneSource, type AudioSourceHandle, type AudioWrtc } from '../node/audio-io.ts'
import { PeerFailure } from './failure.ts'

/**
 * A sine, a WAV file, or (benches, tests) frames from a callback, called once per 10 ms frame
 * right before the frame is handed to WebRTC (480 mono samples at 48 kHz; null ends the source).
 */
export type SpeakSource = { kind: 'tone'; freq: number } | { kind: 'file'; path: string } | { kind: 'frames'; next: () => Int16Array | null }

/** A source with its file (if any) read and decoded. */
export type Speech = Exclude<SpeakSource, { kind: 'file' }> | { kind: 'file'; audio: PcmAudio }

/** Reads and decodes a WAV source up front, so a bad file fails before joining. */
export async function loadSpeech(speak: SpeakSource): Promise<Speech> {
  if (speak.kind !== 'file') return speak
  const bytes = await readFile(speak.path).catch((err: Error) => {
    throw new PeerFailure('bad-audio-file', `Cannot read ${speak.path}: ${err.message}`)
  })
  try {
    return { kind: 'file', audio: decodeWav(bytes) }
  } catch (err) {
    throw new PeerFailure('bad-audio-file', `${speak.path} is not a usable WAV file: ${(err as Error).message}`)
  }
}

export function startSpeech(wrtc: AudioWrtc, speech: Speech): AudioSourceHandle {
  switch (speech.kind) {
    case 'tone':
      return createToneSource(wrtc, { freq: speech.freq })
    case 'frames':
      return createFrameSource(wrtc, speech.next)
    case 'file':
      return createPcmSource(wrtc, speech.audio, { loop: true })
  }
}
