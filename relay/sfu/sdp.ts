/**
 * SDP fix-ups for werift's offers, applied to the copy sent to the subscriber.
 *
 * werift 0.24 writes port 0 for an `inactive` m-section, which marks it
 * rejected, and leaves it in the BUNDLE group. libwebrtc then refuses the offer
 * ("The m= section with mid='1' should be rejected") when that section is the
 * BUNDLE tag. Inactive is not rejected (RFC 8829 5.2.2): the section keeps
 * the discard port 9, so it can be reused for another publisher later.
 */

/** Turns `m=<kind> 0 ` back into port 9 for sections that are `a=inactive`. */
export function unrejectInactive(sdp: string): string {
  const [head, ...sections] = sdp.split(/\r\n(?=m=)/)
  return [
    head,
    ...sections.map((s) => (/\r\na=inactive(\r\n|$)/.test(s) ? s.replace(/^m=(\w+) 0 /, 'm=$1 9 ') : s)),
  ].join('\r\n')
}
