/**
 * The e2ee bench's page (served by Vite from source, cross-origin isolated so timers are fine):
 * hands each request to a module worker running src/media/sframe.ts, as the app's SFrame worker
 * does, and returns its answer. Driven by test/bench/e2ee-chromium.ts through `window.e2eeBench`.
 */
import type { Reply, Request } from './worker.ts'

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' })
let pending: ((r: Reply) => void) | null = null
worker.onmessage = (e: MessageEvent<Reply>) => pending?.(e.data)

;(globalThis as unknown as { e2eeBench: (req: Request) => Promise<Reply> }).e2eeBench = (req) =>
  new Promise((ok) => {
    pending = ok
    worker.postMessage(req)
  })
