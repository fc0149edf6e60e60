/**
 * The set-up every lab scenario shares, so a test file reads as its scenario: a describe
 * that skips (saying why) where labs cannot be built, and a scene registered in it that builds
 * the lab (lab.ts), starts the relay in the public namespace and gives each test a temporary
 * folder, fresh rooms on that relay and headless peers (procs.ts). Peers a test leaves running
 * are stopped after it; the relay, the lab and the folder go after the last test.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe } from 'vitest'
import { generateIdentity } from '../../../src/identity/index.ts'
import { createRoomLinks, type RoomLinks } from '../../../src/cli/room-create.ts'
import { ADDR, createLab, labUnavailable, type Lab, type NatKind, type NsName } from './lab.ts'
import { relayReady, startLabAppRelay, startLabPeer, startLabRelay, type Event, type LabPeerOptions, type LabProc } from './procs.ts'

/** Why labs cannot be built here, or null (probed once, when a scenario file loads). */
export const labSkip = await labUnavailable()

/** `describe`, skipped with the reason in its title where `skip` (default: `labSkip`) says so. */
export function describeLab(title: string, body: () => void, skip: string | null = labSkip): void {
  describe.skipIf(skip !== null)(`${title}${skip ? ` (skipped: ${skip})` : ''}`, body)
}

export interface SceneOptions {
  nat: { A: NatKind; B: NatKind }
  /** Prefix of the temporary folder's name. */
  tmp: string
  /** More network, before the relay starts (e.g. uplink.ts's second link). */
  prepare?: (lab: Lab) => Promise<void>
  /** Builds the app into the scene's folder and returns the built folder: the relay then serves it (startLabAppRelay). */
  app?: (dir: string) => Promise<string>
}

export interface Scene {
  readonly lab: Lab
  readonly relay: LabProc
  /** The relay's HTTP origin, the origin of every room link made here. */
  readonly origin: string
  /** A path in the scene's temporary folder. */
  file(name: string): string
  /** A new room, owned by a fresh identity, with links on the lab relay. */
  room(title: string): Promise<RoomLinks>
  /** A headless peer in `where` (startLabPeer), stopped after the test unless stopped before. */
  peer(where: NsName, opts: LabPeerOptions): LabProc
  /** Stops (SIGTERM) every peer still running: recordings are closed when this resolves. */
  stopPeers(): Promise<void>
}

/** Registers the scene's hooks in the enclosing describe; its fields are there from beforeAll on. */
export function useScene(opts: SceneOptions): Scene {
  let lab: Lab | undefined
  let relay: LabProc | undefined
  let dir = ''
  const peers: LabProc[] = []
  const stopPeers = async (): Promise<void> => {
    await Promise.all(peers.splice(0).map((p) => p.stop()))
  }
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), opts.tmp))
    const dist = opts.app ? await opts.app(dir) : undefined
    lab = await createLab(opts.nat)
    await opts.prepare?.(lab)
    const started = (relay = dist ? startLabAppRelay(lab, dist) : startLabRelay(lab))
    // A relay that dies at start says why at once, not after the readiness timeout.
    const died = new Promise<never>((_, fail) => started.child.once('close', (code) => fail(new Error(`the lab relay exited (${code}) before answering: ${started.stderr().slice(-1500)}`))))
    // Generous: a loaded 2-core machine has taken over 20 s to start it (tsx compiles the relay first).
    await Promise.race([relayReady(lab, 8787, 60_000), died])
  }, opts.app ? 300_000 : 120_000)
  afterEach(stopPeers)
  afterAll(async () => {
    await stopPeers()
    await relay?.stop()
    await lab?.destroy()
    if (dir) await rm(dir, { recursive: true, force: true })
  })
  const origin = `http://${ADDR.relay}:8787`
  return {
    get lab() {
      return lab!
    },
    get relay() {
      return relay!
    },
    origin,
    file: (name) => join(dir, name),
    room: async (title) => createRoomLinks(await generateIdentity(), { title, topic: '', origin }),
    peer(where, peerOpts) {
      const peer = startLabPeer(lab!, where, peerOpts)
      peers.push(peer)
      return peer
    },
    stopPeers,
  }
}

/** An `audio-level` event (one a second) in which `from` (any source if omitted) was louder than -30 dBFS, after `since`. */
export function loudFrom(from?: string, since = 0): (ev: Event) => boolean {
  return (ev) => {
    if (ev.event !== 'audio-level' || ev.t! <= since) return false
    const dbfs = (ev.dbfs as Record<string, number> | undefined) ?? {}
    return from === undefined ? Object.values(dbfs).some((db) => db > -30) : (dbfs[from] ?? -Infinity) > -30
  }
}
