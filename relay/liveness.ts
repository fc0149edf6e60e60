/**
 * Dead-socket detection shared by the WebSocket endpoints: every interval each
 * connection that was not heard from gets a ping; one still silent a whole
 * interval after its ping is dead. `heard` is set by the endpoint on any frame
 * or pong.
 */
export interface Pingable {
  heard: boolean
  pinged: boolean
  ws: { ping(): void; terminate(): void }
}

/** Starts the sweep; returns the function that stops it. The timer never keeps the process alive. */
export function startPinger<C extends Pingable>(conns: Iterable<C>, intervalMs: number, onDead: (conn: C) => void): () => void {
  const timer = setInterval(() => {
    for (const conn of conns) {
      if (conn.heard) {
        conn.heard = false
        conn.pinged = false
      } else if (conn.pinged) {
        onDead(conn)
        conn.ws.terminate()
      } else {
        conn.pinged = true
        conn.ws.ping()
      }
    }
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
