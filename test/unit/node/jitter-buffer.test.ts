import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { JitterBuffer, type PlayoutUnit } from '../../../src/node/jitter-buffer.ts'

const U = 960 // 20 ms at 48 kHz

/** Packet n of a stream starting at timestamp `base`; the payload names n so tests can follow it. */
const pkt = (n: number, base = 1000) => ({ timestamp: (base + n * U) >>> 0, payload: Uint8Array.of(n & 0xff), samples: U })
const label = (u: PlayoutUnit | null): string => (u === null ? '-' : u.kind === 'conceal' ? 'c' : `${u.kind === 'fec' ? 'f' : 'p'}${u.payload[0]}`)
const pull = (jb: JitterBuffer, times: number): string => Array.from({ length: times }, () => label(jb.next())).join(' ')

describe('JitterBuffer', () => {
  it('waits for the target delay, then plays in timestamp order whatever the arrival order', () => {
    const jb = new JitterBuffer({ targetMs: 40 })
    jb.push(pkt(1))
    expect(jb.next()).toBeNull() // 20 ms buffered: not yet
    jb.push(pkt(0))
    jb.push(pkt(3))
    jb.push(pkt(2))
    expect(pull(jb, 4)).toBe('p0 p1 p2 p3')
    expect(jb.stats).toMatchObject({ queued: 4, played: 4, concealed: 0 })
  })

  it('rebuilds a single lost packet from the FEC of the next one, conceals longer holes', () => {
    const jb = new JitterBuffer({ targetMs: 40 })
    for (const n of [0, 1, 3, 7, 8]) jb.push(pkt(n))
    // 2 is lost (3 carries its FEC); 4, 5, 6 are lost: 4 and 5 concealed, 6 rebuilt from 7
    expect(pull(jb, 9)).toBe('p0 p1 f3 p3 c c f7 p7 p8')
    expect(jb.stats).toMatchObject({ fec: 2, concealed: 2, played: 5 })
  })

  it('drops duplicates and packets whose time has passed, and never plays a timestamp twice', () => {
    const jb = new JitterBuffer({ targetMs: 40, maxTargetMs: 40 })
    jb.push(pkt(0))
    expect(jb.push(pkt(0))).toBe('duplicate')
    jb.push(pkt(1))
    expect(pull(jb, 3)).toBe('p0 p1 c')
    expect(jb.push(pkt(1))).toBe('late')
    expect(jb.push(pkt(2))).toBe('late') // concealed already
    expect(jb.push(pkt(3))).toBe('queued')
    expect(pull(jb, 1)).toBe('p3')
    expect(jb.stats).toMatchObject({ duplicate: 1, late: 2 })
  })

  it('follows the 32-bit timestamp wrap', () => {
    const base = 0xffff_ffff - 2 * U
    const jb = new JitterBuffer()
    for (let n = 0; n < 6; n++) jb.push(pkt(n, base))
    expect(pull(jb, 6)).toBe('p0 p1 p2 p3 p4 p5')
    expect(jb.stats.resets).toBe(0)
  })

  it('treats a jump of more than resetAfterMs as a new source and starts over', () => {
    const jb = new JitterBuffer()
    jb.push(pkt(0))
    jb.push(pkt(1))
    expect(pull(jb, 1)).toBe('p0')
    jb.push(pkt(0, 1000 + 48_000 * 60))
    jb.push(pkt(1, 1000 + 48_000 * 60))
    expect(jb.stats.resets).toBe(1)
    expect(pull(jb, 2)).toBe('p0 p1')
  })

  it('pauses after maxConcealMs with nothing buffered (DTX, a gone sender), and starts again from fresh packets', () => {
    const jb = new JitterBuffer({ targetMs: 40, maxConcealMs: 60 })
    jb.push(pkt(0))
    jb.push(pkt(1))
    expect(pull(jb, 7)).toBe('p0 p1 c c c - -')
    jb.push(pkt(30)) // a comfort-noise packet 600 ms later, then speech again
    expect(jb.next()).toBeNull()
    jb.push(pkt(50))
    jb.push(pkt(51))
    expect(pull(jb, 2)).toBe('p50 p51') // 30 was stale: older than the target window
    expect(jb.stats.stale).toBe(1)
  })

  it('grows the delay after a late packet with one concealment that holds the playout point', () => {
    const jb = new JitterBuffer({ targetMs: 40, maxTargetMs: 100 })
    jb.push(pkt(0))
    jb.push(pkt(1))
    expect(pull(jb, 3)).toBe('p0 p1 c') // 2 is not there in time
    expect(jb.push(pkt(2))).toBe('late')
    expect(jb.stats.targetMs).toBe(60)
    expect(pull(jb, 1)).toBe('c') // stretch: 3 is still due next
    jb.push(pkt(3))
    expect(pull(jb, 1)).toBe('p3')
  })

  it('drains a buffer that stays deeper than the target, and bounds what it holds', () => {
    const jb = new JitterBuffer({ targetMs: 40, maxPackets: 20 })
    for (let n = 0; n < 30; n++) jb.push(pkt(n))
    expect(jb.stats.overflow).toBe(10)
    let played = 0
    for (let n = 30; n < 1000; n++) {
      jb.push(pkt(n))
      if (jb.next()?.kind === 'packet') played++
    }
    expect(jb.stats.drained).toBeGreaterThan(0)
    expect(jb.depthMs).toBeLessThan(40 + 3 * 20 + 1)
    expect(played + jb.stats.drained).toBeGreaterThan(950)
  })

  it('lets the target decay back after a calm spell', () => {
    const jb = new JitterBuffer({ targetMs: 40, maxTargetMs: 200 })
    jb.push(pkt(0))
    jb.push(pkt(1))
    pull(jb, 3)
    jb.push(pkt(2)) // late: target 60
    let n = 3
    for (let i = 0; i < 1200; i++) {
      jb.push(pkt(n++))
      jb.next()
    }
    expect(jb.stats.targetMs).toBe(40)
  })

  it('drops packets that start inside a longer one already played', () => {
    const jb = new JitterBuffer({ targetMs: 40 })
    jb.push({ timestamp: 0, payload: Uint8Array.of(0), samples: 2880 }) // 60 ms
    jb.push({ timestamp: 960, payload: Uint8Array.of(1), samples: 960 }) // inside it
    jb.push({ timestamp: 2880, payload: Uint8Array.of(2), samples: 960 })
    expect(pull(jb, 2)).toBe('p0 p2')
    expect(jb.stats.late).toBe(1)
  })

  it('whatever arrives (hostile timestamps and lengths), hands out only decodable units in time order', () => {
    const arrival = fc.record({ timestamp: fc.oneof(fc.integer({ min: 0, max: 40 }).map((k) => k * 960), fc.nat({ max: 0xffff_ffff })), samples: fc.constantFrom(120, 240, 480, 960, 1920, 2880, 5760) })
    fc.assert(
      fc.property(fc.array(fc.oneof(arrival, fc.constant(null)), { maxLength: 200 }), (events) => {
        const jb = new JitterBuffer({ targetMs: 40 })
        let n = 0
        for (const e of events) {
          if (e === null) {
            const u = jb.next()
            if (u) expect(u.samples > 0 && u.samples <= 5760 && u.samples % 120 === 0).toBe(true)
          } else jb.push({ timestamp: e.timestamp, payload: Uint8Array.of(n++ & 0xff), samples: e.samples })
        }
        expect(jb.depthMs).toBeGreaterThanOrEqual(0)
      }),
      { numRuns: 300 },
    )
  })
})
