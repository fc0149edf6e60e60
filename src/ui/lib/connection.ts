/** Words for the connection state and per-peer link quality. */
import type { PeerRow, RoomMode } from '../../app/types.ts'

export const MODE_TEXT: Record<RoomMode, { short: string; long: string }> = {
  mesh: { short: 'Direct', long: 'direct to everyone (mesh)' },
  relay: { short: 'Relay', long: 'through a relay' },
  connecting: { short: 'Connecting…', long: 'connecting' },
  offline: { short: 'Offline', long: 'offline' },
}

export function peerStats(p: PeerRow): string {
  const parts: string[] = [p.via === 'mesh' ? 'direct' : 'via relay']
  if (p.rttMs !== undefined) parts.push(`${Math.round(p.rttMs)} ms`)
  if (p.lossPct !== undefined) parts.push(`${p.lossPct.toFixed(1)}% loss`)
  if (p.jitterMs !== undefined) parts.push(`${Math.round(p.jitterMs)} ms jitter`)
  return parts.join(' · ')
}

/** Rejected-entry counts as sorted [reason, count] rows, biggest first. */
export function rejectedRows(rejected: Record<string, number>): [string, number][] {
  return Object.entries(rejected).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
}
