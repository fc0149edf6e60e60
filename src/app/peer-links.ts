/**
 * The connection panel's rows: one per connected peer, from its WebRTC stats
 * (round-trip time, inbound audio loss and jitter) with a coarse quality word.
 * Pure.
 */
import type { PeerStats } from '../net/peer.ts'
import type { PeerRow, Quality } from './types.ts'

/** good: < 150 ms and < 2% loss; fair: < 400 ms and < 8%; else poor. Unmeasured links count as good. */
export function quality(st: PeerStats | undefined): Quality {
  if (!st) return 'good'
  const rtt = st.rttMs ?? 0
  const loss = st.packetLoss
  if (rtt < 150 && loss < 0.02) return 'good'
  if (rtt < 400 && loss < 0.08) return 'fair'
  return 'poor'
}

export function peerLinks(
  connected: readonly string[],
  stats: ReadonlyMap<string, PeerStats>,
  nameOf: (id: string) => string,
  undecryptable: Readonly<Record<string, number>> = {},
): PeerRow[] {
  return [...connected].sort().map((id) => {
    const st = stats.get(id)
    const link: PeerRow = { id, name: nameOf(id), via: 'mesh', quality: quality(st) }
    if (undecryptable[id]) link.undecryptable = undecryptable[id]
    if (!st) return link
    if (st.rttMs !== null) link.rttMs = st.rttMs
    link.lossPct = st.packetLoss * 100
    const jitters = st.inbound.map((i) => i.jitterMs).filter((j): j is number => j !== null)
    if (jitters.length) link.jitterMs = Math.max(...jitters)
    return link
  })
}
