/**
 * QR code for a link as SVG geometry (uqr's matrix), rendered by the share
 * sheet as a plain <path>, so no markup string is injected. Loaded on demand.
 */
import { encode } from 'uqr'

export interface QrShape {
  /** Modules per side, border included. */
  size: number
  /** One path covering every dark module (1x1 squares). */
  path: string
}

export function qrShape(text: string): QrShape {
  const { size, data } = encode(text, { ecc: 'M', border: 2 })
  let path = ''
  data.forEach((row, y) => {
    // Merge horizontal runs of dark modules into one rectangle each.
    for (let x = 0; x < row.length; x++) {
      if (!row[x]) continue
      let run = 1
      while (row[x + run]) run++
      path += `M${x} ${y}h${run}v1h-${run}z`
      x += run - 1
    }
  })
  return { size, path }
}
