/**
 * The parts of the WebSocket API our clients use, so the browser's WebSocket and
 * Node's `ws` both fit and tests can pass a fake: text frames for signalling
 * (signal-client.ts), text and binary frames with back-pressure for the relay
 * (relay-socket.ts). Kept in one place so the two shapes stay side by side.
 */

/** The subset of the WebSocket API signal-client.ts uses; the browser's WebSocket and `ws` both fit. */
export interface WebSocketLike extends WebSocketHandlers {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
}

/** Setter-typed handlers: we only assign them, so any event type with these fields fits (browser and `ws`). */
export interface WebSocketHandlers {
  get onopen(): unknown
  set onopen(fn: ((ev: unknown) => void) | null)
  get onmessage(): unknown
  set onmessage(fn: ((ev: { data: unknown }) => void) | null)
  get onclose(): unknown
  set onclose(fn: ((ev: { code: number; reason: string }) => void) | null)
  get onerror(): unknown
  set onerror(fn: ((ev: unknown) => void) | null)
}
export type WebSocketClass = new (url: string) => WebSocketLike

/**
 * A WebSocket that also carries binary frames (the browser's, or `ws` in Node).
 * Like WebSocketLike plus binary frames and back-pressure; not derived from it
 * with Omit, which would erase the handler setters' types.
 */
export interface RelayWebSocket extends WebSocketHandlers {
  readonly readyState: number
  close(code?: number, reason?: string): void
  binaryType: string
  readonly bufferedAmount: number
  send(data: string | Uint8Array): void
}
export type RelayWebSocketClass = new (url: string) => RelayWebSocket
