/**
 * `stoop peer ... --json` in a child process, as a bot or script runs it: its
 * events as parsed lines, and a wait for the first event that matches.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { stopChild } from '../../helpers/child.ts'

const STOOP = fileURLToPath(new URL('../../../src/cli/stoop.js', import.meta.url))

export type PeerEvent = { event: string } & Record<string, unknown>

export interface JsonPeer {
  /** Lines on stdout that were not JSON (a broken public interface: tests expect none). */
  readonly malformed: readonly string[]
  /** Resolves with the first event (seen so far or to come) that matches. */
  next(match: (ev: PeerEvent) => boolean, timeoutMs?: number): Promise<PeerEvent>
  stop(): Promise<void>
}

export function startJsonPeer(args: string[]): JsonPeer {
  const proc: ChildProcess = spawn(process.execPath, [STOOP, 'peer', ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const events: PeerEvent[] = []
  const malformed: string[] = []
  const waiters = new Set<() => void>()
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as PeerEvent)
    } catch {
      malformed.push(line)
    }
    for (const w of waiters) w()
  })
  return {
    malformed,
    next(match, timeoutMs = 60_000) {
      return new Promise((ok, ko) => {
        const check = (): void => {
          const found = events.find(match)
          if (!found) return
          waiters.delete(check)
          clearTimeout(timer)
          ok(found)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          ko(new Error(`stoop peer: no matching event in ${timeoutMs} ms; last events: ${events.slice(-5).map((e) => JSON.stringify(e)).join(' ')}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
    stop: () =>
stopChild(proc, (p) => p.kill('SIGTERM')),
  }
}
