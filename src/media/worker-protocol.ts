/**
 * Messages between a page and its SFrame worker (sframe-worker.ts). The page sends epoch
 * secrets and encoded-frame streams; keys are derived, held and used in the worker only. The
 * worker answers with counters.
 */
import type { SenderCounts, SframeCounters } from './sframe.ts'

export type E2eeRole = 'encrypt' | 'decrypt'

/** `RTCRtpScriptTransform` options: which stream and which way. */
export interface TransformOptions {
  id: number
  role: E2eeRole
}

export type ToWorker =
  /** First message: this participant's public key (it seals under its own key). */
  | { t: 'init'; self: Uint8Array }
  | { t: 'epoch'; epoch: number; secret: Uint8Array; send?: boolean }
  | { t: 'send-with'; epoch: number }
  | { t: 'retire'; epoch: number }
  /** Chromium's `createEncodedStreams()` pair, transferred. */
  | { t: 'streams'; id: number; role: E2eeRole; readable: ReadableStream; writable: WritableStream }
  /** Who a receiving stream's frames are from (null: unknown, frames are dropped). */
  | { t: 'sender'; id: number; sender: string | null }

export interface WorkerStats {
  t: 'stats'
  counters: SframeCounters
  /** By the participant a receiving stream is attributed to. */
  senders: Record<string, SenderCounts>
  /** Frames that arrived before the worker had its keyring (dropped). */
  early: number
  /** Frame pipelines that ended in an error (mostly a connection closing under them). */
  pipeErrors: number
  /** Time spent sealing and opening, in total (for the per-frame cost). */
  encryptMs: number
  decryptMs: number
  /** Streams running now. */
  streams: number
  /** Frames seen so far per receiving transform id (e2ee-watch.ts tells a bypassed receiver by them). */
  frames: Record<number, number>
}

export type FromWorker = WorkerStats
