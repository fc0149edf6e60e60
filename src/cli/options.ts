/**
 * What the `stoop` subcommands share: how the room is reached (signalling,
 * hyperswarm, loopback ICE), number options, and how an error becomes an exit
 * code and one line.
 */
import { CodedError, errorCode } from '../base/errors.ts'
import { PeerFailure, type HeadlessPeerOptions } from '../headless/headless-peer.ts'
import { parseBootstrap } from '../node/dht.ts'

/** Bad usage (exit 2): a missing or unknown action, a missing ID, an action not built yet. */
export class UsageError extends CodedError<'usage'> {
  constructor(message: string) {
    super('usage', message)
  }
}

/** parseArgs options for reaching a room, shared by `stoop peer` and `stoop mod`. */
export const REACH_OPTIONS = {
  signal: { type: 'string' },
  swarm: { type: 'boolean', default: false },
  bootstrap: { type: 'string' },
  'ice-loopback': { type: 'boolean', default: false },
} as const

export interface ReachValues {
  signal?: string
  swarm?: boolean
  bootstrap?: string
  'ice-loopback'?: boolean
}

/** The headless peer options those flags stand for. */
export function reachOf(values: ReachValues): Pick<HeadlessPeerOptions, 'signal' | 'swarm' | 'loopbackOnly'> {
  if (values.swarm && !values.bootstrap) throw new PeerFailure('bad-option', '--swarm needs --bootstrap host:port (the DHT bootstrap of your deployment)')
  return {
    ...(values.signal ? { signal: values.signal } : {}),
    ...(values.swarm ? { swarm: { bootstrap: parseBootstrap(values.bootstrap!) } } : {}),
    loopbackOnly: values['ice-loopback'] === true,
  }
}

export function positiveInt(flag: string, value: string, min = 1): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw new PeerFailure('bad-option', `${flag} must be a whole number >= ${min}, got "${value}"`)
  return n
}

/** 2: bad usage (unknown option, missing action...); 3: this key is banned from the room; else 1. */
export function exitCodeOf(err: unknown): number {
  const code = errorCode(err)
  if (code === 'usage' || code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return 2
  // Our own key's ban (watchRemoval), not a room action refused because its subject is banned.
  if (err instanceof PeerFailure && code === 'banned') return 3
  return 1
}
