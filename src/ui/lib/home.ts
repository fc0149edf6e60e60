/**
 * The home screen's state and actions: profile, recent rooms, create and join.
 * Validation lives here as plain functions so the forms only render messages.
 */
import type { RecentRoom } from '../../app/types.ts'
import type { LinkCheck, Profile, UiDeps } from '../deps.ts'
import { Cell } from './cell.ts'
import { roomFragment } from './route.ts'

export const LIMITS = { title: 80, topic: 200, name: 40 } as const

export type Loaded<T> = { kind: 'loading' } | { kind: 'ready'; value: T } | { kind: 'failed'; message: string }

export type Result<T> = { ok: true; value: T } | { ok: false; message: string }

export function checkTitle(title: string): string | undefined {
  const t = title.trim()
  if (!t) return 'Give the room a title.'
  if (t.length > LIMITS.title) return `Keep the title under ${LIMITS.title} characters.`
  return undefined
}

export function checkName(name: string): string | undefined {
  if (name.trim().length > LIMITS.name) return `Keep your name under ${LIMITS.name} characters.`
  return undefined
}

/** From pasted text to the `#/r/...` fragment to navigate to, or a message saying what is wrong. */
export function joinTarget(text: string, parseLink: (link: string) => LinkCheck): Result<string> {
  const t = text.trim()
  if (!t) return { ok: false, message: 'Paste an invite link first.' }
  const fragment = roomFragment(t)
  if (!fragment) return { ok: false, message: 'That is not a Stoop room link. Room links contain “#/r/”.' }
  let check: LinkCheck
  try {
    check = parseLink(t)
  } catch (err) {
    check = { ok: false, message: err instanceof Error ? err.message : String(err) }
  }
  if (!check.ok) return { ok: false, message: check.message || 'This link is incomplete. Ask for it again and paste all of it.' }
  return { ok: true, value: fragment }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err))

export class HomeModel {
  readonly #deps: UiDeps
  readonly #recent = new Cell<Loaded<RecentRoom[]>>({ kind: 'loading' })
  readonly #profile = new Cell<Loaded<Profile>>({ kind: 'loading' })

  constructor(deps: UiDeps) {
    this.#deps = deps
  }

  get recent(): Loaded<RecentRoom[]> {
    return this.#recent.current
  }

  get profile(): Loaded<Profile> {
    return this.#profile.current
  }

  async load(): Promise<void> {
    await Promise.all([this.loadProfile(), this.loadRecent()])
  }

  async loadRecent(): Promise<void> {
    try {
      const rooms = await this.#deps.recentRooms()
      this.#recent.set({ kind: 'ready', value: [...rooms].sort((a, b) => b.lastSeen - a.lastSeen) })
    } catch (err) {
      this.#recent.set({ kind: 'failed', message: message(err) })
    }
  }

  async loadProfile(): Promise<void> {
    try {
      this.#profile.set({ kind: 'ready', value: await this.#deps.profile.get() })
    } catch (err) {
      this.#profile.set({ kind: 'failed', message: message(err) })
    }
  }

  async saveName(name: string): Promise<Result<Profile>> {
    const problem = checkName(name)
    if (problem) return { ok: false, message: problem }
    try {
      const value = await this.#deps.profile.set({ name: name.trim() })
      this.#profile.set({ kind: 'ready', value })
      return { ok: true, value }
    } catch (err) {
      return { ok: false, message: message(err) }
    }
  }

  /** Creates a room and returns the fragment to navigate to. */
  async create(title: string, topic: string): Promise<Result<string>> {
    const problem = checkTitle(title)
    if (problem) return { ok: false, message: problem }
    if (topic.trim().length > LIMITS.topic) return { ok: false, message: `Keep the topic under ${LIMITS.topic} characters.` }
    try {
      const { link } = await this.#deps.createRoom({ title: title.trim(), topic: topic.trim() })
      const fragment = roomFragment(link)
      if (!fragment) return { ok: false, message: 'The new room has no usable link.' }
      return { ok: true, value: fragment }
    } catch (err) {
      return { ok: false, message: `Could not create the room: ${message(err)}` }
    }
  }

  join(text: string): Result<string> {
    return joinTarget(text, (l) => this.#deps.parseLink(l))
  }

  async forget(roomId: string): Promise<void> {
    const before = this.#recent.peek()
    if (before.kind === 'ready') this.#recent.set({ kind: 'ready', value: before.value.filter((r) => r.roomId !== roomId) })
    try {
      await this.#deps.forgetRoom(roomId)
    } catch (err) {
      this.#recent.set(before)
      throw err
    }
  }
}
