/**
 * `stoop peer` and the room's epochs (docs/room-rules.md §8): signalling follows
 * each new epoch, `--json` says `epoch {n}` when we move to one, and a link
 * that was replaced (the room rotated and holds no box for us) ends the peer
 * with one line and exit code 4.
 */
import type { RoomClient } from '../participant/room-client.ts'
import { followEpochs } from '../participant/epoch-bus.ts'
import { PeerFailure } from './failure.ts'
import { REPLACED_MESSAGE } from '../participant/epoch-keeper.ts'
import type { Transport } from './transport.ts'
import type { Emit } from './stage.ts'

export function watchEpochs(client: RoomClient, transport: Transport, emit: Emit, fail: (err: PeerFailure) => void): () => void {
  const offs = [
    followEpochs(client.epochs, transport.bus, client.replica.roomId, transport.open, (err) => emit('error', { message: err.message })),
    client.epochs.on('epoch', (e) => emit('epoch', { n: e.n })),
    client.epochs.on('replaced', () => {
      emit('replaced', { message: REPLACED_MESSAGE })
      fail(new PeerFailure('link-replaced', REPLACED_MESSAGE))
    }),
  ]
  return () => offs.forEach((off) => off())
}
