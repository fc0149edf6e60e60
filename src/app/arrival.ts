/**
 * Waiting for a room this device knows nothing of: a member online must bring
 * its state. Resolves when the room exists locally; rejects with 'wrong-secret'
 * when signalling says the link's key does not open the room, or with
 * 'unreachable' after `timeoutMs`, saying whether nothing was reachable at all
 * or nobody holding the room answered.
 */
import type { RoomClient } from '../participant/room-client.ts'
import type { SignalClient, SignalError } from '../net/signal-client.ts'
import { sessionError } from './session-error.ts'

export interface ArrivalOptions {
  timeoutMs: number
  signalUrl: string
  /** Whether signalling was unreachable or the device offline when the wait ran out. */
  cutOff: () => boolean
}

export function awaitArrival(client: RoomClient, signal: SignalClient, opts: ArrivalOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer)
      offState()
      offError()
      if (err) reject(err)
      else resolve()
    }
    const offState = client.on('state', (s) => {
      if (s.exists) done()
    })
    const offError = signal.on('error', (err: SignalError) => {
      if (err.code === 'wrong-secret') done(sessionError('wrong-secret', err.message, err))
    })
    const timer = setTimeout(() => {
      const why = opts.cutOff()
        ? `Could not reach the signalling server (${opts.signalUrl}) and this device has no copy of the room.`
        : 'Nobody holding this room answered: it may be empty right now. Try again when someone is in it.'
      done(sessionError('unreachable', why))
    }, opts.timeoutMs)
  })
}
