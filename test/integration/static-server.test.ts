/**
 * The relay's static file server against path tricks (issue 12): a real relay
 * on loopback serving a `dist` folder that has a sibling (`dist-old`) and a
 * parent holding files nobody should read over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request, type IncomingHttpHeaders } from 'node:http'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRelay, type Relay } from '../../relay/server.ts'
import { silentLogger } from '../../relay/log.ts'

const SHELL = '<!doctype html><title>shell</title>'
const SECRET = 'sibling secret'
const PARENT_SECRET = 'parent secret'

let dir: string
let relay: Relay
let port: number

/** A raw GET: the path goes on the wire exactly as written (fetch would normalize it). */
function get(path: string): Promise<{ status: number; body: string }> {
  return getWithHeaders(path).then(({ status, body }) => ({ status, body }))
}

function getWithHeaders(path: string): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stoop-static-'))
  await mkdir(join(dir, 'dist', 'assets'), { recursive: true })
  await mkdir(join(dir, 'dist-old'), { recursive: true })
  await writeFile(join(dir, 'dist', 'index.html'), SHELL)
  await writeFile(join(dir, 'dist', 'assets', 'app.js'), 'console.log(1)')
  await writeFile(join(dir, 'dist-old', 'x'), SECRET)
  await writeFile(join(dir, 'secret.txt'), PARENT_SECRET)
  relay = await startRelay({ port: 0, host: '127.0.0.1', log: silentLogger, dist: join(dir, 'dist') })
  port = Number(new URL(relay.url).port)
})

afterAll(async () => {
  await relay?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('static files', () => {
  it('serves the app and its assets', async () => {
    expect(await get('/')).toEqual({ status: 200, body: SHELL })
    expect(await get('/assets/app.js')).toEqual({ status: 200, body: 'console.log(1)' })
    expect(await get('/some/room/route')).toEqual({ status: 200, body: SHELL })
  })

  it('attack: an encoded ../ never reaches a sibling folder whose name starts with the served one', async () => {
    for (const path of ['/..%2Fdist-old%2Fx', '/%2E%2E%2Fdist-old%2Fx', '/assets/..%2F..%2Fdist-old%2Fx', '/..%5Cdist-old%5Cx']) {
      const res = await get(path)
      expect(res.body, path).not.toContain(SECRET)
      expect([400, 200], path).toContain(res.status)
    }
  })

  it('attack: nothing above the served folder is read', async () => {
    for (const path of ['/..%2Fsecret.txt', '/../secret.txt', '/assets/..%2F..%2Fsecret.txt', '/%2e%2e/%2e%2e/secret.txt']) {
      const res = await get(path)
      expect(res.body, path).not.toContain(PARENT_SECRET)
    }
  })

  it('answers 400 to a path that does not decode, and keeps serving', async () => {
    expect((await get('/%E0%A4%A')).status).toBe(400)
    expect((await get('/a%00b')).status).not.toBe(500)
    expect(await get('/')).toEqual({ status: 200, body: SHELL })
  })

  it('sends a strict Content-Security-Policy, nosniff and no referrer with the app, its assets and refusals', async () => {
    for (const path of ['/', '/assets/app.js', '/some/room/route', '/%E0%A4%A']) {
      const { headers } = await getWithHeaders(path)
      expect(headers['x-content-type-options'], path).toBe('nosniff')
      expect(headers['referrer-policy'], path).toBe('no-referrer')
      const csp = new Map(String(headers['content-security-policy']).split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]))
      expect(csp.get('default-src'), path).toEqual(["'self'"])
      expect(csp.get('script-src'), path).toEqual(["'self'"])
      expect(csp.get('worker-src'), path).toEqual(["'self'"])
      expect(csp.get('style-src'), path).toEqual(["'self'"])
      // Relays the user adds in settings are on any host, over WebSocket only (blob: is the page's own recordings).
      expect(csp.get('connect-src'), path).toEqual(["'self'", 'ws:', 'wss:', 'blob:'])
      expect(csp.get('media-src'), path).toEqual(["'self'", 'blob:'])
      expect(csp.get('img-src'), path).toEqual(["'self'", 'data:', 'blob:'])
      expect(csp.get('object-src'), path).toEqual(["'none'"])
      expect(csp.get('base-uri'), path).toEqual(["'none'"])
      expect(csp.get('frame-ancestors'), path).toEqual(["'none'"])
      expect([...csp.values()].flat().filter((v) => /unsafe|\*/.test(v)), path).toEqual([])
    }
  })
})
