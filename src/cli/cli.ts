/**
 * The `stoop` command: `stoop relay`, `stoop peer`, `stoop room create`, `stoop mod`.
 * Returns an exit code instead of exiting so tests can call it in-process.
 * Failures a person can act on print one line (`stoop: <reason>`), no stack.
 */
import { parseArgs } from 'node:util'
import { createLogger, type Level } from '../../relay/log.ts'
import { startRelay } from '../../relay/server.ts'
import { PeerFailure, startHeadlessPeer, type SpeakSource } from '../headless/headless-peer.ts'
import { createRoomFromCli } from './room-create.ts'
import { moderate } from './mod.ts'
import { exitCodeOf, positiveInt, reachOf, REACH_OPTIONS, reactionOf, RELAY_LIMIT_OPTIONS, relayLimitsOf } from './options.ts'
import { DEFAULT_KEY, PEER_USAGE, RELAY_USAGE, ROOM_CREATE_USAGE, USAGE, usageOf, wantsHelp } from './usage.ts'
import { parseBootstrap } from '../node/dht.ts'
import { MEDIA_KINDS, type MediaKind } from '../node/media.ts'
import { DEFAULT_LIMITS } from '../net/topology.ts'
import { DEFAULT_STUN_PORT, parseIceServers } from '../net/ice.ts'
import { chatTextProblem, MAX_CHAT_CHARS } from '../room/index.ts'

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'relay':
        return help(rest, RELAY_USAGE) ?? (await relay(rest))
      case 'peer':
        return help(rest, PEER_USAGE) ?? (await peer(rest))
      case 'mod':
        return await moderate(rest)
      case 'room':
        if (rest[0] === 'create') return help(rest, ROOM_CREATE_USAGE) ?? (await createRoomFromCli(rest.slice(1), DEFAULT_KEY))
        if (wantsHelp(rest)) return help(rest, ROOM_CREATE_USAGE)!
        process.stderr.write(`stoop: unknown room command "${rest[0] ?? ''}" (try "stoop room create --title T")\n`)
        return 2
      case undefined:
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n')
        return command === undefined ? 1 : 0
      default:
        process.stderr.write(`stoop: unknown command "${command}"\n${USAGE}\n`)
        return 2
    }
  } catch (err) {
    process.stderr.write(`stoop: ${err instanceof Error ? err.message : String(err)}\n`)
    return exitCodeOf(err)
  }
}

/** `stoop <command> --help`: its usage on stdout, exit 0; null when help was not asked for. */
function help(args: readonly string[], block: string): number | null {
  if (!wantsHelp(args)) return null
  process.stdout.write(usageOf(block) + '\n')
  return 0
}

function untilSignal(): Promise<void> {
  return new Promise<void>((done) => {
    const stop = () => done()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}

async function relay(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: process.env.STOOP_PORT ?? '8787' },
      host: { type: 'string', default: process.env.STOOP_HOST ?? '127.0.0.1' },
      data: { type: 'string', default: process.env.STOOP_DATA },
      'max-rooms': { type: 'string', default: process.env.STOOP_MAX_ROOMS ?? '100' },
      'max-listeners': { type: 'string', default: process.env.STOOP_MAX_LISTENERS ?? '500' },
      'public-url': { type: 'string', default: process.env.STOOP_PUBLIC_URL },
      'udp-ports': { type: 'string', default: process.env.STOOP_UDP_PORTS },
      'stun-port': { type: 'string', default: process.env.STOOP_STUN_PORT ?? String(DEFAULT_STUN_PORT) },
      workers: { type: 'string', default: process.env.STOOP_WORKERS ?? '1' },
      swarm: { type: 'boolean', default: process.env.STOOP_SWARM === '1' },
      bootstrap: { type: 'string', default: process.env.STOOP_BOOTSTRAP },
      'log-level': { type: 'string', default: process.env.STOOP_LOG_LEVEL ?? 'info' },
      ...RELAY_LIMIT_OPTIONS,
    },
  })
  const level = values['log-level'] as Level
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new PeerFailure('bad-option', `--log-level must be debug, info, warn or error, got "${level}"`)
  const port = positiveInt('--port', values.port!, 0)
  const stunPort = positiveInt('--stun-port', values['stun-port']!, 0)
  const ports = values['udp-ports'] === undefined ? undefined : /^(\d+)-(\d+)$/.exec(values['udp-ports'])
  if (ports === null || (ports && Number(ports[1]) > Number(ports[2]))) throw new PeerFailure('bad-option', `--udp-ports expects MIN-MAX, got "${values['udp-ports']}"`)
  let publicHost: string | undefined
  if (values['public-url']) {
    try {
      publicHost = new URL(values['public-url']).host
    } catch {
      throw new PeerFailure('bad-option', `--public-url is not a URL: "${values['public-url']}"`)
    }
  }
  if (values.swarm && !values.bootstrap) throw new PeerFailure('bad-option', '--swarm needs --bootstrap host:port (the DHT bootstrap of your deployment)')
  const log = createLogger(level)
  const relay = await startRelay({
    port,
    host: values.host!,
    log,
    ...(values.swarm ? { swarm: { bootstrap: parseBootstrap(values.bootstrap!) } } : {}),
    ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
    ...(values.data ? { data: values.data } : {}),
    ...(stunPort > 0 ? { stun: { port: stunPort } } : {}),
    workers: positiveInt('--workers', values.workers!),
    rooms: {
      ...relayLimitsOf(values),
      maxRooms: positiveInt('--max-rooms', values['max-rooms']!),
      maxListeners: positiveInt('--max-listeners', values['max-listeners']!),
      ...(publicHost ? { publicHost } : {}),
      ...(ports ? { peerConfig: { icePortRange: [Number(ports[1]), Number(ports[2])] as [number, number] } } : {}),
    },
  })
  process.stdout.write(`Stoop is running at ${relay.url}\n`)
  await untilSignal()
  log.info('shutting down')
  await relay.close()
  return 0
}

