/**
 * A short-lived headless member for scripted room actions (`stoop mod`): it
 * joins like `stoop peer` with no audio (startHeadlessPeer: same transport,
 * validation, link redeem and ban handling), and also syncs the log with the
 * relay that served the link (RelaySync: sync only).
 *
 * `synced()` resolves once the state came from somewhere else than the link:
 * the relay's log or a member's, after PRESENCE_MS (members on the signalling
 * bus answer a newcomer's hello at once, so by then the mesh knows who is
 * present) and once every member the mesh connects to has synced, or GRACE_MS
 * after the first source did. It rejects when nothing answered within
 * `syncTimeoutMs`, and with the peer's own failure (wrong room key, banned...).
 *
 * `act(write)` refuses when neither a member nor the relay is connected (the
 * entry would die with this process), writes, then waits until the relay
 * socket has nothing unsent and SETTLE_MS more for data channels to members.
 */
import type { RoomClient } from '../participant/room-client.ts'
import { startHeadlessPeer, type HeadlessPeer, type HeadlessPeerOptions, type PeerEvent } from './headless-peer.ts'
import { PeerFailure } from './failure.ts'
import { RelaySync } from './relay-sync.ts'
import { relayUrlFor } from './transport.ts'
import { parseInvite, type Invite } from '../invite/index.ts'

const PRESENCE_MS = 2000
const GRACE_MS = 5000
const SETTLE_MS = 1000
const POLL_MS = 50

export type SessionOptions = Pick<HeadlessPeerOptions, 'link' | 'signal' | 'swarm' | 'keyFile' | 'identity' | 'loopbackOnly' | 'name'> & {
  /** The relay to sync the log with: default the link's host (`/relay`) unless on hyperswarm; false: none. */
  relay?: string | false
  /** Fail when neither a member nor the relay answered within this. Default 15 s. */
  syncTimeoutMs?: number
  /** Every event of the underlying peer (as `stoop peer --json` prints them). */
  onEvent?: (ev: PeerEvent) => void
}

export interface RoomSession {
  readonly invite: Invite
  readonly peer: HeadlessPeer
  readonly client: RoomClient
  readonly relay: RelaySync | null
  /** Members whose state this session synced (mesh peer ids). */
  readonly members: ReadonlySet<string>
  synced(): Promise<void>
  act<T>(write: () => Promise<T>): Promise<T>
  close(): Promise<void>
}

export async function openRoomSession(opts: SessionOptions): Promise<RoomSession> {
  const started = Date.now()
  const members = new Set<string>()
  const parsed = parseInvite(opts.link, started)
  if (!parsed.ok) throw new PeerFailure(parsed.code, parsed.message)
  const relayUrl = opts.relay === false ? null : (opts.relay ?? (opts.swarm ? null : relayUrlFor(parsed.invite)))
  const { relay: _relay, syncTimeoutMs = 15_000, onEvent, ...peerOpts } = opts
  const peer = await startHeadlessPeer({
    ...peerOpts,
    relay: false, // no media path: the log goes through RelaySync (one socket per key and room)
    onEvent: (ev) => {
      if (ev.event === 'peer-synced') members.add(String(ev.peer))
      onEvent?.(ev)
    },
  })
  const client = peer.client
  const relay = relayUrl ? new RelaySync({ url: relayUrl, roomId: parsed.invite.roomId, doc: client.doc, identity: client.actor.identity, keeper: client.epochs }) : null
  const sources = (): number => members.size + (relay?.synced ? 1 : 0)
  let firstAt: number | null = null
  const ready = (now: number): boolean => {
    if (sources() === 0) return false
    firstAt ??= now
    if (now - started < PRESENCE_MS) return false
    const pending = client.plan.connect.filter((id) => !members.has(id))
    return pending.length === 0 || now - firstAt >= GRACE_MS
  }
  return {
    invite: parsed.invite,
    peer,
    client,
    relay,
    members,
    synced: () =>
      until(peer, ready, (now) => {
        if (now - started < syncTimeoutMs || sources() > 0) return null
        const why = relay?.failure ? ` (relay: ${relay.failure.message})` : ''
        return new PeerFailure('no-members', `No member of this room and no relay answered within ${Math.round(syncTimeoutMs / 1000)} s${why}.`)
      }),
    async act(write) {
      const reached = client.mesh.connected.length
      if (reached === 0 && !relay?.open) throw new PeerFailure('no-members', 'No member of this room and no relay is connected: the change would reach nobody.')
      const result = await write()
      const settled = Date.now() + (reached > 0 ? SETTLE_MS : 0)
      await until(peer, (now) => now >= settled && (!relay?.open || relay.drained), () => null)
      return result
    },
    async close() {
      relay?.close()
      await peer.stop()
    },
  }
}

/** Polls `ok` until it holds; rejects with what `failure` returns, or with the peer's own failure. */
function until(peer: HeadlessPeer, ok: (now: number) => boolean, failure: (now: number) => PeerFailure | null): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false
    const finish = (err?: unknown): void => {
      if (done) return
      done = true
      clearInterval(timer)
      if (err === undefined) resolve()
      else reject(err)
    }
    const check = (): void => {
      const now = Date.now()
      if (ok(now)) return finish()
      const err = failure(now)
      if (err) finish(err)
    }
    const timer = setInterval(check, POLL_MS)
    peer.done.then(
      () => finish(new PeerFailure('stopped', 'The session stopped before it was done.')),
      (err: unknown) => finish(err),
    )
    check()
  })
}
