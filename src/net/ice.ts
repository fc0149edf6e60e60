/**
 * Which ICE servers our RTCPeerConnections use, and the candidate filters
 * that keep tests on addresses they own.
 *
 * Default: the relay the client already uses (the link's host) answers STUN on
 * UDP 3478 (`stoop relay --stun-port`), so a peer behind a home router learns
 * its public address from a server it already trusts with its IP, not from a
 * third party that would learn who talks to whom. A list given by the user
 * (`stoop peer --ice`, the app's settings) replaces the default entirely;
 * `none` means no servers. TURN credentials ride in the URL as
 * `turn:user:pass@host:port?transport=tcp` (percent-encode a `:` or `@` in them).
 *
 * Pure functions; strings from the user are checked here and refused with one
 * line naming the problem (`bad-ice-server`).
 */
import { CodedError } from '../base/errors.ts'

/** The STUN/TURN port of RFC 5389/8656, and the relay's STUN port by default. */
export const DEFAULT_STUN_PORT = 3478

export class IceServerError extends CodedError<'bad-ice-server'> {
  constructor(message: string) {
    super('bad-ice-server', message)
  }
}

const SCHEMES = ['stun', 'stuns', 'turn', 'turns'] as const
const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/

/**
 * One ICE server from `scheme:[user:pass@]host[:port][?transport=udp|tcp]`
 * (RFC 7064/7065 URIs, plus credentials, which those URIs have no place for).
 */
export function parseIceServer(text: string): RTCIceServer {
  const m = /^([a-z]+):(?:([^@/?]*)@)?([^?/]+?)(?::(\d+))?(?:\?(.*))?$/.exec(text.trim())
  const scheme = m?.[1] as (typeof SCHEMES)[number] | undefined
  if (!m || !scheme || !SCHEMES.includes(scheme)) throw new IceServerError(`ICE server "${text}" must look like stun:host:port or turn:user:pass@host:port`)
  const [, , userinfo, host = '', port, query] = m
  if (!HOST.test(host)) throw new IceServerError(`ICE server "${text}": "${host}" is not a host name or address`)
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) throw new IceServerError(`ICE server "${text}": port must be 1-65535`)
  const turn = scheme.startsWith('turn')
  if (query !== undefined && !(turn && /^transport=(udp|tcp)$/.test(query))) throw new IceServerError(`ICE server "${text}": only turn: URLs take ?transport=udp or ?transport=tcp`)
  const url = `${scheme}:${host}${port ? `:${port}` : ''}${query ? `?${query}` : ''}`
  if (!turn) {
    if (userinfo !== undefined) throw new IceServerError(`ICE server "${text}": a STUN server takes no user name or password`)
    return { urls: url }
  }
  const colon = userinfo?.indexOf(':') ?? -1
  if (userinfo === undefined || colon <= 0) throw new IceServerError(`ICE server "${text}": a TURN server needs user:pass@ before the host`)
  try {
    return { urls: url, username: decodeURIComponent(userinfo.slice(0, colon)), credential: decodeURIComponent(userinfo.slice(colon + 1)) }
  } catch (err) {
    void err
    throw new IceServerError(`ICE server "${text}": bad percent-encoding in user:pass`)
  }
}

/** The text `parseIceServer` reads back to the same server (settings show it). */
export function formatIceServer(server: RTCIceServer): string {
  const url = Array.isArray(server.urls) ? (server.urls[0] ?? '') : server.urls
  if (server.username === undefined) return url
  const [scheme, rest] = [url.slice(0, url.indexOf(':')), url.slice(url.indexOf(':') + 1)]
  return `${scheme}:${encodeURIComponent(server.username)}:${encodeURIComponent(String(server.credential ?? ''))}@${rest}`
}

/**
 * The servers a list given by the user stands for: each entry parsed (`none`
 * alone means no servers at all). Throws IceServerError on the first bad one.
 */
export function parseIceServers(list: readonly string[]): RTCIceServer[] {
  const entries = list.flatMap((e) => e.split(/[\s,]+/)).filter(Boolean)
  if (entries.length === 1 && entries[0] === 'none') return []
  return entries.map(parseIceServer)
}

/** The relay's own STUN server: the host of its URL (ws, wss, http or https), on `port`. */
export function relayStunServer(relayUrl: string, port: number = DEFAULT_STUN_PORT): RTCIceServer | null {
  try {
    const host = new URL(relayUrl).hostname
    return host ? { urls: `stun:${host}:${port}` } : null
  } catch (err) {
    void err
    return null
  }
}

export interface IceChoice {
  /** The user's list (`--ice`, settings); when given, it replaces the default. */
  servers?: readonly string[] | undefined
  /** The relay (or signalling server) this client uses: its STUN is the default. */
  relayUrl?: string | null | undefined
  /** Loopback-only sessions gain nothing from STUN: no default server. */
  loopbackOnly?: boolean
}

/** The ICE servers for every connection of a session (see the module comment for the rules). */
export function iceServersFor(choice: IceChoice): RTCIceServer[] {
  if (choice.servers && choice.servers.length > 0) return parseIceServers(choice.servers)
  if (choice.loopbackOnly || !choice.relayUrl) return []
  const own = relayStunServer(choice.relayUrl)
  return own ? [own] : []
}

/** The address of an ICE candidate line (`candidate:<foundation> <component> <transport> <priority> <address> ...`). */
export function candidateAddress(candidate: string): string | undefined {
  return candidate.replace(/^a=/, '').replace(/^candidate:/, '').split(' ')[4]
}

/**
 * Keeps candidates whose IPv4 address lies in one of `cidrs` (e.g. the
 * network namespaces a test built), so no connectivity check ever leaves them.
 */
export function candidateInSubnets(cidrs: readonly string[]): (candidate: string) => boolean {
  const nets = cidrs.map((c) => {
    const [addr = '', bits = '32'] = c.split('/')
    const n = Number(bits)
    const base = ipv4ToInt(addr)
    if (base === null || !Number.isInteger(n) || n < 0 || n > 32) throw new IceServerError(`"${c}" is not an IPv4 CIDR`)
    const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0
    return { base: (base & mask) >>> 0, mask }
  })
  return (candidate) => {
    const ip = ipv4ToInt(candidateAddress(candidate) ?? '')
    return ip !== null && nets.some((net) => ((ip & net.mask) >>> 0) === net.base)
  }
}

/** Drops the `a=candidate` lines `keep` refuses (for non-trickle SDP, as `loopbackSdp` does). */
export function filterSdpCandidates(keep: (candidate: string) => boolean): (sdp: string) => string {
  return (sdp) =>
    sdp
      .split('\r\n')
      .filter((line) => !line.startsWith('a=candidate:') || keep(line.slice(2)))
      .join('\r\n')
}

function ipv4ToInt(text: string): number | null {
  const parts = text.split('.')
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null
  return parts.reduce((n, p) => n * 256 + Number(p), 0) >>> 0
}
