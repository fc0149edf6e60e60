/**
 * Static file server for the built PWA (dist/) plus the relay's small HTTP API.
 * Unknown paths fall back to index.html: room routes live in the URL fragment,
 * so every navigation is the app shell.
 *
 * Invariant: a request is answered from a file inside the served folder or not
 * at all. The decoded path is resolved first, then checked to lie inside the
 * folder by its relative path (a prefix test let `/..%2Fdist-old%2Fx` read the
 * sibling `dist-old`); a path that does not decode is a 400.
 *
 * Every answer carries `SECURITY_HEADERS`: a Content-Security-Policy fitted to
 * the built app (dist/ has no inline script or style; Svelte sets styles
 * through the CSSOM, which style-src does not govern), nosniff, and no
 * referrer (a room link's fragment never leaves in a Referer anyway, but
 * its path need not either).
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path'

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

/**
 * What the app may load: its own scripts, module worker (SFrame) and styles; WebSockets to any
 * host (the relays and signalling servers a user adds in settings); its recordings (blob: URLs,
 * which only this origin can make, so reading them back is no way out); QR codes and icons from
 * data:/blob:. No plugins, no <base>, no framing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self'",
  "connect-src 'self' ws: wss: blob:",
  "media-src 'self' blob:",
  "img-src 'self' data: blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ')

export const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const

export type Route = (req: IncomingMessage, res: ServerResponse) => boolean

/** Serves files below `root`; never outside it. */
export function staticFiles(root: string): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const base = resolve(root)
  return async (req, res) => {
    let path = inside(base, req.url ?? '/')
    if (path === null) return send(res, 400, 'bad path')
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
    const immutable = path.startsWith(join(base, 'assets') + sep)
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': type,
      'content-length': info.size,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    })
    // The file may vanish between stat and read: an unhandled stream error would end the process.
    createReadStream(path)
      .on('error', () => res.destroy())
      .pipe(res)
  }
}

/** The file `url` names below `base`, or null when it does not decode or leaves `base`. */
function inside(base: string, url: string): string | null {
  let decoded: string
  try {
    decoded = decodeURIComponent(new URL(url, 'http://localhost').pathname)
  } catch {
    return null // malformed percent-encoding
  }
  if (decoded.includes('\0')) return null
  const path = resolve(base, `.${sep}${decoded}`)
  const rel = relative(base, path)
  if (rel === '') return path
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? null : path
}

export function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type })
  res.end(body)
}
