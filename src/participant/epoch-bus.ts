/**
 * Moves a participant's signalling with the room's epochs (docs/room-rules.md §8):
 * when its EpochKeeper adopts a new secret, signalling continues on that
 * epoch's topic under that epoch's sealing key (a new bus from `open`), and
 * the old topic is left. Peer connections already up are kept (SwitchBus).
 */
import { bytesEqual } from '../identity/index.ts'
import { deriveDiscoveryKey } from '../room/index.ts'
import type { SignalBus } from '../net/bus.ts'
import { deriveSignalKey } from '../net/room-crypto.ts'
import type { SwitchBus } from '../net/switch-bus.ts'
import type { CurrentEpoch, EpochKeeper } from './epoch-keeper.ts'

/** Opens a bus on `topic` sealed with `key`. */
export type OpenBus = (topic: Uint8Array, key: CryptoKey) => SignalBus

/** Keeps `bus` on the current epoch's topic; returns the unsubscribe function. */
export function followEpochs(keeper: EpochKeeper, bus: SwitchBus, roomId: string, open: OpenBus, onError: (err: Error) => void): () => void {
  let secret = keeper.current.secret
  let topic = keeper.current.topic
  let queue = Promise.resolve()
  const move = (e: CurrentEpoch): void => {
    const sameTopic = e.topic === null || topic === null ? e.topic === topic : bytesEqual(e.topic, topic)
    if (bytesEqual(e.secret, secret) && sameTopic) return
    secret = e.secret
    topic = e.topic
    queue = queue
      .then(async () => bus.switchTo(open(e.topic ?? deriveDiscoveryKey(roomId), await deriveSignalKey(e.secret))))
      .catch((err: unknown) => onError(err as Error))
  }
  return keeper.on('epoch', move)
}
