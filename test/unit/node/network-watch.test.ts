/** NetworkWatch (src/node/network-watch.ts): which addresses count, and when a change is told. */
import type { NetworkInterfaceInfo } from 'node:os'
import { describe, expect, it } from 'vitest'
import { NetworkWatch, usableAddresses } from '../../../src/node/network-watch.ts'
import { fakeTimers } from '../../helpers/fake-timers.ts'

const v4 = (address: string, internal = false): NetworkInterfaceInfo => ({ address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: `${address}/24` })
const v6 = (address: string): NetworkInterfaceInfo => ({ address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal: false, cidr: `${address}/64`, scopeid: 0 })

describe('usableAddresses', () => {
  it('keeps what can carry traffic to others: not loopback, not link-local', () => {
    const ifaces = { lo: [v4('127.0.0.1', true)], wlan0: [v4('192.168.1.20'), v6('fe80::1'), v6('2001:db8::5')], eth0: [v4('169.254.3.4')], tun0: [v4('10.8.0.2')] }
    expect(usableAddresses(ifaces)).toEqual(['10.8.0.2', '192.168.1.20', '2001:db8::5'])
  })
})

describe('NetworkWatch', () => {
  it('the first reading is the baseline; each later difference is one change', () => {
    const clock = fakeTimers()
    let now: Record<string, NetworkInterfaceInfo[]> = { eth0: [v4('10.0.0.2')] }
    const changes: unknown[] = []
    const watch = new NetworkWatch({ onChange: (c) => changes.push(c), read: () => now, timers: clock.timers, intervalMs: 1000 })
    clock.advance(3000)
    expect(changes).toEqual([])
    now = { eth0: [v4('10.0.0.2')], wwan0: [v4('100.64.1.9')] }
    clock.advance(1000)
    now = { wwan0: [v4('100.64.1.9')] }
    clock.advance(1000)
    now = {}
    clock.advance(1000)
    expect(changes).toEqual([
      { added: ['100.64.1.9'], removed: [], addresses: ['10.0.0.2', '100.64.1.9'] },
      { added: [], removed: ['10.0.0.2'], addresses: ['100.64.1.9'] },
      { added: [], removed: ['100.64.1.9'], addresses: [] },
    ])
    watch.destroy()
    watch.destroy()
    expect(clock.pending()).toBe(0)
  })

  it('a reading that throws is counted and skipped', () => {
    const clock = fakeTimers()
    let fail = false
    const changes: unknown[] = []
    const watch = new NetworkWatch({
      onChange: (c) => changes.push(c),
      read: () => {
        if (fail) throw new Error('getifaddrs refused')
        return { eth0: [v4('10.0.0.2')] }
      },
      timers: clock.timers,
    })
    fail = true
    clock.advance(2000)
    expect([watch.failedReads, changes, watch.addresses]).toEqual([2, [], ['10.0.0.2']])
    watch.destroy()
  })
})
