/** Words for the connection state and per-peer link quality. */
import type { E2eeStatus, PeerRow, RoomMode } from '../../app/types.ts'

export const MODE_TEXT: Record<RoomMode, { short: string; long: string }> = {
  mesh: { short: 'Direct', long: 'direct to everyone (mesh)' },
  relay: { short: 'Relay', long: 'through a relay' },
  connecting: { short: 'Connecting…', long: 'connecting' },
  reconnecting: { short: 'Reconnecting…', long: 'reconnecting after a network change' },
  offline: { short: 'Offline', long: 'offline' },
}

export function peerStats(p: PeerRow): string {
  const parts: string[] = [p.via === 'mesh' ? 'direct' : 'via relay']
  if (p.rttMs !== undefined) parts.push(`${Math.round(p.rttMs)} ms`)
  if (p.lossPct !== undefined) parts.push(`${p.lossPct.toFixed(1)}% loss`)
  if (p.jitterMs !== undefined) parts.push(`${Math.round(p.jitterMs)} ms jitter`)
  if (p.undecryptable) parts.push(`${p.undecryptable} audio frames failed to decrypt`)
  return parts.join(' · ')
}

/** One line on end-to-end encryption for the connection panel. */
export function e2eeText(e: E2eeStatus): string {
  if (!e.on) return 'Audio is not end-to-end encrypted in this session.'
  const failed = e.undecryptable ? ` ${e.undecryptable} audio ${e.undecryptable === 1 ? 'frame' : 'frames'} failed to decrypt and ${e.undecryptable === 1 ? 'was' : 'were'} dropped.` : ''
  return `Audio is end-to-end encrypted: relays forward it without being able to hear it.${failed}`
}

/** Rejected-entry counts as sorted [reason, count] rows, biggest first. */
export function rejectedRows(rejected: Record<string, number>): [string, number][] {
  return Object.entries(rejected).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
}
