/**
 * What the `stoop` subcommands share: how the room is reached (signalling,
 * hyperswarm, loopback ICE), number options, and how an error becomes an exit
 * code and one line.
 */
import { CodedError, errorCode } from '../base/errors.ts'
import { PeerFailure, type HeadlessPeerOptions } from '../headless/headless-peer.ts'
import { parseBootstrap } from '../node/dht.ts'
import { REACTIONS, type ReactionEmoji } from '../participant/reactions.ts'
import { RELAY_DEFAULTS, type RelayRoomsOptions } from '../../relay/rooms/endpoint.ts'
import { DEFAULT_SYNC_GUARD_LIMITS } from '../../relay/rooms/sync-guard.ts'

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

/**
 * `--react`: one emoji of the set, or the word a screen reader says for it ("fire"); the
 * emoji presentation selector (U+FE0F) may be left out, as terminals often do.
 */
export function reactionOf(value: string): ReactionEmoji {
  const bare = (s: string): string => s.replace(/\uFE0F/g, '')
  const word = value.trim().toLowerCase()
  const found = REACTIONS.find((r) => bare(r.emoji) === bare(value.trim()) || r.label === word)
  if (!found) throw new UsageError(`--react must be one of ${REACTIONS.map((r) => r.emoji).join(' ')} (or its name: ${REACTIONS.map((r) => r.label).join(', ')}), got "${value}"`)
  return found.emoji
}

export function positiveInt(flag: string, value: string, min = 1): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw new PeerFailure('bad-option', `${flag} must be a whole number >= ${min}, got "${value}"`)
  return n
}

const KIB = 1024
const MIB = 1024 * 1024
const DAY = 24 * 60 * 60 * 1000

/** parseArgs options for the limits of `stoop relay` (README "Run a relay"); each also reads an environment variable. */
export const RELAY_LIMIT_OPTIONS = {
  'max-conns-per-ip': { type: 'string', default: process.env.STOOP_MAX_CONNS_PER_IP ?? String(RELAY_DEFAULTS.maxConnectionsPerIp) },
  'max-rooms-per-ip': { type: 'string', default: process.env.STOOP_MAX_ROOMS_PER_IP ?? String(RELAY_DEFAULTS.maxRoomsPerIp) },
  'conn-kib-per-sec': { type: 'string', default: process.env.STOOP_CONN_KIB_PER_SEC ?? String(RELAY_DEFAULTS.bytesPerSecond / KIB) },
  'conn-burst-mib': { type: 'string', default: process.env.STOOP_CONN_BURST_MIB ?? String(RELAY_DEFAULTS.burstBytes / MIB) },
  'max-doc-mib': { type: 'string', default: process.env.STOOP_MAX_DOC_MIB ?? String(RELAY_DEFAULTS.maxDocBytes / MIB) },
  'max-total-doc-mib': { type: 'string', default: process.env.STOOP_MAX_TOTAL_DOC_MIB ?? String(RELAY_DEFAULTS.maxTotalDocBytes / MIB) },
  'presence-max-bytes': { type: 'string', default: process.env.STOOP_PRESENCE_MAX_BYTES ?? String(DEFAULT_SYNC_GUARD_LIMITS.maxAwarenessBytes) },
  'presence-per-sec': { type: 'string', default: process.env.STOOP_PRESENCE_PER_SEC ?? String(DEFAULT_SYNC_GUARD_LIMITS.awarenessPerSecond) },
  'step1-burst': { type: 'string', default: process.env.STOOP_STEP1_BURST ?? String(DEFAULT_SYNC_GUARD_LIMITS.step1Burst) },
  'step1-per-min': { type: 'string', default: process.env.STOOP_STEP1_PER_MIN ?? String(Math.round(DEFAULT_SYNC_GUARD_LIMITS.step1PerSecond * 60)) },
  'store-quota-mib': { type: 'string', default: process.env.STOOP_STORE_QUOTA_MIB ?? String(RELAY_DEFAULTS.storeQuotaBytes / MIB) },
  'room-expiry-days': { type: 'string', default: process.env.STOOP_ROOM_EXPIRY_DAYS ?? String(RELAY_DEFAULTS.storeExpireMs / DAY) },
} as const

export type RelayLimitValues = { [K in keyof typeof RELAY_LIMIT_OPTIONS]?: string }

/** The relay room options those flags stand for. Throws PeerFailure 'bad-option' on a value that is not a whole number. */
export function relayLimitsOf(v: RelayLimitValues): Partial<RelayRoomsOptions> {
  const n = (flag: keyof typeof RELAY_LIMIT_OPTIONS, min = 1) => positiveInt(`--${flag}`, v[flag] ?? RELAY_LIMIT_OPTIONS[flag].default, min)
  const presencePerSec = n('presence-per-sec')
  const expiryDays = n('room-expiry-days', 0)
  return {
    maxConnectionsPerIp: n('max-conns-per-ip'),
    maxRoomsPerIp: n('max-rooms-per-ip'),
    bytesPerSecond: n('conn-kib-per-sec') * KIB,
    burstBytes: n('conn-burst-mib') * MIB,
    maxDocBytes: n('max-doc-mib') * MIB,
    maxTotalDocBytes: n('max-total-doc-mib') * MIB,
    sync: {
      maxAwarenessBytes: n('presence-max-bytes', 64),
      awarenessPerSecond: presencePerSec,
      awarenessBurst: presencePerSec * 2,
      step1Burst: n('step1-burst'),
      step1PerSecond: n('step1-per-min') / 60,
    },
    storeQuotaBytes: n('store-quota-mib') * MIB,
    ...(expiryDays > 0 ? { storeExpireMs: expiryDays * DAY } : { storeExpireMs: Infinity }),
  }
}

/** 2: bad usage (unknown option, missing action...); 3: this key is banned from the room; 4: the link was replaced; 5: kicked for a while; else 1. */
export function exitCodeOf(err: unknown): number {
  const code = errorCode(err)
  if (code === 'usage' || code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return 2
  // Our own key's ban (watchRemoval), not a room action refused because its subject is banned.
  if (err instanceof PeerFailure && code === 'banned') return 3
  if (err instanceof PeerFailure && code === 'link-replaced') return 4
  if (err instanceof PeerFailure && code === 'kicked') return 5
  return 1
}