function parseSpeak(value: string | undefined): SpeakSource | undefined {
  if (value === undefined) return undefined
  const tone = /^tone:(\d+(?:\.\d+)?)$/.exec(value)
  if (tone) {
    const freq = Number(tone[1])
    if (freq < 20 || freq > 20_000) throw new PeerFailure('bad-option', `--speak tone frequency must be 20-20000 Hz, got ${freq}`)
    return { kind: 'tone', freq }
  }
  if (value.startsWith('tone:')) throw new PeerFailure('bad-option', `--speak expects tone:<hz>, got "${value}"`)
  return { kind: 'file', path: value }
}

async function peer(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...REACH_OPTIONS,
      name: { type: 'string' },
      speak: { type: 'string' },
      record: { type: 'string' },
      say: { type: 'string' },
      react: { type: 'string' },
      'raise-hand': { type: 'boolean', default: false },
      'invite-hands': { type: 'boolean', default: false },
      duration: { type: 'string' },
      key: { type: 'string' },
      json: { type: 'boolean', default: false },
      relay: { type: 'string', multiple: true },
      'no-relay': { type: 'boolean', default: false },
      'mesh-size': { type: 'string' },
      ice: { type: 'string', multiple: true },
      media: { type: 'string', default: 'werift' },
      e2ee: { type: 'string' },
    },
  })
  const link = positionals[0]
  if (!link) throw new PeerFailure('bad-option', 'stoop peer needs an invite link (stoop room create prints one)')
  const duration = values.duration === undefined ? undefined : Number(values.duration)
  if (duration !== undefined && !(duration > 0)) throw new PeerFailure('bad-option', `--duration must be a positive number of seconds, got "${values.duration}"`)
  const meshSize = values['mesh-size'] === undefined ? undefined : Number(values['mesh-size'])
  if (meshSize !== undefined && !(Number.isInteger(meshSize) && meshSize >= 2)) throw new PeerFailure('bad-option', `--mesh-size must be a whole number >= 2, got "${values['mesh-size']}"`)
  const reach = reachOf(values)
  const media = values.media as MediaKind
  if (!MEDIA_KINDS.includes(media)) throw new PeerFailure('bad-option', `--media must be ${MEDIA_KINDS.join(' or ')}, got "${values.media}"`)
  if (values.e2ee !== undefined && values.e2ee !== 'on' && values.e2ee !== 'off') throw new PeerFailure('usage', `--e2ee must be on or off, got "${values.e2ee}"`)
  if (values.e2ee === 'on' && media !== 'werift') throw new PeerFailure('usage', '--e2ee on needs --media werift (@roamhq/wrtc cannot transform frames)')
  const sayProblem = values.say === undefined ? null : chatTextProblem(values.say)
  if (sayProblem) throw new PeerFailure('bad-option', `--say ${sayProblem === 'empty' ? 'needs some text' : `is at most ${MAX_CHAT_CHARS} characters`}`)
  const react = values.react === undefined ? undefined : reactionOf(values.react)
  try {
    if (values.ice) parseIceServers(values.ice)
  } catch (err) {
    throw new PeerFailure('bad-option', `--ice: ${(err as Error).message}`)
  }
  const print = values.json
    ? (ev: object) => process.stdout.write(JSON.stringify(ev) + '\n')
    : (ev: { event: string } & Record<string, unknown>) => {
        if (['joined', 'peer-connected', 'peer-disconnected', 'hand-raised', 'invited', 'accepted-invite', 'room-ended', 'warning', 'chat', 'reaction', 'muted', 'unmuted', 'kicked', 'recording'].includes(ev.event)) {
          const { event, t: _t, ...rest } = ev
          process.stdout.write(`${event} ${JSON.stringify(rest)}\n`)
        }
      }
  const handle = await startHeadlessPeer({
    link,
    ...reach,
    ...(values.name ? { name: values.name } : {}),
    // --record keeps audio only while the room shows a recording (announced by us as a moderator): docs/room-rules.md §10.
    ...(values.record ? { record: values.record, recordWhen: 'announced' as const } : {}),
    ...(values.say !== undefined ? { say: values.say } : {}),
    ...(react !== undefined ? { react } : {}),
    ...(values.key ? { keyFile: values.key } : {}),
    speak: parseSpeak(values.speak),
    raiseHand: values['raise-hand'],
    inviteHands: values['invite-hands'],
    ...(values['no-relay'] ? { relay: false as const } : values.relay ? { relay: values.relay.flatMap((r) => r.split(',')).map((r) => r.trim()).filter(Boolean) } : {}),
    ...(values.ice ? { ice: values.ice } : {}),
    media,
    e2ee: (values.e2ee ?? (media === 'werift' ? 'on' : 'off')) === 'on',
    ...(meshSize ? { limits: { ...DEFAULT_LIMITS, meshSize, hardCap: Math.max(DEFAULT_LIMITS.hardCap, meshSize) } } : {}),
    onEvent: print,
  })
  const timer = duration === undefined ? null : setTimeout(() => void handle.stop(), duration * 1000)
  const interrupted = untilSignal().then(() => handle.stop())
  try {
    await Promise.race([handle.done, interrupted])
    return 0
  } finally {
    if (timer) clearTimeout(timer)
    await handle.stop()
  }
}
