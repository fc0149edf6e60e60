/**
 * A listener on a network that blocks UDP (its router forwards TCP only, lab.ts) cannot reach
 * anyone with STUN alone; with Debian's coturn in the public namespace and
 * `--ice turn:user:pass@host:port?transport=tcp` it connects over TCP to coturn, which relays
 * to the speaker over UDP, and hears the tone. This is what README "When TURN is needed"
 * tells a self-hoster to set up. Opt-in (STOOP_NETNS_COTURN=1): it fails today, see below.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateIdentity } from '../../../src/identity/index.ts'
import { createRoomLinks } from '../../../src/cli/room-create.ts'
import { waitFor } from '../../helpers/wait.ts'
import { ADDR, createLab, labUnavailable, type Lab } from './lab.ts'
import { relayReady, startLabPeer, startLabRelay, type Event, type LabProc } from './procs.ts'
import { toneBySecond } from './tones.ts'

const ENSURE = fileURLToPath(new URL('./ensure-netns-tools.sh', import.meta.url))
const TURN_PORT = 3479
const TURN_USER = 'stoop'
const TURN_PASS = 'lab-only-secret'

async function turnUnavailable(): Promise<string | null> {
  // Opt-in: with coturn 4.6.1 and @roamhq/wrtc 0.10 the TCP allocation is closed by coturn
  // ("closed (2nd stage) ... reason: general") about a second after each ChannelBind, so audio
  // comes in bursts and this test fails; it stays as the reproduction until that is solved.
  if (process.env.STOOP_NETNS_COTURN !== '1') return 'set STOOP_NETNS_COTURN=1 to run it (known failing, see the comment above)'
  const lab = await labUnavailable()
  if (lab) return lab
  try {
    await promisify(execFile)('sh', [ENSURE], { env: { ...process.env, STOOP_NETNS_COTURN: '1' } })
    return null
  } catch (err) {
    return `coturn is missing and could not be installed: ${String((err as { stderr?: string }).stderr ?? err).trim()}`
  }
}
const skip = await turnUnavailable()

describe.skipIf(skip !== null)(`TURN over TCP with coturn${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let lab: Lab
  let relay: LabProc
  let dir: string
  let coturnLog = ''
  const peers: LabProc[] = []
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stoop-turn-'))
    lab = await createLab({ A: 'cone', B: 'cone' })
    relay = startLabRelay(lab)
    const coturn = lab.spawn('pub', [
      'turnserver', '-n', '--no-cli', '--no-tls', '--no-dtls', '--fingerprint', '--lt-cred-mech',
      `--user=${TURN_USER}:${TURN_PASS}`, '--realm=stoop.lab', `--listening-ip=${ADDR.relay}`, `--relay-ip=${ADDR.relay}`,
      `--listening-port=${TURN_PORT}`, '--min-port=50000', '--max-port=50199', '--log-file=stdout', '--simple-log', '--verbose',
      `--userdb=${join(dir, 'turndb')}`, `--pidfile=${join(dir, 'turnserver.pid')}`,
    ])
    coturn.stdout!.on('data', (d: Buffer) => (coturnLog = (coturnLog + d.toString()).slice(-20_000)))
    await relayReady(lab)
    await waitFor(() => `coturn to listen; its log: ${coturnLog.slice(-1500)}`, () => /listener opened on|Total (UDP|General) servers/i.test(coturnLog), 20_000, 100)
    await lab.blockUdp('homeB')
  }, 90_000)
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.stop()))
    await relay?.stop()
    await lab?.destroy()
    await rm(dir, { recursive: true, force: true })
  })

  const connected = (ev: Event) => ev.event === 'peer-connected'

  it('a listener whose network blocks UDP hears the speaker through coturn over TCP; without TURN it cannot connect', async () => {
    const links = await createRoomLinks(await generateIdentity(), { title: 'TURN', topic: '', origin: `http://${ADDR.relay}:8787` })
    const speaker = startLabPeer(lab, 'homeA', { link: links.moderator, name: 'Speaker', speak: 440 })
    const stunOnly = startLabPeer(lab, 'homeB', { link: links.listener, name: 'STUN only' })
    peers.push(speaker, stunOnly)
    await stunOnly.next((e) => e.event === 'joined', 45_000)
    await new Promise((r) => setTimeout(r, 10_000))
    expect(stunOnly.events.filter(connected)).toEqual([])
    await stunOnly.stop()

    const turn = `turn:${TURN_USER}:${TURN_PASS}@${ADDR.relay}:${TURN_PORT}?transport=tcp`
    const listener = startLabPeer(lab, 'homeB', { link: links.listener, name: 'Via TURN', ice: [turn], record: join(dir, 'heard.wav') })
    peers.push(listener)
    const up = await listener.next(connected, 45_000)
    console.info(`UDP blocked: connected through coturn (TCP) ${up.t! - listener.startedAt} ms after start`)
    await listener.next((e) => e.event === 'audio-level', 30_000)
    await new Promise((r) => setTimeout(r, 4000))
    await listener.stop()
    const seconds = await toneBySecond(join(dir, 'heard.wav'), 440, 3)
    expect(seconds.every((s) => s.heard), JSON.stringify(seconds)).toBe(true)
    expect(coturnLog).toMatch(/ALLOCATE/i)
  }, 150_000)
})
