/**
 * The relay process: one HTTP server that serves the PWA and the relay API.
 * Parts (signalling, SFU, swarm) attach to it; this file only composes them.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { send, staticFiles } from './http.ts'
import type { Logger } from './log.ts'
import { createMetrics, METRICS_CONTENT_TYPE, type Metrics } from './metrics.ts'
import { attachSignalling } from './signalling.ts'

export interface RelayOptions {
  port: number
  host: string
  /** Folder with the built PWA. */
  dist?: string
  log: Logger
}

export interface Relay {
  /** Counters and gauges of every part, served on /metrics. */
  readonly metrics: Metrics
  readonly server: Server
  /** http://host:port as actually bound (port 0 picks a free one). */
  readonly url: string
  close(): Promise<void>
}

const DEFAULT_DIST = fileURLToPath(new URL('../dist', import.meta.url))

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const files = staticFiles(opts.dist ?? DEFAULT_DIST)
  const metrics = createMetrics()
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/healthz') return send(res, 200, JSON.stringify({ ok: true }), 'application/json')
    if (path === '/metrics') return send(res, 200, metrics.render(), METRICS_CONTENT_TYPE)
    files(req, res).catch((err: unknown) => {
      opts.log.error('static file failed', { err: String(err) })
      if (!res.headersSent) send(res, 500, 'internal error')
      else res.destroy()
    })
  })
  const signalling = attachSignalling(server, { path: '/signal', log: opts.log, metrics })
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(opts.port, opts.host, () => ok())
  })
  const { port } = server.address() as AddressInfo
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? 'localhost' : opts.host
  const url = `http://${host}:${port}`
  opts.log.info('relay listening', { url })
  return {
    server,
    url,
    metrics,
    close: async () => {
      await signalling.close()
      await new Promise<void>((ok) => {
        server.closeAllConnections()
        server.close(() => ok())
      })
    },
  }
}
