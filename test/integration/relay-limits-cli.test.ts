/**
 * The `stoop relay` limit flags: every limit of the relay is a flag (and an
 * environment variable), documented in the usage text, with the relay's own
 * defaults; bad values are refused with one line.
 */
import { describe, expect, it } from 'vitest'
import { RELAY_LIMIT_OPTIONS, relayLimitsOf } from '../../src/cli/options.ts'
import { RELAY_USAGE } from '../../src/cli/usage.ts'
import { RELAY_DEFAULTS } from '../../relay/rooms/endpoint.ts'
import { DEFAULT_SYNC_GUARD_LIMITS } from '../../relay/rooms/sync-guard.ts'

describe('stoop relay limit flags', () => {
  it('default to the relay\'s own defaults', () => {
    expect(relayLimitsOf({})).toEqual({
      maxConnectionsPerIp: RELAY_DEFAULTS.maxConnectionsPerIp,
      maxRoomsPerIp: RELAY_DEFAULTS.maxRoomsPerIp,
      bytesPerSecond: RELAY_DEFAULTS.bytesPerSecond,
      burstBytes: RELAY_DEFAULTS.burstBytes,
      maxDocBytes: RELAY_DEFAULTS.maxDocBytes,
      maxTotalDocBytes: RELAY_DEFAULTS.maxTotalDocBytes,
      sync: {
        maxAwarenessBytes: DEFAULT_SYNC_GUARD_LIMITS.maxAwarenessBytes,
        awarenessPerSecond: DEFAULT_SYNC_GUARD_LIMITS.awarenessPerSecond,
        awarenessBurst: DEFAULT_SYNC_GUARD_LIMITS.awarenessBurst,
        step1Burst: DEFAULT_SYNC_GUARD_LIMITS.step1Burst,
        step1PerSecond: DEFAULT_SYNC_GUARD_LIMITS.step1PerSecond,
      },
      storeQuotaBytes: RELAY_DEFAULTS.storeQuotaBytes,
      storeExpireMs: RELAY_DEFAULTS.storeExpireMs,
    })
  })

  it('set the relay options, in KiB, MiB and days', () => {
    const o = relayLimitsOf({ 'max-conns-per-ip': '3', 'conn-kib-per-sec': '64', 'max-doc-mib': '2', 'room-expiry-days': '0', 'step1-per-min': '30' })
    expect(o).toMatchObject({ maxConnectionsPerIp: 3, bytesPerSecond: 64 * 1024, maxDocBytes: 2 * 1024 * 1024, storeExpireMs: Infinity, sync: { step1PerSecond: 0.5 } })
  })

  it('refuse what is not a whole number', () => {
    expect(() => relayLimitsOf({ 'max-conns-per-ip': '0' })).toThrow(/--max-conns-per-ip must be a whole number >= 1/)
    expect(() => relayLimitsOf({ 'max-doc-mib': 'lots' })).toThrow(/--max-doc-mib/)
  })

  it('are all in `stoop relay --help`', () => {
    for (const flag of Object.keys(RELAY_LIMIT_OPTIONS)) expect(RELAY_USAGE).toContain(`--${flag} N`)
  })
})
