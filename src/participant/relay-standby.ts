/**
 * A RelayPath's failover reserve (relay-path.ts): while the path is ready, a second relay of
 * its list is kept connected, authenticated and subscribed on standby (its media connection
 * negotiated, nothing forwarded). Failing over to it is one message: no WebSocket, no ICE, no
 * DTLS to set up at the moment a relay dies, when every one of its listeners arrives at the
 * other relay together. Measured before this (40 listeners, two relays, one killed): 20
 * listeners took 8-17 s to hear again, most of it the surviving relay handshaking 20
 * connections at once.
 *
 * The room log goes to the standby's relay once. A relay with no epoch of the room yet (one
 * only standbys use, like a relay added in the settings) serves a connection nothing, its
 * standby subscription included, until it proves the room's current epoch, which the relay
 * learns only from a log (relay/rooms/epoch-gate.ts); its sync step 1 asks for it. The push is
 * doc only (a reserve does not make us present there) and ends once the relay answered our
 * step 1 (it served us): kept, every listener would send that relay each update of the room,
 * checked there once per listener. What the room wrote since goes when it takes over: the
 * relay answers the new sync's step 1 but asks for nothing again.
 *
 * Invariants: the tracks it negotiated are kept, not played, until it takes over; `close()`
 * ends the push and the connection.
 */
import * as Y from 'yjs'
import { attachSync, encodeStep2Messages, type SyncAttachment, type SyncStats, type UpdateGate } from '../net/sync.ts'
import type { RelayClient } from '../net/relay-client.ts'

/** What the path uses of a RelayClient. */
export type RelayPathClient = Pick<RelayClient, 'connect' | 'subscribe' | 'publish' | 'unpublish' | 'destroy' | 'link' | 'on'> & Partial<Pick<RelayClient, 'roomOnRelay' | 'connections'>>

/** The room doc as the standby syncs it. */
export interface StandbyDoc {
  doc: Y.Doc
  acceptUpdate: UpdateGate
  syncStats: SyncStats
}

export class RelayStandby {
  /** Subscribed on standby: ready to take over. */
  ready = false
  /** Tracks it has negotiated, announced when it takes over. */
  readonly tracks = new Map<MediaStreamTrack, { id: string; stream: MediaStream | null }>()
  #push: SyncAttachment | null = null
  /** Our doc's state vector when the relay answered the push: it holds at least that much. */
  #pushed: Uint8Array | null = null
  #closed = false

  constructor(
    readonly client: RelayPathClient,
    /** Its relay's place in the path's list. */
    readonly index: number,
    readonly room: StandbyDoc,
  ) {}

  /** Connected: pushes the log and subscribes on standby (rejects when the relay refuses). */
  async subscribe(): Promise<void> {
    if (this.#closed) return
    this.#pushLog()
    await this.client.subscribe({ standby: true })
    if (!this.#closed) this.ready = true
  }

  /** It takes over: the push ends, and its relay is sent what the room wrote since it answered the push. */
  takeOver(): void {
    this.#endPush()
    if (this.#pushed) for (const message of encodeStep2Messages(this.room.doc, this.#pushed)) this.client.link.send(message)
  }

  close(): void {
    this.#closed = true
    this.#endPush()
    this.client.destroy()
  }

  #pushLog(): void {
    const { doc, acceptUpdate, syncStats: stats } = this.room
    this.#push = attachSync(doc, null, this.client.link, {
      acceptUpdate,
      stats,
      onSynced: () => {
        this.#pushed = Y.encodeStateVector(doc)
        this.#endPush()
      },
    })
  }

  #endPush(): void {
    this.#push?.()
    this.#push = null
  }
}
