/**
 * A small internet in network namespaces, built and torn down by a test:
 *
 *   pub      10.77.0.1  the relay (signalling, SFU, STUN); bridge br0 is "the internet"
 *   rtrA     10.77.0.2  home router A: NAT from 10.77.1.0/24 (nftables masquerade)
 *   rtrB     10.77.0.3  home router B: NAT from 10.77.2.0/24
 *   homeA    10.77.1.2  behind rtrA (default route via 10.77.1.1)
 *   homeB    10.77.2.2  behind rtrB (default route via 10.77.2.1)
 *
 * NAT kinds: 'cone' is `masquerade` (Linux keeps the source port when it can, so one
 * mapping serves every destination: endpoint-independent mapping; replies only from where
 * we sent: port-restricted filtering), 'symmetric' is `masquerade random` (a new random port
 * per destination). The routers forward nothing unsolicited from the WAN side and have no
 * route into the other home: a home is reached through its router's public address only.
 *
 * Nothing is connected to the machine's own namespace: no veth leaves the lab, so no packet
 * can reach a real interface whatever a process inside tries. Peers also filter ICE
 * candidates to LAB_SUBNET (as --ice-loopback does for 127.0.0.1).
 *
 * `labUnavailable()` says why a lab cannot be built here (not root, no `ip`, no nftables
 * and no way to install it), so tests skip with that reason instead of failing.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const ENSURE = fileURLToPath(new URL('./ensure-netns-tools.sh', import.meta.url))

export const LAB_SUBNET = '10.77.0.0/16'
export const ADDR = { relay: '10.77.0.1', wanA: '10.77.0.2', wanB: '10.77.0.3', homeA: '10.77.1.2', homeB: '10.77.2.2' } as const

export type NatKind = 'cone' | 'symmetric'
export type NsName = 'pub' | 'rtrA' | 'rtrB' | 'homeA' | 'homeB'

export interface Lab {
  /** The real namespace name of each part (unique per lab). */
  readonly ns: Readonly<Record<NsName, string>>
  /** Runs a command inside a namespace; rejects with its stderr on a non-zero exit. */
  exec(where: NsName, argv: readonly string[]): Promise<string>
  /** Starts a long-running process inside a namespace; `destroy()` kills it if still running. */
  spawn(where: NsName, argv: readonly string[], opts?: SpawnOptions): ChildProcess
  /** The router of `home` forwards no UDP from it any more (an office network: TCP only). */
  blockUdp(home: 'homeA' | 'homeB'): Promise<void>
  /** Drops `percent`% of packets arriving at a home from its router (random, nftables numgen); 0 removes it. */
  setLoss(home: 'homeA' | 'homeB', percent: number): Promise<void>
  destroy(): Promise<void>
}

let availability: Promise<string | null> | null = null

/** null when labs can be built here; otherwise the reason, for the skip message. */
export function labUnavailable(): Promise<string | null> {
  return (availability ??= probe())
}

async function probe(): Promise<string | null> {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs the tests as root)'
  try {
    await run('sh', [ENSURE])
  } catch (err) {
    return `nftables is missing and could not be installed: ${String((err as { stderr?: string }).stderr ?? err).trim()}`
  }
  const name = `stoop-probe-${randomBytes(3).toString('hex')}`
  try {
    await run('ip', ['netns', 'add', name])
    await run('ip', ['netns', 'del', name])
    return null
  } catch (err) {
    return `cannot create network namespaces here (ip netns add failed: ${String((err as { stderr?: string }).stderr ?? err).trim()})`
  }
}

const NAT_RULES = (kind: NatKind): string => `
table ip nat {
  chain postrouting { type nat hook postrouting priority srcnat; oifname "wan" masquerade${kind === 'symmetric' ? ' random' : ''}; }
}
table inet router {
  # Unsolicited packets to the router itself are dropped before conntrack confirms them: a
  # confirmed entry for a peer's early check would hold the public port the home's own
  # answer needs, and masquerade would then map the home to another port (no hole punched).
  chain incoming {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state != established,related drop
  }
  chain forwarding {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
  }
}`

