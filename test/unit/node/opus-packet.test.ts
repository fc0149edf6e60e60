import { describe, expect, it } from 'vitest'
import { opusPacketSamples } from '../../../src/node/opus-packet.ts'

describe('opusPacketSamples', () => {
  it('reads the duration from the TOC byte (RFC 6716 §3.1)', () => {
    expect(opusPacketSamples(Uint8Array.of(0b01001_0_00, 1))).toBe(960) // SILK WB 20 ms, one frame
    expect(opusPacketSamples(Uint8Array.of(0b01111_0_00))).toBe(960) // hybrid FB 20 ms
    expect(opusPacketSamples(Uint8Array.of(0b11111_0_01))).toBe(1920) // CELT 20 ms, two frames
    expect(opusPacketSamples(Uint8Array.of(0b10000_0_00))).toBe(120) // CELT 2.5 ms
    expect(opusPacketSamples(Uint8Array.of(0b00011_0_11, 2))).toBe(5760) // SILK 60 ms x 2
  })

  it('answers null for what no Opus packet can be', () => {
    expect(opusPacketSamples(new Uint8Array(0))).toBeNull()
    expect(opusPacketSamples(Uint8Array.of(0b00011_0_11, 3))).toBeNull() // 180 ms
    expect(opusPacketSamples(Uint8Array.of(0b00011_0_11, 0))).toBeNull() // zero frames
    expect(opusPacketSamples(Uint8Array.of(0b00011_0_11))).toBeNull() // count byte missing
    expect(opusPacketSamples(new Uint8Array(5000))).toBeNull()
  })
})
