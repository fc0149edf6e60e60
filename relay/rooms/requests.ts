/**
 * What a welcomed /relay connection may ask of its room: publish (its offer,
 * answered by the forwarder), unpublish, subscribe (live or standby),
 * unsubscribe, and answer (its side of the relay's renegotiation offers).
 * Refusals carry the room's reason; the connection stays open.
 */
import type { ClientMessage } from '../../src/net/relay-protocol.ts'
import type { Logger } from '../log.ts'
import { refuse, type Conn } from './conn.ts'
import type { RelayRoom } from './room.ts'

export interface RequestOptions {
  log: Logger
  rejected(reason: 'room-full' | 'unexpected'): void
}

export async function serveRequest(conn: Conn, room: RelayRoom, msg: ClientMessage, opts: RequestOptions): Promise<void> {
  // A sync-only connection carries no media: what it asks would act on the key's other connection.
  if (conn.syncOnly && msg.type !== 'member') {
    opts.rejected('unexpected')
    if (msg.type === 'publish' || msg.type === 'subscribe' || msg.type === 'answer') refuse(conn, msg.type, 'too-early', 'a sync-only connection carries no media')
    return
  }
  switch (msg.type) {
    case 'publish': {
      const r = await room.publish(conn, msg.sdp)
      if (r.ok) conn.send({ type: 'published', sdp: r.sdp })
      else {
        if (r.reason === 'not-speaker' || r.reason === 'banned') opts.log.info('publish refused', { room: conn.discovery.slice(0, 12), key: conn.key, why: r.message })
        refuse(conn, 'publish', r.reason, r.message)
      }
      return
    }
    case 'unpublish':
      return room.unpublish(conn)
    case 'subscribe': {
      const r = room.subscribe(conn, msg.standby === true)
      if (r.ok) conn.send({ type: 'subscribed' })
      else {
        if (r.reason === 'room-full') opts.rejected('room-full') // a ban is counted by the room
        refuse(conn, 'subscribe', r.reason, r.message)
      }
      return
    }
    case 'unsubscribe':
      await room.unsubscribe(conn)
      return conn.send({ type: 'unsubscribed' })
    case 'answer': {
      const r = await room.answer(conn, msg.sdp)
      if (!r.ok) refuse(conn, 'answer', r.reason, r.message)
      return
    }
    case 'member':
      return room.epochs.answer(conn, room.state, msg.sig, msg.vouch)
    default:
      opts.rejected('unexpected') // a confused but authenticated client: drop the frame, keep it
  }
}
