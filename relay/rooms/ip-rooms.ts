/**
 * Rooms per IP address: the distinct rooms the open /relay connections from
 * one address have asked for (at `hello`, before any work is done for them).
 * With the per-address connection cap and the registry making idle rooms give
 * way, one address can hold at most `max` of the relay's room places.
 */
import type { WsConn } from '../ws-endpoint.ts'

export class IpRooms {
  readonly max: number
  readonly #byIp = new Map<string, Map<string, number>>()
  readonly #entered = new WeakMap<WsConn, string>()

  constructor(max: number) {
    this.max = max
  }

  /** Counts `conn` in `room`; false (nothing counted) when its address is in `max` other rooms already. */
  enter(conn: WsConn, room: string): boolean {
    if (this.#entered.has(conn)) return true
    const rooms = this.#byIp.get(conn.ip) ?? new Map<string, number>()
    if (!rooms.has(room) && rooms.size >= this.max) return false
    rooms.set(room, (rooms.get(room) ?? 0) + 1)
    this.#byIp.set(conn.ip, rooms)
    this.#entered.set(conn, room)
    return true
  }

  /** `conn` closed. */
  leave(conn: WsConn): void {
    const room = this.#entered.get(conn)
    if (room === undefined) return
    this.#entered.delete(conn)
    const rooms = this.#byIp.get(conn.ip)
    const left = (rooms?.get(room) ?? 1) - 1
    if (left > 0) rooms!.set(room, left)
    else rooms?.delete(room)
    if (rooms?.size === 0) this.#byIp.delete(conn.ip)
  }
}
