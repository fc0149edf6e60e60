/**
 * Settings: display name, microphone, ICE servers and relays. Outside a room they go
 * to the profile; inside a room name and microphone also go to the session so
 * others see them now (ICE servers and relays apply from the next room opened).
 */
import type { RoomSession } from '../../app/types.ts'
import type { MicrophoneDevice, Profile, UiDeps } from '../deps.ts'
import { Cell } from './cell.ts'
import { checkName, type Loaded, type Result } from './home.ts'
import { parseIceServers } from '../../net/ice.ts'
// Pure rules shared with the session that uses the list (no app state is touched).
import { addRelay, parseRelayUrl } from '../../app/relay-urls.ts'

export interface SettingsData {
  profile: Profile
  microphones: MicrophoneDevice[]
  /** Why the list is empty or unlabeled (e.g. permission denied). */
  micNote?: string
}

export class SettingsModel {
  readonly #deps: Pick<UiDeps, 'profile' | 'microphones'>
  readonly #session: RoomSession | undefined
  readonly #data = new Cell<Loaded<SettingsData>>({ kind: 'loading' })

  constructor(deps: Pick<UiDeps, 'profile' | 'microphones'>, session?: RoomSession) {
    this.#deps = deps
    this.#session = session
  }

  get data(): Loaded<SettingsData> {
    return this.#data.current
  }

  async load(): Promise<void> {
    try {
      const profile = await this.#deps.profile.get()
      let microphones: MicrophoneDevice[] = []
      let micNote: string | undefined
      try {
        microphones = await this.#deps.microphones()
        if (microphones.length === 0) micNote = 'No microphone found.'
        else if (microphones.every((m) => !m.label)) micNote = 'Names appear once the page may use your microphone.'
      } catch (err) {
        micNote =
          (err as { name?: string }).name === 'NotAllowedError'
            ? 'Microphone access is blocked. Allow it in the site settings (lock icon next to the address bar).'
            : `Could not list microphones: ${err instanceof Error ? err.message : String(err)}`
      }
      this.#data.set({ kind: 'ready', value: { profile, microphones, micNote } })
    } catch (err) {
      this.#data.set({ kind: 'failed', message: err instanceof Error ? err.message : String(err) })
    }
  }

  /**
   * `ice`: the ICE servers text, one stun:/turn: URL per line (blank: the relay's own STUN);
   * `relays`: the relay list (see `relayListAdd`). Undefined leaves either as it is.
   */
  async save(name: string, microphoneId: string, ice?: string, relays?: readonly string[]): Promise<Result<Profile>> {
    const problem = checkName(name)
    if (problem) return { ok: false, message: problem }
    const iceServers = ice === undefined ? undefined : iceLines(ice)
    let relayList: string[] | undefined
    try {
      if (iceServers) parseIceServers(iceServers)
      relayList = relays?.map(parseRelayUrl)
    } catch (err) {
      return { ok: false, message: (err as Error).message }
    }
    const current = this.#data.peek()
    const before = current.kind === 'ready' ? current.value.profile : undefined
    try {
      const profile = await this.#deps.profile.set({
        name: name.trim(),
        microphoneId: microphoneId || undefined,
        ...(iceServers ? { iceServers } : {}),
        ...(relayList ? { relays: relayList } : {}),
      })
      if (this.#session) {
        if (before?.name !== profile.name) await this.#session.setName(profile.name)
        if (microphoneId && before?.microphoneId !== microphoneId) await this.#session.setMicrophone(microphoneId)
      }
      if (current.kind === 'ready') this.#data.set({ kind: 'ready', value: { ...current.value, profile } })
      return { ok: true, value: profile }
    } catch (err) {
      return { ok: false, message: err instanceof Error ? err.message : String(err) }
    }
  }
}

/** The settings' ICE servers text as entries: one per non-blank line. */
export function iceLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}

/** The relay list with `text` added (normalized to its `/relay` URL), or what is wrong with it. */
export function relayListAdd(list: readonly string[], text: string): Result<string[]> {
  try {
    return { ok: true, value: addRelay(list, text) }
  } catch (err) {
    return { ok: false, message: (err as Error).message }
  }
}

/** Label for a device that has none yet. */
export function micLabel(m: MicrophoneDevice, index: number): string {
  return m.label || (m.deviceId === 'default' ? 'Default microphone' : `Microphone ${index + 1}`)
}
