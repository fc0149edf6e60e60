/**
 * Relays a person adds in the settings, besides the relay that served the page. Browsers
 * have no hyperswarm to find relays (docs/relay.md): the serving relay comes first, then
 * these, in order; the relay path fails over along the list and keeps the next one on
 * standby, and cascaded relays of one room carry each other's speakers.
 *
 * Rules (pure; a refused entry names its problem in one line, `bad-relay-url`):
 * - `wss://` anywhere; `ws://` only to this machine (localhost, 127.0.0.0/8, [::1]): a
 *   plain WebSocket elsewhere would show the relay path's traffic to the network, and
 *   an https page may not open one anyway (mixed content).
 * - no user name or password and no #fragment in the URL; at most MAX_RELAY_URL chars.
 * - a URL without a path means the relay's `/relay` endpoint.
 */
import { CodedError } from '../base/errors.ts'

export const MAX_RELAYS = 8
export const MAX_RELAY_URL = 300

export class RelayUrlError extends CodedError<'bad-relay-url'> {
  constructor(message: string) {
    super('bad-relay-url', message)
  }
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i

/** The relay's `/relay` WebSocket URL for what a person typed; throws RelayUrlError. */
export function parseRelayUrl(text: string): string {
  const t = text.trim()
  if (!t) throw new RelayUrlError('Enter a relay address, like wss://relay.example.org.')
  if (t.length > MAX_RELAY_URL) throw new RelayUrlError(`A relay address has at most ${MAX_RELAY_URL} characters.`)
  let url: URL
  try {
    url = new URL(t)
  } catch (err) {
    void err // the message below says what a relay address looks like
    throw new RelayUrlError(`“${t}” is not an address. Relay addresses look like wss://relay.example.org.`)
  }
  if (url.protocol === 'https:' || url.protocol === 'http:') throw new RelayUrlError(`Use wss:// for a relay (wss://${url.host}${url.pathname === '/' ? '' : url.pathname}).`)
  if (url.protocol !== 'wss:' && url.protocol !== 'ws:') throw new RelayUrlError('A relay address starts with wss://.')
  if (url.protocol === 'ws:' && !LOOPBACK.test(url.hostname)) throw new RelayUrlError('Unencrypted ws:// is only for a relay on this device (ws://localhost). Use wss://.')
  if (url.username || url.password) throw new RelayUrlError('A relay address carries no user name or password.')
  if (url.hash) throw new RelayUrlError('A relay address has no # part.')
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/relay'
  return url.toString()
}

/** The relays a session uses: the serving relay first, then the listed ones (bad or repeated entries dropped). */
export function relayUrlsFor(serving: string, listed: readonly string[] | undefined): string[] {
  const out = [serving]
  for (const entry of (listed ?? []).slice(0, MAX_RELAYS)) {
    let url: string
    try {
      url = parseRelayUrl(entry)
    } catch (err) {
      void err // stored by an older version or edited by hand: skipped, the room still opens
      continue
    }
    if (!out.includes(url)) out.push(url)
  }
  return out
}

/** The settings' list with `text` added; throws RelayUrlError for a bad, repeated or one-too-many entry. */
export function addRelay(list: readonly string[], text: string): string[] {
  const url = parseRelayUrl(text)
  if (list.includes(url)) throw new RelayUrlError('That relay is already in the list.')
  if (list.length >= MAX_RELAYS) throw new RelayUrlError(`At most ${MAX_RELAYS} relays; remove one first.`)
  return [...list, url]
}
