/**
 * A second network for home A, and switching between the two: what network-switch.test.ts
 * and the network-switch bench do to a listener. Home A gets a second link to router A (LAN
 * 10.77.3.0/24, forwarded and masqueraded like the first); a switch brings the new address up,
 * moves the default route to it and removes the old address, in one step, as a laptop moving
 * from one network to another sees it. Also: the longest silence in a recording.
 */
import { readFile } from 'node:fs/promises'
import { decodeWav } from '../../../src/audio/wav.ts'
import { detectTones, hasTone } from '../../../src/audio/goertzel.ts'
import type { Lab } from './lab.ts'

export interface Uplink {
  lan: string
  dev: string
}

export const FIRST: Uplink = { lan: '10.77.1', dev: 'eth0' }
export const SECOND: Uplink = { lan: '10.77.3', dev: 'eth1' }

/** Router A's second LAN into home A (no address on the home side until a switch). */
export async function addSecondLink(lab: Lab): Promise<void> {
  await lab.exec('rtrA', ['ip', 'link', 'add', 'lan2', 'type', 'veth', 'peer', 'name', SECOND.dev, 'netns', lab.ns.homeA])
  await lab.exec('rtrA', ['ip', 'addr', 'add', `${SECOND.lan}.1/24`, 'dev', 'lan2'])
  await lab.exec('rtrA', ['ip', 'link', 'set', 'lan2', 'up'])
  await lab.exec('rtrA', ['nft', 'add', 'rule', 'inet', 'router', 'forwarding', 'iifname', 'lan2', 'oifname', 'wan', 'accept'])
  await lab.exec('homeA', ['ip', 'link', 'set', SECOND.dev, 'up'])
}

/** The switch itself, in one step: new address up, default route moved, old address gone. */
export async function switchNetwork(lab: Lab, from: Uplink, to: Uplink): Promise<void> {
  await lab.exec('homeA', ['sh', '-c', `ip addr add ${to.lan}.2/24 dev ${to.dev} && ip route replace default via ${to.lan}.1 dev ${to.dev} && ip addr flush dev ${from.dev}`])
}

const BLOCK_MS = 40
/**
 * A block counts as heard only this loud (the lab's tones play at about -15 dBFS): when packets
 * stop, libwebrtc's concealment carries a steady tone on, fading, and a faded tail is not the
 * speaker heard.
 */
const LOUD_DBFS = -30

/** Per 40 ms block of the WAV at `path`: whether it holds `freq`. */
export async function toneBlocks(path: string, freq: number): Promise<boolean[]> {
  const wav = decodeWav(await readFile(path))
  const block = Math.round((wav.sampleRate * BLOCK_MS) / 1000)
  const out: boolean[] = []
  for (let at = 0; at + block <= wav.samples.length; at += block) out.push(hasTone(detectTones(wav.samples.subarray(at, at + block), wav.sampleRate, [freq])[0]!, { minDbfs: LOUD_DBFS }))
  return out
}

/**
 * The longest run without the tone in blocks `from`..`to` (ms offsets into the recording;
 * default: from the first tone to the end): its length and the offset where the tone came back
 * (the end of the range if it did not). The mixer writes a frame every 10 ms whether or not
 * anything arrived, so recording time is wall time.
 */
export function longestGap(blocks: readonly boolean[], fromMs?: number, toMs?: number): { ms: number; endMs: number } {
  const first = fromMs === undefined ? blocks.indexOf(true) : Math.floor(fromMs / BLOCK_MS)
  const last = toMs === undefined ? blocks.length : Math.min(blocks.length, Math.ceil(toMs / BLOCK_MS))
  let run = 0
  let longest = { ms: 0, endMs: Math.max(0, first) * BLOCK_MS }
  for (let i = Math.max(0, first); i < last; i++) {
    run = blocks[i] ? 0 : run + BLOCK_MS
    if (run > longest.ms) longest = { ms: run, endMs: (i + 1) * BLOCK_MS }
  }
  return longest
}

/** The length (ms) of `longestGap`. */
export function longestGapMs(blocks: readonly boolean[], fromMs?: number, toMs?: number): number {
  return longestGap(blocks, fromMs, toMs).ms
}

/** The offset (ms) of the first block holding the tone, or -1. */
export function firstToneMs(blocks: readonly boolean[]): number {
  const i = blocks.indexOf(true)
  return i < 0 ? -1 : i * BLOCK_MS
}
