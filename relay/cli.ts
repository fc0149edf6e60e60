/**
 * The `stoop` command: `stoop relay`, `stoop peer`, `stoop room create`.
 * Returns an exit code instead of exiting so tests can call it in-process.
 */
import { parseArgs } from 'node:util'
import { createLogger, type Level } from './log.ts'
import { startRelay } from './server.ts'

const USAGE = `Usage:
  stoop relay [--port 8787] [--host 127.0.0.1] [--log-level info]
  stoop --help`

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'relay':
        return await relay(rest)
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
    return 1
  }
}

async function relay(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: process.env.STOOP_PORT ?? '8787' },
      host: { type: 'string', default: process.env.STOOP_HOST ?? '127.0.0.1' },
      'log-level': { type: 'string', default: process.env.STOOP_LOG_LEVEL ?? 'info' },
    },
  })
  const log = createLogger(values['log-level'] as Level)
  const relay = await startRelay({ port: Number(values.port), host: values.host!, log })
  process.stdout.write(`Stoop is running at ${relay.url}\n`)
  await new Promise<void>((done) => {
    const stop = () => done()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  log.info('shutting down')
  await relay.close()
  return 0
}
