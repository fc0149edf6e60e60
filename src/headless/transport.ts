/**
 * How a headless participant reaches its room's other members: WebSocket
 * signalling (the relay that served the link, or --signal) or hyperswarm
 * (--swarm), both sealed with the key derived from the room secret. Failures
 * that end the peer (unreachable signalling) go to `fail`. A wrong room key is not
 * one of them: the link's key check refuses it before we get here (invite/link.ts);
 * payloads that do not open are strangers' and are only counted.
 */
import WebSocket from 'ws'
import { keyId, toBase64url, type Identity } from '../identity/index.ts'
import type { Invite } from '../invite/index.ts'
import { deriveDiscoveryKey, epochTopic } from '../room/index.ts'
import { deriveSignalKey } from '../net/room-crypto.ts'
import { SignalClient, type SignalError, type WebSocketClass } from '../net/signal-client.ts'
import { WsBus } from '../net/ws-bus.ts'
import { SealedBus } from '../net/sealed-bus.ts'
import { SwitchBus } from '../net/switch-bus.ts'
import type { OpenBus } from '../participant/epoch-bus.ts'
import type { BootstrapNode } from '../node/dht.ts'
import { createSwarmBus } from '../node/swarm-bus.ts'
import { PeerFailure } from './failure.ts'
import { signallingReconnect } from '../participant/network-switch.ts'

export interface TransportOptions {
  /** WebSocket signalling URL; default: the link's host + /signal. */
  signal?: string
  /** Find peers on hyperswarm instead of signalling. */
  swarm?: { bootstrap: BootstrapNode[] }
}

export interface Transport {
  /** Signalling for the room's current epoch (moved by followEpochs). */
  bus: SwitchBus
  /** A bus on another epoch's topic and key, on the same transport. */
  open: OpenBus
  /** The network changed: a new signalling socket, resolved once it is open. Absent on hyperswarm (it finds its way itself). */
  reconnect?: () => Promise<void>
  close(): Promise<void>
}

export async function openTransport(opts: TransportOptions, invite: Invite, identity: Identity, fail: (err: PeerFailure) => void): Promise<Transport> {
  const selfId = keyId(identity.publicKey)
  // Members meet on the topic of the link's epoch (docs/room-rules.md §8; epoch 0: the discovery key).
  const discovery = invite.epoch > 0 ? epochTopic(invite.secretBytes) : deriveDiscoveryKey(invite.roomId)
  const key = await deriveSignalKey(invite.secretBytes)
  if (opts.swarm) {
    const { bootstrap } = opts.swarm
    const open: OpenBus = (topic, key) => new SealedBus(createSwarmBus({ topic, selfId, bootstrap }), key)
    const bus = new SwitchBus(open(discovery, key))
    return { bus, open, close: () => bus.destroy() }
  }
  const url = opts.signal ?? signalUrlFor(invite)
  const client = new SignalClient({ url, WebSocket: WebSocket as unknown as WebSocketClass })
  let opened = false
  client.on('open', () => (opened = true))
  client.on('error', (err: SignalError) => {
    if (err.code === 'signal-unreachable' && !opened) fail(new PeerFailure('signal-unreachable', `Cannot reach the signalling server at ${url}.`))
  })
  const open: OpenBus = (topic, key) => new WsBus({ client, topic: toBase64url(topic), key, selfId })
  const bus = new SwitchBus(open(discovery, key))
  return {
    bus,
    open,
    reconnect: signallingReconnect(client),
    close: async () => {
      await bus.destroy()
      client.destroy()
    },
  }
}

/** The relay that served the link also signals: ws(s)://<host>/signal. */
export function signalUrlFor(invite: Invite): string {
  return wsOrigin(invite) + '/signal'
}

/** ... and forwards audio past mesh size: ws(s)://<host>/relay. */
export function relayUrlFor(invite: Invite): string {
  return wsOrigin(invite) + '/relay'
}

function wsOrigin(invite: Invite): string {
  return (invite.origin ?? 'http://localhost:8787').replace(/^http/, 'ws')
}
