/**
 * Moves a participant's signalling with the room's epochs (docs/room-rules.md §8):
 * when its EpochKeeper adopts a new secret, signalling continues on that
 * epoch's topic under that epoch's sealing key (a new bus from `open`), and
 * the old topic is left. Peer connections already up are kept (SwitchBus).
 *
 * The epoch handoff over signalling (epoch-responder.ts): after moving to a
 * newer epoch the old topic is not left at once but kept, for up to
 * `respondMs` after the rotation, to answer members who come back with an
 * old link; and handoffs arriving on our own bus go to the keeper, which opens
 * our box in them or says the link was replaced.
 */
import { realTimers, type Timers } from '../base/timers.ts'
import { bytesEqual } from '../identity/index.ts'
import { deriveDiscoveryKey, epochHandoff } from '../room/index.ts'
import type { SignalBus } from '../net/bus.ts'
import { deriveSignalKey } from '../net/room-crypto.ts'
import type { SwitchBus } from '../net/switch-bus.ts'
import type { CurrentEpoch, EpochKeeper } from './epoch-keeper.ts'
import { EpochResponder, HANDOFF_RESPOND_MS, receiveHandoffs } from './epoch-responder.ts'

/** Opens a bus on `topic` sealed with `key`. */
export type OpenBus = (topic: Uint8Array, key: CryptoKey) => SignalBus

export interface FollowOptions {
  /** How long after a rotation the old topic is answered on (default HANDOFF_RESPOND_MS; 0: left at once). */
  respondMs?: number
  timers?: Timers
  now?: () => number
}

/** Keeps `bus` on the current epoch's topic; returns the unsubscribe function. */
export function followEpochs(keeper: EpochKeeper, bus: SwitchBus, roomId: string, open: OpenBus, onError: (err: Error) => void, opts: FollowOptions = {}): () => void {
  let secret = keeper.current.secret
  let topic = keeper.current.topic
  let n = keeper.current.n
  let queue = Promise.resolve()
  const responders = new Set<EpochResponder>()
  const now = opts.now ?? Date.now

  /** Answers old links on the bus we leave, for what is left of `respondMs` after `e`'s rotation. */
  const respond = (old: SignalBus, e: CurrentEpoch): (() => void) | null => {
    const respondMs = opts.respondMs ?? HANDOFF_RESPOND_MS
    const rotated = e.id === null ? undefined : keeper.replica.get(e.id)?.time
    const lifetimeMs = Math.min(respondMs, (rotated ?? now()) + respondMs - now())
    if (lifetimeMs <= 0) return null
    const replica = keeper.replica
    const responder = new EpochResponder({
      bus: old,
      // Who has moved: the new topic alone (SwitchBus.peers also counts peers still moving).
      current: () => bus.current.peers,
      handoff: () => epochHandoff(replica.index, replica.state.epochs.current),
      lifetimeMs,
      timers: opts.timers ?? realTimers,
      now,
    })
    responders.add(responder)
    return () => {
      responder.destroy()
      responders.delete(responder)
    }
  }

  const move = (e: CurrentEpoch): void => {
    const sameTopic = e.topic === null || topic === null ? e.topic === topic : bytesEqual(e.topic, topic)
    if (bytesEqual(e.secret, secret) && sameTopic) return
    // Only a move to a newer epoch leaves members behind on the old topic.
    const keep = e.n > n ? (old: SignalBus) => respond(old, e) : undefined
    secret = e.secret
    topic = e.topic
    n = e.n
    queue = queue
      .then(async () => bus.switchTo(open(e.topic ?? deriveDiscoveryKey(roomId), await deriveSignalKey(e.secret)), keep))
      .catch((err: unknown) => onError(err as Error))
  }
  const offs = [keeper.on('epoch', move), receiveHandoffs(bus, (entries) => keeper.handoff(entries))]
  return () => {
    for (const off of offs) off()
    for (const r of [...responders]) r.destroy()
    responders.clear()
  }
}
