import { describe, expect, it } from 'vitest'
import { mungeOpus, parseFmtp, readOpusFmtp, VOICE_OPUS } from '../../../src/net/opus.ts'

// Trimmed from a real @roamhq/wrtc offer (libwebrtc), audio + data.
const LIBWEBRTC = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 0.0.0.0',
  'a=mid:0',
  'a=sendrecv',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:110 telephone-event/48000',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'a=mid:1',
  'a=sctp-port:5000',
  '',
].join('\r\n')

// Firefox style: different payload type, existing stereo=1 and a ptime line.
const FIREFOX = [
  'v=0',
  'o=mozilla...THIS_IS_SDPARTA-99.0 1 0 IN IP4 0.0.0.0',
  's=-',
  't=0 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8',
  'a=rtpmap:109 opus/48000/2',
  'a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1',
  'a=ptime:60',
  'a=rtpmap:9 G722/8000/1',
  'm=video 9 UDP/TLS/RTP/SAVPF 120',
  'a=rtpmap:120 VP8/90000',
  'a=fmtp:120 max-fs=12288;max-fr=60',
].join('\n')

describe('mungeOpus', () => {
  it('sets voice defaults on libwebrtc SDP, keeps existing params and other codecs', () => {
    const out = mungeOpus(LIBWEBRTC)
    expect(out).toContain('a=fmtp:111 minptime=10;useinbandfec=1;stereo=0;sprop-stereo=0;usedtx=1;maxaveragebitrate=32000\r\n')
    expect(out).toContain('a=fmtp:63 111/111\r\n')
    expect(out).toContain('a=ptime:20\r\n')
    expect(readOpusFmtp(out)).toEqual({ minptime: '10', useinbandfec: '1', stereo: '0', 'sprop-stereo': '0', usedtx: '1', maxaveragebitrate: '32000' })
    // Only the audio section changed; the data section and line endings are intact.
    expect(out.split('m=application')[1]).toBe(LIBWEBRTC.split('m=application')[1])
    expect(out.endsWith('\r\n')).toBe(true)
    expect(out.split('\r\n').every((l) => !l.includes('\n'))).toBe(true)
  })

  it('overrides conflicting values in place, replaces ptime, leaves video alone (LF SDP)', () => {
    const out = mungeOpus(FIREFOX, { maxAverageBitrate: 24000 })
    expect(out).toContain('a=fmtp:109 maxplaybackrate=48000;stereo=0;useinbandfec=1;sprop-stereo=0;usedtx=1;maxaveragebitrate=24000\n')
    expect(out.match(/a=ptime:/g)).toHaveLength(1)
    expect(out).toContain('a=ptime:20')
    expect(out).toContain('a=fmtp:120 max-fs=12288;max-fr=60')
    expect(out.includes('\r')).toBe(false)
    expect(out.endsWith('max-fr=60')).toBe(true)
  })

  it('adds an fmtp line when opus has none', () => {
    const sdp = 'v=0\r\nm=audio 9 RTP/AVP 96\r\na=rtpmap:96 OPUS/48000/2\r\na=sendrecv\r\n'
    const out = mungeOpus(sdp, { dtx: false, fec: false, stereo: true })
    expect(out).toBe('v=0\r\nm=audio 9 RTP/AVP 96\r\na=rtpmap:96 OPUS/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1;usedtx=0;useinbandfec=0;maxaveragebitrate=32000\r\na=sendrecv\r\na=ptime:20\r\n')
  })

  it('is idempotent and leaves SDP without opus untouched', () => {
    const once = mungeOpus(LIBWEBRTC)
    expect(mungeOpus(once)).toBe(once)
    const noOpus = 'v=0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'
    expect(mungeOpus(noOpus)).toBe(noOpus)
    expect(mungeOpus('')).toBe('')
  })

  it('rejects invalid parameters with a code', () => {
    expect(() => mungeOpus(LIBWEBRTC, { maxAverageBitrate: 1000 })).toThrow(expect.objectContaining({ code: 'invalid-opus-params' }))
    expect(() => mungeOpus(LIBWEBRTC, { ptimeMs: 25 })).toThrow(expect.objectContaining({ code: 'invalid-opus-params' }))
  })

  it('defaults are the documented voice settings', () => {
    expect(VOICE_OPUS).toEqual({ maxAverageBitrate: 32000, stereo: false, dtx: true, fec: true, ptimeMs: 20 })
    expect(parseFmtp(' a=1; b ;;c=x=y')).toEqual([['a', '1'], ['b', ''], ['c', 'x=y']])
  })
})
