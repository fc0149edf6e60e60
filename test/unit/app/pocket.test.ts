/** A phone in the pocket: lock-screen controls (Media Session) and the stage wake lock, on fakes of the browser APIs. */
import { describe, expect, it } from 'vitest'
import { RoomMediaSession } from '../../../src/app/media-session.ts'
import { StageWakeLock } from '../../../src/app/wake-lock.ts'

type Handler = (() => void) | null

function fakeMediaSession(known: string[] = ['togglemicrophone', 'hangup', 'stop']) {
  const handlers = new Map<string, Handler>()
  const mic: boolean[] = []
  const ms = {
    metadata: null as unknown,
    playbackState: 'none',
    setActionHandler(action: string, fn: Handler) {
      if (!known.includes(action)) throw new TypeError(`unknown action ${action}`)
      handlers.set(action, fn)
    },
    setMicrophoneActive: (on: boolean) => (mic.push(on), Promise.resolve()),
  }
  return { ms: ms as unknown as MediaSession, raw: ms, handlers, mic }
}

class FakeMetadata {
  constructor(readonly init: MediaMetadataInit) {}
}

describe('RoomMediaSession', () => {
  it('shows the room, toggles the microphone only on stage, and leaves', () => {
    const f = fakeMediaSession()
    const calls: string[] = []
    const s = new RoomMediaSession({ mediaSession: f.ms, Metadata: FakeMetadata as unknown as typeof MediaMetadata, setMuted: (m) => calls.push(`muted:${m}`), leave: () => calls.push('leave') })
    s.update({ title: 'Porch talk', onStage: false, muted: true })
    expect((f.raw.metadata as FakeMetadata).init).toMatchObject({ title: 'Porch talk', artist: 'Stoop' })
    expect(f.raw.playbackState).toBe('playing')
    f.handlers.get('togglemicrophone')!()
    expect(calls).toEqual([]) // a listener has no microphone to toggle
    s.update({ title: 'Porch talk', onStage: true, muted: true })
    f.handlers.get('togglemicrophone')!()
    s.update({ title: 'Porch talk', onStage: true, muted: false })
    f.handlers.get('togglemicrophone')!()
    f.handlers.get('hangup')!()
    f.handlers.get('stop')!()
    expect(calls).toEqual(['muted:false', 'muted:true', 'leave', 'leave'])
    expect(f.mic).toEqual([false, true])
    s.close()
    expect(f.raw.metadata).toBeNull()
    expect([...f.handlers.values()].every((h) => h === null)).toBe(true)
  })

  it('never throws where the API or an action is missing', () => {
    const none = new RoomMediaSession({ mediaSession: undefined, setMuted: () => {}, leave: () => {} })
    none.update({ title: 'x', onStage: true, muted: false })
    none.close()
    const f = fakeMediaSession(['stop'])
    const some = new RoomMediaSession({ mediaSession: f.ms, setMuted: () => {}, leave: () => {} })
    some.update({ title: 'x', onStage: true, muted: false })
    expect(some.unsupported).toEqual(['togglemicrophone: TypeError', 'hangup: TypeError'])
    expect(f.handlers.has('stop')).toBe(true)
    some.close()
  })
})

function fakeWakeLock(refuse = false) {
  let visible = 'visible' as DocumentVisibilityState
  const listeners = new Set<() => void>()
  const sentinels: Array<{ released: boolean; release(): Promise<void>; onrelease?: () => void; addEventListener(t: string, fn: () => void): void }> = []
  const wakeLock = {
    request: async () => {
      if (refuse) throw new DOMException('no', 'NotAllowedError')
      const s = {
        released: false,
        onrelease: undefined as (() => void) | undefined,
        async release() {
          s.released = true
          s.onrelease?.()
        },
        addEventListener: (_t: string, fn: () => void) => (s.onrelease = fn),
      }
      sentinels.push(s)
      return s
    },
  }
  const doc = {
    get visibilityState() {
      return visible
    },
    addEventListener: (_t: string, fn: () => void) => listeners.add(fn),
    removeEventListener: (_t: string, fn: () => void) => listeners.delete(fn),
  }
  return {
    env: { wakeLock: wakeLock as unknown as WakeLock, document: doc as unknown as Document },
    sentinels,
    listeners,
    /** The browser hides the page (and drops the lock), or shows it again. */
    setVisible(v: boolean) {
      visible = v ? 'visible' : 'hidden'
      if (!v) for (const s of sentinels) if (!s.released) void s.release()
      for (const l of [...listeners]) l()
    },
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0))

describe('StageWakeLock', () => {
  it('holds the screen on stage, takes it again after the page was hidden, and lets go off stage', async () => {
    const f = fakeWakeLock()
    const lock = new StageWakeLock(f.env)
    lock.set(true)
    await tick()
    expect(lock.held).toBe(true)
    f.setVisible(false)
    expect(lock.held).toBe(false)
    f.setVisible(true)
    await tick()
    expect(lock.held).toBe(true)
    expect(f.sentinels).toHaveLength(2)
    lock.set(false)
    expect(lock.held).toBe(false)
    expect(f.sentinels.every((s) => s.released)).toBe(true)
    lock.close()
    expect(f.listeners.size).toBe(0)
  })

  it('counts a refusal and does nothing without the API', async () => {
    const f = fakeWakeLock(true)
    const lock = new StageWakeLock(f.env)
    lock.set(true)
    await tick()
    expect(lock.held).toBe(false)
    expect(lock.failures).toBe(1)
    const none = new StageWakeLock({ wakeLock: undefined, document: f.env.document })
    none.set(true)
    expect(none.held).toBe(false)
    none.close()
  })
})
