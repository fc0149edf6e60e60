/**
 * Waiting for a room this device knows nothing of: a member online must bring
 * its state. Resolves when the room exists locally; rejects with 'unreachable'
 * after `timeoutMs`, saying whether nothing was reachable at all or nobody
 * holding the room answered. Never with 'wrong-secret': that is the link's key
 * check (parseInvite), not anything strangers on the signalling topic can send.
 */
import type { RoomClient } from '../participant/room-client.ts'
import { sessionError } from './session-error.ts'

export interface ArrivalOptions {
  timeoutMs: number
  signalUrl: string
  /** Whether signalling was unreachable or the device offline when the wait ran out. */
  cutOff: () => boolean
}

export function awaitArrival(client: RoomClient, opts: ArrivalOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer)
      offState()
      if (err) reject(err)
      else resolve()
    }
    const offState = client.on('state', (s) => {
      if (s.exists) done()
    })
    const timer = setTimeout(() => {
      const why = opts.cutOff()
        ? `Could not reach the signalling server (${opts.signalUrl}) and this device has no copy of the room.`
        : 'Nobody holding this room answered: it may be empty right now. Try again when someone is in it.'
      done(sessionError('unreachable', why))
    }, opts.timeoutMs)
  })
}
