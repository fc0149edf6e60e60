/** Avatar colour and initials: colour from the key (stable identity), initials from the label. */

/** FNV-1a, enough to spread keys over hues. */
function hash(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** Dark enough for white initials at AA contrast (≥ 4.5:1) on every hue. */
export function avatarColour(id: string): string {
  return `hsl(${hash(id) % 360} 60% 28%)`
}

export function initials(name: string, id = ''): string {
  const words = name.trim().split(/\s+/).filter(Boolean)
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words
  const fromName = letters.map((w) => [...w!][0] ?? '').join('').toUpperCase()
  if (fromName) return fromName.slice(0, 2)
  return id.replace(/[^a-zA-Z0-9]/g, '').slice(0, 2).toUpperCase() || '?'
}

/** Name to show when a participant has not set one. */
export function displayName(name: string, fingerprint = ''): string {
  return name.trim() || (fingerprint ? `Guest ${fingerprint.slice(0, 4)}` : 'Guest')
}
