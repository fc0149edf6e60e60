/**
 * The contract between the UI and the composition root: what a screen can read
 * about a room and what it can ask for. The UI renders `RoomSnapshot`s and calls
 * `RoomSession` methods; it never touches the Y.Doc, peers or audio directly.
 */

import type { Role } from '../room/index.ts'

export type { Role }

/** Result of checking a pasted or opened invite link (no network). */
export type LinkCheck = { ok: true; roomId: string } | { ok: false; message: string }

export type Quality = 'good' | 'fair' | 'poor' | 'lost'

export interface PeerRow {
  id: string
  name: string
  /** 'mesh' when connected directly, 'relay' through a relay. */
  via: 'mesh' | 'relay'
  quality: Quality
  rttMs?: number
  lossPct?: number
  jitterMs?: number
  /** Audio frames attributed to this peer that did not decrypt (dropped, never played). */
  undecryptable?: number
}

/** End-to-end encryption of this session's audio (SFrame, see docs/architecture.md). */
export interface E2eeStatus {
  /** Audio sent and received is end-to-end encrypted. */
  on: boolean
  /** Audio frames that did not decrypt and were dropped, in total. */
  undecryptable: number
}

export interface Person {
  /** Participant id: the base64url public key. */
  id: string
  name: string
  /** Short human fingerprint of the key, shown in details. */
  fingerprint: string
  role: Role
  onStage: boolean
  muted: boolean
  /** Raise time when the hand is up. */
  handRaisedAt?: number
  /** Present right now (awareness), as opposed to known from the log. */
  present: boolean
  /** 0..1, from real audio level. */
  level: number
  /** A moderator muted this speaker (they stay muted until they unmute themselves after the hold). */
  mutedByModerator?: boolean
  /** A reaction shown on the tile now; `seq` changes with every new one (a repeat is new). */
  reaction?: { emoji: string; seq: number }
}

export interface StageInvite {
  id: string
  fromName: string
  /** The room is being recorded: the invitee is told before accepting (declining keeps them in the audience). */
  recording?: boolean
}

/** One chat message as this member reads it. Text is plain text, shown as such (never markup, links never fetched). */
export interface ChatLine {
  id: string
  authorId: string
  authorName: string
  at: number
  /** null when this device cannot open it (it holds no key of the epoch it was written in). */
  text: string | null
  mine: boolean
  /** This person may hide it for everyone (moderators; the owner's and other moderators' only by the owner). */
  canHide: boolean
}

/** A recording the room announces (signed entry): everyone sees it while it runs. */
export interface RecordingStatus {
  byName: string
  byId: string
  since: number
  /** This device is the one recording. */
  mine: boolean
}

/** A recording this device made and keeps (nothing is uploaded): audio and who spoke when. */
export interface SavedRecording {
  fileName: string
  /** Object URL of the audio (Opus in WebM or Ogg). */
  audioUrl: string
  /** Object URL of the JSON timeline of who spoke when. */
  timelineUrl: string
  durationMs: number
}

/** A moderator muted this person: who, and from when they may unmute themselves. */
export interface ForcedMute {
  byName: string
  unmuteAt: number
}

export type RoomMode = 'connecting' | 'reconnecting' | 'mesh' | 'relay' | 'offline'

export interface RoomProblem {
  code: 'bad-link' | 'wrong-secret' | 'room-ended' | 'banned' | 'kicked' | 'link-replaced' | 'room-full' | 'offline' | 'mic-denied' | 'unreachable'
  message: string
}

export interface RoomSnapshot {
  roomId: string
  title: string
  topic: string
  ended: boolean
  self: Person & { canModerate: boolean; isOwner: boolean; forcedMute?: ForcedMute }
  /** Stable stage order, the same on every replica. */
  stage: Person[]
  audience: Person[]
  /** Raised hands in raise order (moderators act on it). */
  hands: Person[]
  pendingInvite?: StageInvite
  mode: RoomMode
  /** Why the room is in this mode, e.g. why it is full. */
  modeReason?: string
  peers: PeerRow[]
  /** Whether audio is end-to-end encrypted (absent: not reported). */
  e2ee?: E2eeStatus
  /** Entries ignored by validation, by reason (debug view). */
  rejected: Record<string, number>
  /** Audio output waits for a user gesture (autoplay rules). */
  audioBlocked: boolean
  problem?: RoomProblem
  /** The room's chat in its order (the same for everyone). */
  chat: ChatLine[]
  /** A recording is running (persistent indicator for everyone). */
  recording?: RecordingStatus
  /** Recordings this device made in this room, newest last. */
  recordings: SavedRecording[]
  /** The person asked to leave from outside the page (lock screen, headset button): the screen leaves the room. */
  leaveRequested?: boolean
}

export type InviteRole = 'listener' | 'speaker' | 'moderator'

export interface RoomSession {
  readonly snapshot: RoomSnapshot
  /** Called after every snapshot change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void
  raiseHand(): Promise<void>
  lowerHand(): Promise<void>
  acceptInvite(): Promise<void>
  declineInvite(): Promise<void>
  leaveStage(): Promise<void>
  setMuted(muted: boolean): Promise<void>
  setName(name: string): Promise<void>
  inviteToStage(personId: string): Promise<void>
  moveToAudience(personId: string): Promise<void>
  setModerator(personId: string, on: boolean): Promise<void>
  ban(personId: string): Promise<void>
  endRoom(): Promise<void>
  inviteLink(role: InviteRole): Promise<string>
  /** Per-person playback volume, 0..1. */
  setVolume(personId: string, volume: number): void
  /** Starts audio output after a user gesture. */
  resumeAudio(): Promise<void>
  setMicrophone(deviceId: string): Promise<void>
  /** Sends a chat message (plain text, at most 500 characters). */
  sendChat(text: string): Promise<void>
  /** Hides a chat message for everyone (moderators). */
  hideChat(messageId: string): Promise<void>
  /** Mutes a speaker (moderators); they may unmute themselves after a short hold. */
  muteSpeaker(personId: string): Promise<void>
  /** Removes a person from the room for `forMs` without a ban (moderators). */
  kick(personId: string, forMs: number): Promise<void>
  /** Starts or stops recording the room on this device (moderators); everyone sees it. */
  setRecording(on: boolean): Promise<void>
  /** Hands the room to a moderator (owner); this device stays a moderator. */
  transferOwnership(personId: string): Promise<void>
  /** Sends a reaction (one of REACTIONS, src/participant/reactions.ts); too soon after the last, it is not sent. */
  react(emoji: string): Promise<void>
  leave(): Promise<void>
}

export interface RecentRoom {
  roomId: string
  title: string
  topic: string
  link: string
  lastSeen: number
  speakers: string[]
  ended: boolean
}
