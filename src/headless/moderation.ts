/**
 * What a headless participant does about chat and moderation (docs/room-rules.md
 * §10), and the `--json` events it reports:
 *
 * - `chat {id, author, name, text, at}` once per message the room shows, as soon
 *   as it can be read (the backlog too, when joining); `--say` sends one after
 *   joining.
 * - `muted {by}` when a moderator mutes this peer: it stops sending audio (its
 *   own client obeys; peers and relays also drop it); `unmuted {}` when the mute
 *   no longer holds (this peer does not unmute itself: it has no one to ask).
 * - `kicked {by, until}` when a moderator removes this peer for a while: then
 *   `fail` with PeerFailure 'kicked' (exit 5, one line). A peer that comes back
 *   during its kick syncs no state that says so (the relay refuses it before it
 *   sends anything of the room, members do not connect to it): the relay's
 *   refusal names the kick's end (`kickedUntilOf`), and that ends it the same
 *   way, with `by: null`. Only the relay's word: a relay can refuse us anyway,
 *   and members refuse the key until then too.
 * - `recording {on, by, since}` whenever the room's recording changes (and at
 *   first when one is on).
 * - `--record` with `announced` (what the CLI does): the WAV file gets audio only
 *   while the room shows a recording; a moderator's peer announces one itself
 *   once joined and stops it when it stops, anyone else waits for one.
 *
 * The state changes with the clock alone when a kick ends or an unmute's date
 * comes (`recheckAt`): a timer recomputes it then.
 */
import { errorCode } from '../base/errors.ts'
import type { RoomClient } from '../participant/room-client.ts'
import { revealChat, type RoomState } from '../room/index.ts'
import type { WavFileWriter } from '../node/audio-io.ts'
import { PeerFailure } from './failure.ts'
import type { Emit } from './stage.ts'

/** The one line `stoop peer` ends with when a moderator kicked it. */
export const kickedMessage = (until: number): string => `a moderator removed you from this room until ${new Date(until).toISOString()}`

/** How long a recorder waits for its "recording off" to leave before it stops. */
const FLUSH_MS = 500

type Local = Parameters<RoomClient['setLocalAudio']>[0]

export interface ModerationOptions {
  /** This peer's audio source (null: it says nothing). */
  local: Local
  /** `announced`: record only while the room shows a recording, announcing one as a moderator. */
  record: 'off' | 'always' | 'announced'
  emit: Emit
  fail: (err: PeerFailure) => void
}

export interface Moderation {
  /** After joining: send `say`, and (announced recording, moderator) announce the recording. */
  joined(say: string | undefined): Promise<void>
  /** Whether heard audio goes to the recording now. */
  recording(): boolean
  /** Before leaving: stops the recording this peer announced. */
  stop(): Promise<void>
  /** The relay refused this key as kicked until `until` (ms). */
  refusedAsKicked(until: number): void
}

export function followModeration(client: RoomClient, opts: ModerationOptions): Moderation {
  const { emit } = opts
  const shown = new Set<string>()
  let mutedBy: string | null = null
  let recordingId: string | null = null
  let announced: string | null = null
  let kicked = false
  let recheck: ReturnType<typeof setTimeout> | null = null
  const end = (by: string | null, until: number): void => {
    if (kicked) return
    kicked = true
    emit('kicked', { by, until })
    opts.fail(new PeerFailure('kicked', kickedMessage(until)))
  }
  const check = (state: RoomState): void => {
    if (!state.exists) return
    reportChat(client, state, shown, emit)
    const mute = state.muted.get(client.selfId)
    if (mute && mutedBy === null) {
      mutedBy = mute.by
      client.setLocalAudio(null)
      emit('muted', { by: mute.by })
    } else if (!mute && mutedBy !== null) {
      mutedBy = null
      if (opts.local) client.setLocalAudio(opts.local)
      emit('unmuted')
    }
    const rec = state.recording
    if ((rec?.id ?? null) !== recordingId) {
      if (rec || recordingId !== null) emit('recording', { on: rec !== null, by: rec?.by ?? null, since: rec?.since ?? null })
      recordingId = rec?.id ?? null
    }
    const kick = state.kicked.get(client.selfId)
    if (kick) end(kick.by, kick.until)
    if (recheck) clearTimeout(recheck)
    recheck = state.recheckAt === null ? null : setTimeout(() => client.replica.recompute(), Math.max(0, state.recheckAt - Date.now()) + 20)
    recheck?.unref()
  }
  const offs = [client.on('state', check), client.epochs.on('epoch', () => check(client.state))]
  check(client.state)
  const warn = (code: string) => (err: unknown) => emit('warning', { code, message: (err as Error).message })
  return {
    async joined(say) {
      if (say !== undefined) await client.actor.sendChat(say).catch(warn('say-failed'))
      const role = client.actor.role
      if (opts.record === 'announced' && (role === 'owner' || role === 'moderator')) {
        announced = await client.actor.startRecording().catch((err: unknown) => {
          warn('record-failed')(err)
          return null
        })
      }
    },
    refusedAsKicked: (until) => {
      if (until > Date.now()) end(null, until)
    },
    recording: () => opts.record === 'always' || (opts.record === 'announced' && client.replica.state.recording !== null),
    async stop() {
      for (const off of offs) off()
      if (recheck) clearTimeout(recheck)
      if (announced === null || client.replica.state.recording?.id !== announced) return
      announced = null
      try {
        await client.actor.stopRecording()
        // Entries leave over the data channels and the relay socket: give them a moment.
        await new Promise((done) => setTimeout(done, FLUSH_MS))
      } catch (err) {
        if (errorCode(err) === undefined) throw err
        warn('record-failed')(err)
      }
    },
  }
}

/** `chat` events for messages not reported yet that this peer can read now. */
function reportChat(client: RoomClient, state: RoomState, shown: Set<string>, emit: Emit): void {
  const fresh = state.chat.filter((m) => !shown.has(m.id))
  if (fresh.length === 0) return
  for (const line of revealChat({ roomId: state.roomId, chat: fresh }, (n) => client.epochs.secretOf(n))) {
    if (line.text === null) continue
    shown.add(line.id)
    emit('chat', { id: line.id, author: line.author, name: state.profiles.get(line.author)?.name ?? '', text: line.text, at: line.at })
  }
}

/**
 * When the relay refused this key because a moderator kicked it (relay/rooms/room.ts `admit`
 * says `a moderator removed this key from the room until <ISO time>`, reason `banned`): the
 * kick's end in ms; null for any other refusal.
 */
export function kickedUntilOf(err: { reason?: string | undefined; message: string }): number | null {
  if (err.reason !== 'banned') return null
  const m = /removed this key from the room until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$/.exec(err.message)
  const until = m ? Date.parse(m[1]!) : NaN
  return Number.isFinite(until) ? until : null
}

/** A recorder that writes only while `open()` says so (what `--record` may keep, §10). */
export function gatedWriter(writer: WavFileWriter, open: () => boolean): WavFileWriter {
  return {
    write: (samples) => {
      if (open()) writer.write(samples)
    },
    close: () => writer.close(),
    get dataBytes() {
      return writer.dataBytes
    },
  }
}
