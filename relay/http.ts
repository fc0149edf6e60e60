/**
 * Static file server for the built PWA (dist/) plus the relay's small HTTP API.
 * Unknown paths fall back to index.html: room routes live in the URL fragment,
 * so every navigation is the app shell.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, normalize, resolve } from 'node:path'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.wav': 'audio/wav',
}

export type Route = (req: IncomingMessage, res: ServerResponse) => boolean

/** Serves files below `root`; never outside it. */
export function staticFiles(root: string): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const base = resolve(root)
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    let path = normalize(join(base, decodeURIComponent(url.pathname)))
    if (!path.startsWith(base)) return send(res, 400, 'bad path')
    let info = await stat(path).catch(() => null)
    if (info?.isDirectory()) {
      path = join(path, 'index.html')
      info = await stat(path).catch(() => null)
    }
    if (!info) {
      path = join(base, 'index.html')
      info = await stat(path).catch(() => null)
      if (!info) return send(res, 503, 'The app is not built: run `npm run build` (npm start does it for you).')
    }
    const type = TYPES[extname(path)] ?? 'application/octet-stream'
    // Hashed assets can be cached forever; the shell and service worker must revalidate.
    const immutable = path.includes(`${join(base, 'assets')}`)
    res.writeHead(200, {
      'content-type': type,
      'content-length': info.size,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    })
    createReadStream(path).pipe(res)
  }
}

export function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type })
  res.end(body)
}
