/** Stopping the child processes tests and benches fork (headless peers, relays, listener batches). */
import type { ChildProcess } from 'node:child_process'

/** How long a child gets to exit on its own before SIGKILL. */
const STOP_GRACE_MS = 10_000

/** Over IPC where the child still listens ({type: 'stop'}); a child that cannot be asked is killed. */
export function askToStop(proc: ChildProcess): void {
  if (proc.connected) proc.send({ type: 'stop' })
  else proc.kill('SIGKILL')
}

/** Asks `proc` to stop and resolves once it exited (at once if it already had); SIGKILL after 10 s. */
export function stopChild(proc: ChildProcess, ask: (proc: ChildProcess) => void = askToStop): Promise<void> {
  return new Promise<void>((done) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return done()
    const kill = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS)
    proc.once('exit', () => {
      clearTimeout(kill)
      done()
    })
    ask(proc)
  })
}
