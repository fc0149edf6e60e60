import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createWavStreamEncoder, decodeWav, encodeWav, WavError, wavHeader } from '../../../src/audio/wav.ts'

const code = (fn: () => unknown) => {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(WavError)
    return (e as WavError).code
  }
  return 'no error'
}

describe('wav', () => {
  it('round-trips mono and stereo', () => {
    const mono = { sampleRate: 48000, channels: 1 as const, samples: Int16Array.from([0, 1, -1, 32767, -32768]) }
    expect(decodeWav(encodeWav(mono))).toEqual(mono)
    const stereo = { sampleRate: 44100, channels: 2 as const, samples: Int16Array.from([1, 2, 3, 4]) }
    expect(decodeWav(encodeWav(stereo))).toEqual(stereo)
  })

  it('writes the canonical little-endian header', () => {
    const bytes = encodeWav({ sampleRate: 48000, channels: 1, samples: Int16Array.from([0x0102]) })
    expect(bytes).toHaveLength(46)
    expect(new TextDecoder().decode(bytes.slice(0, 4))).toBe('RIFF')
    const v = new DataView(bytes.buffer)
    expect(v.getUint32(4, true)).toBe(38)
    expect(v.getUint32(24, true)).toBe(48000)
    expect(v.getUint32(28, true)).toBe(96000)
    expect(v.getUint32(40, true)).toBe(2)
    expect([bytes[44], bytes[45]]).toEqual([0x02, 0x01])
  })

  it('skips unknown chunks, honours pad bytes and WAVE_FORMAT_EXTENSIBLE', () => {
    const base = encodeWav({ sampleRate: 8000, channels: 1, samples: Int16Array.from([7, 8]) })
    // Insert an odd-sized LIST chunk (3 bytes + pad) between fmt and data.
    const list = Uint8Array.from([0x4c, 0x49, 0x53, 0x54, 3, 0, 0, 0, 1, 2, 3, 0])
    const withList = new Uint8Array(base.length + list.length)
    withList.set(base.slice(0, 36))
    withList.set(list, 36)
    withList.set(base.slice(36), 36 + list.length)
    expect(decodeWav(withList).samples).toEqual(Int16Array.from([7, 8]))

    const ext = new Uint8Array(12 + 8 + 40 + 8 + 4)
    ext.set(base.slice(0, 12))
    const v = new DataView(ext.buffer)
    ext.set([0x66, 0x6d, 0x74, 0x20], 12)
    v.setUint32(16, 40, true)
    v.setUint16(20, 0xfffe, true)
    v.setUint16(22, 1, true)
    v.setUint32(24, 8000, true)
    v.setUint32(28, 16000, true)
    v.setUint16(32, 2, true)
    v.setUint16(34, 16, true)
    v.setUint16(20 + 24, 1, true) // SubFormat = PCM
    ext.set([0x64, 0x61, 0x74, 0x61], 60)
    v.setUint32(64, 4, true)
    v.setInt16(68, -5, true)
    v.setInt16(70, 6, true)
    expect(decodeWav(ext)).toEqual({ sampleRate: 8000, channels: 1, samples: Int16Array.from([-5, 6]) })
  })

  it('rejects malformed input with clear codes', () => {
    const good = encodeWav({ sampleRate: 48000, channels: 1, samples: new Int16Array(10) })
    expect(code(() => decodeWav(new Uint8Array(3)))).toBe('wav-too-short')
    expect(code(() => decodeWav(new TextEncoder().encode('RIFX....WAVEfmt ')))).toBe('wav-not-riff')
    expect(code(() => decodeWav(good.slice(0, 30)))).toBe('wav-bad-fmt')
    expect(code(() => decodeWav(good.slice(0, 36)))).toBe('wav-no-data')
    expect(code(() => decodeWav(good.slice(0, 50)))).toBe('wav-truncated')
    expect(decodeWav(good.slice(0, 50), { allowTruncated: true }).samples).toHaveLength(3)
    const eightBit = good.slice()
    new DataView(eightBit.buffer).setUint16(34, 8, true)
    expect(code(() => decodeWav(eightBit))).toBe('wav-unsupported-format')
    const six = good.slice()
    new DataView(six.buffer).setUint16(22, 6, true)
    expect(code(() => decodeWav(six))).toBe('wav-unsupported-format')
    const dataFirst = good.slice()
    dataFirst.set([0x64, 0x61, 0x74, 0x61], 12)
    expect(code(() => decodeWav(dataFirst))).toBe('wav-no-fmt')
    expect(code(() => decodeWav('RIFF' as unknown as Uint8Array))).toBe('wav-bad-input')
  })

  it('bounds the chunk walk', () => {
    const many = new Uint8Array(12 + 8 * 100)
    many.set(new TextEncoder().encode('RIFF\0\0\0\0WAVE'))
    for (let i = 0; i < 100; i++) many.set(new TextEncoder().encode('junk'), 12 + i * 8) // size 0 chunks
    expect(code(() => decodeWav(many))).toBe('wav-too-many-chunks')
  })

  it('never hangs or throws anything but WavError on arbitrary bytes', () => {
    const prefix = new TextEncoder().encode('RIFF\0\0\0\0WAVE')
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (tail, withPrefix) => {
        const bytes = withPrefix ? Uint8Array.from([...prefix, ...tail]) : tail
        try {
          decodeWav(bytes, { allowTruncated: true })
        } catch (e) {
          if (!(e instanceof WavError)) throw e
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('stream encoder produces the same file as encodeWav once the header is patched', () => {
    const enc = createWavStreamEncoder({ sampleRate: 48000, channels: 2 })
    const parts = [enc.start(), enc.append(Int16Array.from([1, 2, 3, 4])), enc.append(Int16Array.from([5, 6]))]
    const file = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let off = 0
    for (const p of parts) {
      file.set(p, off)
      off += p.length
    }
    // Before finish(): reads as truncated, and is recoverable.
    expect(code(() => decodeWav(file))).toBe('wav-truncated')
    expect(decodeWav(file, { allowTruncated: true }).samples).toEqual(Int16Array.from([1, 2, 3, 4, 5, 6]))
    const { offset, header } = enc.finish()
    file.set(header, offset)
    expect(file).toEqual(encodeWav({ sampleRate: 48000, channels: 2, samples: Int16Array.from([1, 2, 3, 4, 5, 6]) }))
    expect(() => enc.append(Int16Array.from([1]))).toThrow(WavError)
    expect(wavHeader({ sampleRate: 8000, channels: 1 }, 0)).toHaveLength(44)
  })
})
