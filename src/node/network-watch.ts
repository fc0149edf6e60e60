/**
 * NetworkWatch: notices in Node that this machine's addresses changed (Wi-Fi to cellular,
 * a laptop waking with a new lease, a VPN coming up), the sign for a network switch
 * (src/participant/network-switch.ts).
 *
 * It polls `os.networkInterfaces()` (getifaddrs: 0.25-0.3 ms on this loaded 2-core machine, so
 * once a second is 0.03 % of a core; Node offers no netlink socket to be told instead) and compares the set of addresses
 * that can carry traffic to others: not internal (loopback), not link-local (fe80::/10,
 * 169.254/16: they come and go with interfaces and carry no ICE worth restarting for). The
 * first reading is the baseline; every later difference is one `onChange`.
 *
 * Invariants: a reading that throws (some sandboxes refuse getifaddrs) is counted and skipped,
 * never thrown; `destroy()` is idempotent and leaves no timer.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os'
import { realTimers, type Timers } from '../base/timers.ts'

export interface AddressChange {
  added: string[]
  removed: string[]
  /** Every address now (empty: offline). */
  addresses: string[]
}

export interface NetworkWatchOptions {
  onChange: (change: AddressChange) => void
  /** How often the addresses are read. Default 1000 ms. */
  intervalMs?: number
  /** Default `os.networkInterfaces`. */
  read?: () => NodeJS.Dict<NetworkInterfaceInfo[]>
  timers?: Timers
}

/** The addresses of `interfaces` that can carry traffic to others, sorted. */
export function usableAddresses(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string[] {
  const out = new Set<string>()
  for (const list of Object.values(interfaces)) {
    for (const info of list ?? []) {
      if (info.internal || /^fe[89ab]/i.test(info.address) || info.address.startsWith('169.254.')) continue
      out.add(info.address)
    }
  }
  return [...out].sort()
}

export class NetworkWatch {
  /** Readings that threw. */
  failedReads = 0
  readonly #o: NetworkWatchOptions
  readonly #timers: Timers
  #addresses: string[] | null = null
  #timer: unknown = null
  #destroyed = false

  constructor(opts: NetworkWatchOptions) {
    this.#o = opts
    this.#timers = opts.timers ?? realTimers
    this.#poll()
  }

  /** The addresses of the last reading (null before one succeeded). */
  get addresses(): readonly string[] | null {
    return this.#addresses
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#timers.clearTimeout(this.#timer)
  }

  #poll(): void {
    this.#timer = null
    if (this.#destroyed) return
    this.#check()
    if (!this.#destroyed) this.#timer = this.#timers.setTimeout(() => this.#poll(), this.#o.intervalMs ?? 1000)
  }

  #check(): void {
    let now: string[]
    try {
      now = usableAddresses((this.#o.read ?? networkInterfaces)())
    } catch (err) {
      void err // counted: a machine that cannot list its interfaces just gets no switch signs
      this.failedReads++
      return
    }
    const before = this.#addresses
    this.#addresses = now
    if (before === null) return
    const added = now.filter((a) => !before.includes(a))
    const removed = before.filter((a) => !now.includes(a))
    if (added.length || removed.length) this.#o.onChange({ added, removed, addresses: now })
  }
}
