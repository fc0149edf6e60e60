/**
 * The real `stoop` command in a child process, as a script runs it: exit code,
 * stdout and stderr when it ends, and (for `--json` runs) its events as they
 * come. Ended with SIGTERM at `timeoutMs` so a hung child fails its test.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { waitFor } from '../../helpers/wait.ts'

const STOOP = fileURLToPath(new URL('../../../src/cli/stoop.js', import.meta.url))

export interface Ended {
  code: number | null
  stdout: string
  stderr: string
}

export interface Running {
  readonly child: ChildProcess
  readonly ended: Promise<Ended>
  /** stdout lines that parsed as JSON objects, in order. */
  readonly events: ReadonlyArray<{ event?: string } & Record<string, unknown>>
  /** The first JSON line (seen or to come) that matches. */
  next(match: (ev: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
}

export function startStoop(args: string[], timeoutMs = 60_000): Running {
  const child = spawn(process.execPath, [STOOP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const events: Array<Record<string, unknown>> = []
  let stdout = ''
  let stderr = ''
  createInterface({ input: child.stdout! }).on('line', (line) => {
    stdout += line + '\n'
    const ev = jsonLine(line)
    if (ev) events.push(ev)
  })
  child.stderr!.on('data', (d) => (stderr += d))
  const kill = setTimeout(() => child.kill('SIGTERM'), timeoutMs)
  const ended = new Promise<Ended>((done) =>
    child.on('close', (code) => {
      clearTimeout(kill)
      done({ code, stdout, stderr })
    }),
  )
  return {
    child,
    ended,
    events,
    async next(match, ms = 30_000) {
      await waitFor(() => `a matching event from stoop ${args[0]}; got ${JSON.stringify(events.slice(-3))} ${stderr}`, () => events.some(match), ms)
      return events.find(match)!
    },
  }
}

export function runStoop(args: string[], timeoutMs = 60_000): Promise<Ended> {
  return startStoop(args, timeoutMs).ended
}

/** A stdout line as a JSON object, or null (text output; a test reading events then fails on what is missing). */
function jsonLine(line: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(line)
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null
  } catch (err) {
    void err
    return null
  }
}
