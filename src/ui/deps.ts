/**
 * What the UI needs from the rest of the app, and nothing more. `src/main.ts`
 * fills it from `src/app`; tests fill it with fakes. The UI never imports
 * `src/app` implementation code, only the contract types.
 */
import type { LinkCheck, RecentRoom, RoomSession } from '../app/types.ts'

/** A value that changes on its own, in the same shape as `RoomSession`. */
export interface Watchable<T> {
  get(): T
  /** Called after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void
}

export interface Profile {
  /** Participant id (base64url public key); the avatar colour derives from it. */
  id: string
  name: string
  /** Preferred microphone, if the user picked one. */
  microphoneId?: string
  /** ICE servers the user listed (stun:/turn: URLs); empty or absent: the relay's own STUN. */
  iceServers?: string[]
  /** Relays the user added (wss:// `/relay` URLs), used after the relay that served the page. */
  relays?: string[]
}

export interface ProfileStore {
  get(): Promise<Profile>
  set(patch: Partial<Omit<Profile, 'id'>>): Promise<Profile>
}

export interface MicrophoneDevice {
  deviceId: string
  /** Empty until the page has microphone permission. */
  label: string
}

/** Result of checking a pasted or opened invite link (no network). */
export type { LinkCheck }

export interface UiDeps {
  /** Creates a room owned by this device; resolves with its moderator-capable owner link. */
  createRoom(input: { title: string; topic: string }): Promise<{ link: string }>
  /**
   * Opens a room from an invite link (full URL or its `#/r/...` fragment).
   * Rejects with an Error whose `code` is a `RoomProblem['code']` when it cannot.
   */
  openRoom(link: string): Promise<RoomSession>
  /** Validates an invite link offline (parseInvite from src/invite). */
  parseLink(link: string): LinkCheck
  recentRooms(): Promise<RecentRoom[]>
  forgetRoom(roomId: string): Promise<void>
  profile: ProfileStore
  /** Audio input devices; rejects with a NotAllowedError when the mic is denied. */
  microphones(): Promise<MicrophoneDevice[]>
  /** Browser network status (navigator.onLine and its events). */
  online: Watchable<boolean>
}
