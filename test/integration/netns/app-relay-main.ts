/**
 * The relay for a lab test that opens the app in a browser: `stoop relay` as the lab runs it
 * (its address, port 8787, STUN on the default port, warnings only), serving a build of the
 * app the test made in its own folder. `stoop relay` always serves the repository's dist/,
 * which another build may be rewriting, or which a fresh clone does not have yet.
 *
 *   node --import tsx app-relay-main.ts '{"host": "10.77.0.1", "dist": "/tmp/…/dist"}'
 *
 * Prints the same banner line; closes on SIGTERM as the CLI does.
 */
import { startRelay } from '../../../relay/server.ts'
import { createLogger } from '../../../relay/log.ts'
import { DEFAULT_STUN_PORT } from '../../../src/net/ice.ts'

const { host, dist } = JSON.parse(process.argv[2] ?? '{}') as { host: string; dist: string }
const log = createLogger('warn')
const relay = await startRelay({ host, port: 8787, dist, log, stun: { port: DEFAULT_STUN_PORT } })
process.stdout.write(`Stoop is running at ${relay.url}\n`)
await new Promise((done) => process.once('SIGTERM', done))
await relay.close()
// As src/cli/stoop.js: @roamhq/wrtc can crash in its native teardown when the loop drains.
process.exit(0)