/** Builds the namespaces, links, routes and NAT rules; on failure removes what it made. */
export async function createLab(nat: { A: NatKind; B: NatKind }): Promise<Lab> {
  const tag = randomBytes(3).toString('hex')
  const ns: Record<NsName, string> = { pub: `stoop-${tag}-pub`, rtrA: `stoop-${tag}-rtrA`, rtrB: `stoop-${tag}-rtrB`, homeA: `stoop-${tag}-homeA`, homeB: `stoop-${tag}-homeB` }
  const children = new Set<ChildProcess>()
  const ip = (where: NsName, ...args: string[]) => run('ip', ['-n', ns[where], ...args])
  const exec = async (where: NsName, argv: readonly string[]): Promise<string> => {
    const { stdout } = await run('ip', ['netns', 'exec', ns[where], ...argv])
    return stdout
  }
  const made: NsName[] = []
  const destroy = async (): Promise<void> => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await Promise.all([...children].map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((done) => c.once('exit', done)) : null)))
    for (const n of made.splice(0)) await run('ip', ['netns', 'del', ns[n]]).catch((err: unknown) => console.warn(`lab: ${ns[n]} not removed: ${String(err)}`))
  }
  try {
    for (const n of Object.keys(ns) as NsName[]) {
      await run('ip', ['netns', 'add', ns[n]])
      made.push(n)
      await ip(n, 'link', 'set', 'lo', 'up')
      // IPv6 link-local addresses would only add candidates nobody can use.
      await exec(n, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
    }
    await ip('pub', 'link', 'add', 'br0', 'type', 'bridge')
    await ip('pub', 'addr', 'add', `${ADDR.relay}/24`, 'dev', 'br0')
    await ip('pub', 'link', 'set', 'br0', 'up')
    for (const [side, wan, lan] of [['A', ADDR.wanA, '10.77.1'], ['B', ADDR.wanB, '10.77.2']] as const) {
      const rtr = `rtr${side}` as const
      const home = `home${side}` as const
      await ip(rtr, 'link', 'add', 'wan', 'type', 'veth', 'peer', 'name', `to${side}`, 'netns', ns.pub)
      await ip('pub', 'link', 'set', `to${side}`, 'master', 'br0', 'up')
      await ip(rtr, 'addr', 'add', `${wan}/24`, 'dev', 'wan')
      await ip(rtr, 'link', 'set', 'wan', 'up')
      await ip(rtr, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns[home])
      await ip(rtr, 'addr', 'add', `${lan}.1/24`, 'dev', 'lan')
      await ip(rtr, 'link', 'set', 'lan', 'up')
      await ip(home, 'addr', 'add', `${lan}.2/24`, 'dev', 'eth0')
      await ip(home, 'link', 'set', 'eth0', 'up')
      await ip(home, 'route', 'add', 'default', 'via', `${lan}.1`)
      await exec(rtr, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
      await nft(exec, rtr, NAT_RULES(nat[side]))
    }
  } catch (err) {
    await destroy()
    throw err
  }
  return {
    ns,
    exec,
    spawn(where, argv, opts = {}) {
      const child = spawn('ip', ['netns', 'exec', ns[where], ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
      children.add(child)
      return child
    },
    async blockUdp(home) {
      await exec(home === 'homeA' ? 'rtrA' : 'rtrB', ['nft', 'insert', 'rule', 'inet', 'router', 'forwarding', 'iifname', 'lan', 'meta', 'l4proto', 'udp', 'drop'])
    },
    async setLoss(home, percent) {
      await exec(home, ['nft', 'delete', 'table', 'inet', 'loss']).catch(() => undefined) // absent the first time
      if (percent > 0) {
        await nft(exec, home, `table inet loss {\n  chain lossin { type filter hook input priority filter; iifname "eth0" numgen random mod 100 < ${Math.round(percent)} drop; }\n}`)
      }
    },
    destroy,
  }
}

/** Loads an nftables ruleset into a namespace (nft -f from a here-document). */
async function nft(exec: Lab['exec'], where: NsName, rules: string): Promise<void> {
  await exec(where, ['sh', '-c', `nft -f - <<'EOF'\n${rules}\nEOF`])
}
